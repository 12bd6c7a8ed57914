"""`automaps explain` end to end on the local runtime: welcome-leads runs for real (form posts over
HTTP, the state machine, SES events through EventBridge, the virtual clock) and the explanation is
read back from what the journey recorded: a contact who never opened the welcome email (why not
the thank-you SMS?), one still waiting in Paris, one whose welcome email bounced, one whose second
sign-up the entry rule refused; through the layer, the CLI, `GET /_local/explain` and
`automaps explain --local` against a served backend; and a send held back by quiet hours.

The explanation of the contact who never opened is docs/examples/explain-welcome-leads.txt
(ids replaced by placeholders); ``UPDATE_EXAMPLES=1`` rewrites it, otherwise it must be current."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from automaps.journeys import explain as explaining
from automaps.store.contacts import ContactStore
from automaps_local.cli import main
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "docs" / "examples" / "explain-welcome-leads.txt"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["explain", *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def told() -> dict[str, Any]:
    """GIVEN welcome-leads on the local runtime from Monday 2026-11-23 09:00 in New York: Jane (New
    York, 52) who never opens the welcome email and signs up again four hours later, Léa (Paris)
    and Bob, whose welcome email bounces at once; what explain says on Tuesday at 09:00 in New York and
    once everything settled (one runtime for the module: the journeys take virtual days)."""
    said: dict[str, Any] = {}
    body = json.loads(load_event("form_post_json.json")["body"])
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as runtime:
        push_content(runtime)
        api = Client(LocalApi(runtime))

        def post(**fields: str) -> None:
            answer = api.post("/forms/newsletter", data=json.dumps({**body, **fields}),
                              headers={"Content-Type": "application/json"})
            assert answer.status_code == 202

        post()
        post(email="lea@example.com", first_name="Léa", timezone="Europe/Paris", phone="+33612345678")
        post(email="bob@example.com", first_name="Bob", phone="+14155550199")
        runtime.run_until_settled(until=timedelta(hours=1))
        [bounced] = [m for m in runtime.outbox()["emails"] if m["to"] == ["bob@example.com"]]
        runtime.ses_event(bounced["id"], "Bounce")
        runtime.run_until_settled(until=timedelta(hours=3))
        post(first_name="Janet")                             # still inside: the entry rule refuses it
        runtime.run_until_settled(until=timedelta(hours=20))  # Tuesday 09:00 in New York

        said["lea"] = explaining.explain(explaining.find_contact("lea@example.com") or "")
        said["lea_http"] = api.get("/_local/explain?contact=lea@example.com&why_not=nudge-email")
        said["http_unknown"] = api.get("/_local/explain?contact=nobody@example.com")
        said["http_no_contact"] = api.get("/_local/explain")
        server = make_server("127.0.0.1", 0, LocalApi(runtime), threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            said["lea_local_cli"] = cli("lea@example.com", "--local", f"http://127.0.0.1:{server.server_port}", "--json")
            said["local_unknown_step"] = cli("lea@example.com", "--why-not", "no-such-step",
                                             "--local", f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            serving.join(5)

        assert runtime.run_until_settled(timeout=120)
        jane = explaining.find_contact("+1 415 555 0134") or ""
        said["jane_id"] = jane
        said["jane"] = explaining.why_not(jane, "welcome-leads", "thank-you-sms")
        said["jane_reached"] = explaining.why_not(jane, "welcome-leads", "nudge-email")
        said["bob"] = explaining.why_not(explaining.find_contact("bob@example.com") or "", "welcome-leads",
                                         "nudge-email")
        said["cli"] = cli("jane.doe@example.com", "--why-not", "thank-you-sms")
        said["cli_json"] = cli(jane, "--map", "welcome-leads", "--json")
        said["cli_unknown"] = cli("nobody@example.com")
        said["cli_unknown_step"] = cli("jane.doe@example.com", "--why-not", "thank-you", "--map", "welcome-leads")
        said["cli_unknown_map"] = cli("jane.doe@example.com", "--why-not", "tag-lead", "--map", "no-such-map")
    return said


def test_given_a_contact_who_never_opened_when_asked_why_not_the_sms_then_the_condition_and_its_inputs_say_so(told):
    answer = told["jane"].why_not
    assert answer.verdict == "branch"
    [reason, refused] = answer.reasons
    assert ("the condition \"opened email 'welcome-email' or clicked link 'welcome-email'\" of engaged was false"
            in reason)
    assert "opened email welcome-email: no open since it was sent 2026-11-23 09:00 America/New_York -> no" in reason
    assert "so they took the else branch, not the then one" in reason
    assert refused == ("entering again was refused 2026-11-23 13:00 America/New_York: "
                       "the contact is still inside the map (entry: after_exit)")
    text = told["jane"].text()
    assert "Times in America/New_York (the contact's timezone)" in text
    assert "2026-11-25 09:00  engaged: if opened email 'welcome-email' or clicked link 'welcome-email' -> no" in text
    assert "2026-11-25 13:00  nudge-email: email sent (template nudge, to J***@example.com)" in text
    assert "Now: exited 2026-11-25 13:00 America/New_York: ran to the end of the map" in text
    assert "Jane.Doe@example.com" not in text and "+14155550134" not in text     # masked


def test_given_the_nudge_went_out_when_asked_why_not_then_it_says_it_did_reach_them_and_when(told):
    answer = told["jane_reached"].why_not
    assert (answer.verdict, answer.reached_at) == ("reached", "2026-11-25T18:00:00Z")
    assert answer.reasons[0].startswith("it did reach them at 2026-11-25 13:00 America/New_York: nudge-email: "
                                        "email sent (template nudge")


def test_given_a_contact_still_on_the_two_day_wait_then_it_says_until_when_in_their_timezone_and_what_follows(told):
    # two days after 15:00 in Paris is Wednesday 15:00; the next 09:00 there is Thursday's
    [journey] = told["lea"].maps[0].journeys
    assert journey.status == "active"
    assert journey.now == "waiting at two-days-later until 2026-11-26 09:00 Europe/Paris"
    assert journey.next == ("then engaged decides: if opened email 'welcome-email' or clicked link 'welcome-email' "
                            "-> thank-you-sms, else -> nudge-email")
    assert "Times in Europe/Paris (the contact's timezone)" in told["lea"].text()
    # the same through GET /_local/explain (why not the nudge: not yet, still waiting)
    served = told["lea_http"]
    assert served.status_code == 200
    body = served.get_json()
    assert body["why_not"]["verdict"] == "waiting"
    assert "not there yet: waiting at two-days-later until 2026-11-26 09:00 Europe/Paris" in body["why_not"]["reasons"][0]
    assert body["text"].startswith("Contact c_")


def test_given_a_served_backend_when_explain_runs_with_local_then_it_prints_what_the_backend_answers(told):
    code, out, _ = told["lea_local_cli"]
    assert code == 0
    body = json.loads(out)
    assert body["maps"][0]["journeys"][0]["now"] == "waiting at two-days-later until 2026-11-26 09:00 Europe/Paris"
    assert "text" not in body
    code, out, err = told["local_unknown_step"]
    assert (code, out) == (2, "")
    assert "no deployed map has a step 'no-such-step'" in err


def test_given_a_bounced_welcome_when_asked_why_not_the_nudge_then_it_names_the_suppression(told):
    answer = told["bob"].why_not
    assert answer.verdict == "skipped"
    assert answer.reasons[0].endswith("nudge-email: skipped: address bounced on 2026-11-23")
    assert answer.reasons[1] == ("their address is suppressed since 2026-11-23 10:00 America/New_York (bounced): "
                                 "no email is sent to it")
    assert "welcome-email: bounced (Permanent; the address is suppressed) (template welcome)" in told["bob"].text()


def test_given_the_cli_then_it_prints_the_text_finds_by_email_phone_or_id_and_refuses_unknowns_with_code_2(told):
    code, out, _ = told["cli"]
    assert code == 0 and out == told["jane"].text()
    code, out, _ = told["cli_json"]
    body = json.loads(out)
    assert (code, [m["map_id"] for m in body["maps"]]) == (0, ["welcome-leads"])
    assert [r["text"] for r in body["maps"][0]["refused"]] == ["the contact is still inside the map (entry: after_exit)"]
    assert told["cli_unknown"] == (2, "", "error: no contact has the email, phone number or id 'n***@example.com'\n")
    code, _, err = told["cli_unknown_step"]
    assert code == 2 and err.startswith("error: map 'welcome-leads' has no step 'thank-you'; its steps: tag-lead, ")
    code, _, err = told["cli_unknown_map"]
    assert code == 2 and "no map 'no-such-map' in the registry" in err
    assert told["http_unknown"].status_code == 404


def test_the_welcome_leads_example_in_the_docs_is_current(told):
    text = told["jane"].text().replace(told["jane_id"], "c_<contact>")
    text = re.sub(r"\bs_[0-9a-f]{32}\b", "s_<submission>", text)
    text = re.sub(r"\be_[0-9a-f]{24}\b", "e_<enrollment>", text)
    header = ("# automaps explain jane.doe@example.com --why-not thank-you-sms, on the local runtime\n"
              "# (tests/e2e/test_explain_journey.py; UPDATE_EXAMPLES=1 rewrites it)\n")
    if os.environ.get("UPDATE_EXAMPLES") == "1":
        EXAMPLE.parent.mkdir(parents=True, exist_ok=True)
        EXAMPLE.write_text(header + text, encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8") == header + text, "run with UPDATE_EXAMPLES=1 to regenerate"


# ------------------------------------------------------------------ quiet hours


def test_given_quiet_hours_in_tokyo_when_asked_why_not_the_welcome_then_it_is_held_back_until_8_there(runtime):
    map_id = runtime.stack.deploy_map(ROOT / "tests/e2e/maps/sending-limits-journey.yaml").map_id
    aiko, _ = ContactStore().upsert_by_email("aiko@example.com", {"first_name": "Aiko", "timezone": "Asia/Tokyo"})
    enrollment = f"e_{aiko.id}"
    ContactStore().create_enrollment(aiko.id, map_id, enrollment, {"type": "form_submitted", "form": "newsletter"})
    runtime.start_execution(map_id, {"contact_id": aiko.id, "enrollment_id": enrollment, "map_id": map_id},
                            f"explain-{enrollment}")
    runtime.run_until_settled(until=timedelta(hours=2))      # Tuesday 01:00 in Tokyo

    told = explaining.why_not(aiko.id, map_id, "welcome")

    assert told.why_not is not None and told.why_not.verdict == "deferred"
    assert told.why_not.reasons == [
        ("they entered 2026-11-23 23:00 Asia/Tokyo by the form 'newsletter'; at 2026-11-23 23:00 Asia/Tokyo "
         "welcome: held back until 2026-11-24 08:00 Asia/Tokyo: quiet hours (21:00-08:00 in the contact's timezone "
         "Asia/Tokyo)"),
        "it runs again at 2026-11-24 08:00 Asia/Tokyo"]
    [journey] = told.maps[0].journeys
    assert journey.now == ("held back at welcome until 2026-11-24 08:00 Asia/Tokyo: quiet hours (21:00-08:00 in the "
                           "contact's timezone Asia/Tokyo)")
    assert journey.next == "welcome (send_email, subject Welcome, {{ contact.first_name }}) is tried again then"


def test_given_bad_invocations_then_each_is_a_clear_message_and_no_traceback(told):
    assert told["http_no_contact"].status_code == 400
    assert told["http_no_contact"].get_json() == {"message": "pass ?contact=<email, phone or contact id>"}
    assert cli("jane@example.com", "--local", "http://127.0.0.1:1", "--stack-name", "shop") == (
        2, "", "error: give either --stack-name or --local, not both\n")
    code, out, err = cli("jane@example.com", "--local", "http://127.0.0.1:9")   # nothing listens there
    assert (code, out) == (1, "") and err.startswith("error: cannot reach automaps serve at http://127.0.0.1:9")
