"""End to end on the local runtime: the message actions in one map
(tests/e2e/maps/messages-journey.yaml) executing with the real handlers in-process: the email
reaches a real SMTP server (aiosmtpd on 127.0.0.1), a day passes on the virtual clock, the SMS and
the call go to End User Messaging (botocore Stubber: moto lacks pinpoint-sms-voice-v2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.stub import Stubber

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from tests.conftest import ROOT
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/messages-journey.yaml"


def test_given_a_lead_in_the_messages_map_then_email_sms_and_call_each_go_out_once_in_order(runtime, tmp_path):
    map_id = runtime.stack.deploy_map(MAP).map_id
    store = ContactStore()
    lead, _ = store.upsert_by_email("lead@example.com", {"first_name": "Lea", "phone": "+14155550123"})
    store.create_enrollment(lead.id, map_id, "e_lead", {"type": "form_submitted", "form": "newsletter"})

    with SmtpServer(tmp_path) as smtp, Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        ContentStore().put("CONNECTION", "office", connections.validate(smtp.connection()).model_dump(mode="json"))
        eum.add_response("send_text_message", {"MessageId": "sms-1"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": "Hi Lea, your code is WELCOME10", "MessageType": "PROMOTIONAL"})
        eum.add_response("send_voice_message", {"MessageId": "call-1"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": "<speak>Hi Lea, welcome to the shop.</speak>", "MessageBodyTextType": "SSML",
            "VoiceId": "JOANNA"})
        runtime.start_execution(map_id, {"contact_id": lead.id, "enrollment_id": "e_lead", "map_id": map_id},
                                "messages-journey-e_lead")

        runtime.run_until_settled(until=timedelta(hours=12))      # the email, then waiting a day
        [mail] = smtp.received
        assert mail.header("Subject") == "Welcome, Lea" and mail.recipients == ["lead@example.com"]
        assert [e.kind for e in store.history(lead.id, ["sms.sent", "call.placed"])] == []

        assert runtime.run_until_settled(timeout=60)
        eum.assert_no_pending_responses()

    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    sent = {e.kind: e for e in store.history(lead.id, ["email.sent", "sms.sent", "call.placed"])}
    assert sent["email.sent"].detail["connection"] == "office"
    assert sent["sms.sent"].detail["provider"] == "end_user_messaging"
    assert sent["call.placed"].detail["call_id"] == "call-1"
    assert sent["email.sent"].at < sent["sms.sent"].at <= sent["call.placed"].at
    assert len(smtp.received) == 1
