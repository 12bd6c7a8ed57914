"""Numbers per map and step (automaps.journeys.stats) on the local runtime: real welcome-leads
journeys, counted by the router from the history's stream, agree with the history itself."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.test import Client

from automaps.journeys import stats
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import load_event

pytestmark = pytest.mark.slow

PEOPLE = ("ann@example.com", "bob@example.com", "cid@example.com")


def sign_up(runtime: LocalRuntime, email: str) -> None:
    body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email}
    response = Client(LocalApi(runtime)).post("/forms/newsletter", data=json.dumps(body),
                                              headers={"Content-Type": "application/json"})
    assert response.status_code == 202


def history_counts(runtime: LocalRuntime) -> Counter[tuple[str, str]]:
    """(step or "", kind) -> how many entries of welcome-leads the three contacts' histories hold."""
    found: Counter[tuple[str, str]] = Counter()
    for email in PEOPLE:
        for entry in runtime.contact(email=email)["history"]:
            if entry.get("map_id") == "welcome-leads":
                found[(entry.get("step_id") or "", entry["kind"])] += 1
    return found


@pytest.fixture
def three_contacts(runtime: LocalRuntime) -> LocalRuntime:
    """GIVEN welcome-leads pushed, three contacts signed up; ann opens the welcome email (twice),
    bob's bounces (permanently), cid does nothing; an hour later all three wait two days."""
    push_content(runtime)
    for email in PEOPLE:
        sign_up(runtime, email)
    runtime.run_until_settled(until=timedelta(hours=1))
    emails = {email["to"][0]: email for email in runtime.outbox()["emails"]}
    runtime.ses_event(emails["ann@example.com"]["id"], "Delivery")
    runtime.ses_event(emails["ann@example.com"]["id"], "Open")
    runtime.run_until_settled(until=timedelta(hours=1, minutes=10))
    runtime.ses_event(emails["ann@example.com"]["id"], "Open")   # a second open, ten minutes later
    runtime.ses_event(emails["bob@example.com"]["id"], "Bounce")
    runtime.ses_event(emails["cid@example.com"]["id"], "Delivery")
    runtime.run_until_settled(until=timedelta(hours=2))
    return runtime


def test_given_three_contacts_on_the_wait_then_the_numbers_show_them_entered_waiting_and_the_email_engagement(
    three_contacts: LocalRuntime,
) -> None:
    # WHEN the map's numbers are read
    numbers = stats.read_map("welcome-leads")

    # THEN three entered, none left, all three wait at the two-days wait
    assert (numbers["entered"], numbers["active"], numbers["exited"]) == (3, 3, 0)
    steps: dict[str, Any] = numbers["steps"]
    assert steps["tag-lead"]["done"] == 3
    assert steps["two-days-later"]["waiting"] == 3
    assert steps["tag-lead"]["waiting"] == steps["welcome-email"]["waiting"] == 0
    # AND the welcome email: 3 sent, 2 delivered, 1 opened (ann's two opens are one unique open), 1 bounced
    email = steps["welcome-email"]
    assert (email["done"], email["sent"], email["delivered"], email["opened"], email["opens"], email["bounced"]) == (
        3, 3, 2, 1, 2, 1)
    assert email["rates"]["opened"] == pytest.approx(1 / 3, abs=1e-4)   # unique opens per email sent
    assert email["rates"]["bounced"] == pytest.approx(1 / 3, abs=1e-4)
    assert email["rates"]["delivered"] == pytest.approx(2 / 3, abs=1e-4)
    assert email["channel"] == "email"
    # AND the steps are listed in the map's reading order, the ones not reached yet with zeros
    assert list(steps)[:3] == ["tag-lead", "welcome-email", "two-days-later"]
    assert steps["thank-you-sms"]["done"] == 0


def test_given_the_journeys_run_to_their_end_then_the_numbers_agree_with_the_history(
    three_contacts: LocalRuntime,
) -> None:
    # WHEN three days pass (the wait ends at 09:00, ann gets the SMS, the others the nudge's 4 hours)
    three_contacts.run_until_settled(until=timedelta(days=3))
    numbers = stats.read_map("welcome-leads")
    history = history_counts(three_contacts)

    # THEN all three have left, nobody waits anywhere
    assert (numbers["entered"], numbers["active"], numbers["exited"]) == (3, 0, 3)
    assert sum(numbers["exits"].values()) == 3
    assert all(step["waiting"] == 0 for step in numbers["steps"].values()), numbers["steps"]
    # AND every counter agrees with the entries of the history
    assert numbers["entered"] == history[("", "map.enrolled")]
    kinds = {"done": "step.done", "skipped": "step.skipped", "failed": "step.failed", "sent": None}
    for step_id, step in numbers["steps"].items():
        for name, kind in kinds.items():
            kind = kind or ("email.sent" if step.get("channel") == "email" else "sms.sent")
            if name == "done" and step_id == "engaged":  # a branch is done when it decided
                kind = "condition.evaluated"
            assert step.get(name, 0) == history[(step_id, kind)], (step_id, name)
        assert step["waiting"] == history[(step_id, "wait.entered")] - history[(step_id, "wait.left")]
    assert numbers["steps"]["engaged"]["done"] == 3
    assert numbers["steps"]["thank-you-sms"]["sent"] == 1   # ann, who opened
    assert numbers["steps"]["thank-you-sms"]["channel"] == "sms"
    assert numbers["steps"]["two-days-later"]["waiting"] == 0
    # AND read_all has the map among the registered ones
    assert "welcome-leads" in {found["map_id"] for found in stats.read_all()}


def test_given_a_send_deferred_by_quiet_hours_then_the_contact_waits_at_that_step_until_it_goes(
    runtime: LocalRuntime,
) -> None:
    from automaps.store.contacts import ContactStore
    from tests.conftest import ROOT

    # GIVEN the sending-limits map (quiet hours 21:00-08:00 in the contact's timezone) and Aiko in
    # Tokyo, where it is 23:00
    map_id = runtime.stack.deploy_map(ROOT / "tests/e2e/maps/sending-limits-journey.yaml").map_id
    aiko, _ = ContactStore().upsert_by_email("aiko@example.com", {"first_name": "Aiko", "timezone": "Asia/Tokyo"})
    ContactStore().create_enrollment(aiko.id, map_id, "e_aiko", {"type": "form_submitted", "form": "newsletter"})
    runtime.start_execution(map_id, {"contact_id": aiko.id, "enrollment_id": "e_aiko", "map_id": map_id}, "stats-aiko")

    # WHEN the run reaches the welcome email
    runtime.run_until_settled(until=timedelta(minutes=30))
    # THEN it is deferred, and she waits at that step
    welcome = stats.read_map(map_id)["steps"]["welcome"]
    assert (welcome["deferred"], welcome["waiting"], welcome["done"]) == (1, 1, 0)

    # WHEN 08:00 in Tokyo comes
    runtime.run_until_settled(until=timedelta(hours=10))
    # THEN the email went and nobody waits there any more
    welcome = stats.read_map(map_id)["steps"]["welcome"]
    assert (welcome["deferred"], welcome["waiting"], welcome["done"], welcome["sent"]) == (1, 0, 1, 1)
