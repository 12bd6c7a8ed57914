"""`automaps test-call`: a map step's call script, rendered for a sample or given contact and
placed to any number through the same code as make_phone_call (Stubber: moto lacks both APIs)."""

from __future__ import annotations

import json
import textwrap

import pytest
from botocore.stub import ANY, Stubber

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.store.content import ContentStore
from automaps_local.cli import main

MAP = """\
id: calls
name: Calls
triggers:
  - form_submitted: {form: newsletter}
steps:
  - id: welcome-call
    make_phone_call:
      from: "+18885550100"
      script:
        - say: "Hi {{ contact.first_name }}, welcome!"
        - hang_up
  - id: sales-call
    make_phone_call:
      connection: call-center
      record: true
      script:
        - say: "Connecting you to {{ contact.owner_name }}."
        - connect: "+14155550199"
  - id: tag
    change_tags: {add: [called]}
"""


@pytest.fixture
def maps(tmp_path):
    """GIVEN a maps folder with a map that calls."""
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "calls.yaml").write_text(textwrap.dedent(MAP))
    return folder


def command(maps, *args: str) -> list[str]:
    return ["test-call", "--to", "+14155550123", "--map", "calls", "--maps", str(maps), *args]


def test_given_a_spoken_step_when_a_test_call_is_placed_then_the_sample_contact_is_spoken_to(
        aws, clock, maps, capsys):
    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as voice:
        voice.add_response("send_voice_message", {"MessageId": "voice-test"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": "<speak>Hi Jane, welcome!</speak>", "MessageBodyTextType": "SSML", "VoiceId": "JOANNA"})
        code = main(command(maps, "--step", "welcome-call"))

    out = capsys.readouterr().out
    assert code == 0, out
    assert "test call voice-test placed to +1******0123 through end_user_messaging" in out


def test_given_a_connecting_step_and_a_contact_file_when_tested_then_connect_places_it(
        aws, clock, maps, tmp_path, capsys):
    ContentStore().put("CONNECTION", "call-center", connections.validate({
        "type": "connect", "instance_id": "i-1", "contact_flow_id": "flow-1"}).model_dump(mode="json"))
    contact = tmp_path / "jane.json"
    contact.write_text(json.dumps({"first_name": "Jane", "owner_name": "Bob & Co"}))

    with Stubber(aws_clients.client("connect")) as connect:
        connect.add_response("start_outbound_voice_contact", {"ContactId": "contact-test"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "ContactFlowId": "flow-1", "InstanceId": "i-1",
            "ClientToken": ANY,
            "Attributes": {"automaps_ssml": "<speak>Connecting you to Bob &amp; Co.</speak>",
                           "automaps_transfer_to": "+14155550199", "automaps_record": "true",
                           "automaps_voice": "JOANNA", "automaps_contact_id": "c_test_email"}})
        code = main(command(maps, "--step", "sales-call", "--contact", str(contact)))

    assert code == 0, capsys.readouterr().out


def test_given_a_field_the_sample_contact_lacks_when_tested_then_it_says_to_give_a_contact(
        aws, clock, maps, capsys):
    with Stubber(aws_clients.client("connect")):
        code = main(command(maps, "--step", "sales-call"))

    assert code == 2
    assert "contact.owner_name; give them in --contact" in capsys.readouterr().out


@pytest.mark.parametrize("step, message", [
    ("goodbye", "map 'calls' has no step 'goodbye'; its steps: welcome-call, sales-call, tag"),
    ("tag", "step 'tag' of map 'calls' is not a make_phone_call step"),
])
def test_given_a_step_that_is_not_a_call_when_tested_then_it_says_so(aws, clock, maps, capsys, step, message):
    code = main(command(maps, "--step", step))

    assert code == 2 and message in capsys.readouterr().out
