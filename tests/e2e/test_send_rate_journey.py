"""End to end on the local runtime (tests/e2e/maps/send-rate-journey.yaml), on the virtual clock:
with SES's send rate set to 2 a second, 10 contacts signing up in the same second get their welcome
2 a second over 5 seconds, each exactly once (the others deferred to their slots, step.deferred with
the reason); their next-morning reminder, a wait for 10:00 New York spread over 10 minutes, wakes
each contact at its own moment between 10:00 and 10:10, so the reminders need no deferral."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from automaps.store.contacts import ContactStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/send-rate-journey.yaml"
TEN_NEW_YORK = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 EST


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the backend from template.yaml on moto, SES's send rate set to 2 a second (without the
    template's hourly schedules, as in tests/e2e/conftest.py)."""
    environment = {"POWERTOOLS_METRICS_DISABLED": "true", "EMAIL_SEND_RATE": "2"}
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment=environment, schedule_events=False) as running:
        yield running


def sends(runtime, subject: str) -> list[tuple[str, datetime]]:
    """(recipient, virtual time) of the emails whose subject starts with ``subject``."""
    found = []
    for mail in runtime.outbox()["emails"]:
        if mail["subject"].startswith(subject):
            at = mail["at"] if isinstance(mail["at"], datetime) else datetime.fromisoformat(
                str(mail["at"]).replace("Z", "+00:00"))
            found.append((mail["to"][0] if isinstance(mail["to"], list) else mail["to"], at.astimezone(UTC)))
    return found


def test_given_a_send_rate_of_2_when_10_contacts_sign_up_at_once_then_the_welcomes_go_2_a_second_each_once(
        runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    # GIVEN 10 contacts in New York (09:00 there: no quiet hours) sign up in the same second
    ids = []
    for n in range(10):
        contact, _ = ContactStore().upsert_by_email(f"reader{n}@example.com", {"first_name": f"R{n}"})
        ContactStore().create_enrollment(contact.id, map_id, f"e_{n}", {"type": "form_submitted"})
        runtime.start_execution(map_id, {"contact_id": contact.id, "enrollment_id": f"e_{n}", "map_id": map_id},
                                f"rate-e_{n}")
        ids.append(contact.id)

    # WHEN the runtime runs until every journey is over
    assert runtime.run_until_settled(timeout=240)

    # THEN 2 welcomes went out at once and the 8 others were deferred once each, with the reason on
    # their history, to the next 4 seconds: 2 slots each, 5 seconds for 10
    deferred = [entry for cid in ids for entry in ContactStore().history(cid, ["step.deferred"])]
    assert all("the SES send rate (2 a second)" in e.detail["reason"] for e in deferred)
    first = {e.detail["enrollment_id"]: e.detail["deferred_until"] for e in reversed(deferred)}
    assert Counter(first.values()) == Counter({f"2026-11-23T14:00:0{s}Z": 2 for s in range(1, 5)})
    # and each went out exactly once, at its slot, never more than 2 in a second (a visit back after
    # its second, were the runtime's Wait to end late, would take a new slot: deferred again)
    welcomes = sends(runtime, "Welcome")
    assert len(welcomes) == 10 and len({to for to, _ in welcomes}) == 10
    per_second = Counter(at.replace(microsecond=0) for _, at in welcomes)
    assert per_second[START] == 2 and max(per_second.values()) == 2
    assert max(per_second) - START <= timedelta(seconds=5)
    assert all(len(ContactStore().history(cid, ["email.sent"])) == 2 for cid in ids)

    # AND the reminders woke each contact at its own moment between 10:00 and 10:10 New York
    reminders = sends(runtime, "Good morning")
    assert len(reminders) == 10
    assert all(TEN_NEW_YORK <= at < TEN_NEW_YORK + timedelta(minutes=10) for _, at in reminders)
    moments = sorted(at for _, at in reminders)
    assert moments[-1] - moments[0] > timedelta(minutes=5) and max(Counter(moments).values()) <= 2
    assert all(e.step_id == "welcome" for e in deferred)  # spread out, no reminder had to wait for a slot
    assert {e["status"] for e in runtime.executions(map_id)} == {"SUCCEEDED"}
