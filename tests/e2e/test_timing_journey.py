"""End to end on the local runtime: every way to time a step (tests/e2e/maps/timing-journey.yaml),
on the virtual clock across New York's DST change (Sunday 2026-11-01): relative to a date field
before and after it, a date already past (skipped, or run at once), a missing date, "2 days at
09:00" in the contact's timezone or the map's, an office-hours window, and a wait whose moment
is past sending the contact out of the map."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from automaps.store.contacts import ContactStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/timing-journey.yaml"
FRIDAY_9AM_NY = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)   # 09:00 EDT; clocks go back on Sunday


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the backend on moto, on the Friday before New York's DST change, on a virtual clock
    that moves only when the test runs it."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(FRIDAY_9AM_NY, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        yield running


def enroll(runtime: LocalRuntime, map_id: str, email: str, fields: dict) -> str:
    contact, _ = ContactStore().upsert_by_email(email, fields)
    enrollment = f"e_{contact.id}"
    ContactStore().create_enrollment(contact.id, map_id, enrollment, {"type": "form_submitted", "form": "webinar"})
    runtime.start_execution(map_id, {"contact_id": contact.id, "enrollment_id": enrollment, "map_id": map_id},
                            f"timing-{enrollment}")
    return contact.id


def timeline(runtime: LocalRuntime, contact_id: str) -> list[tuple[str, str, str]]:
    """(virtual time, step, outcome and reason) of the contact's step and exit entries, in order."""
    found = []
    for entry in runtime.contact(contact_id=contact_id)["history"]:
        if entry["kind"].startswith("step.") or entry["kind"] == "map.exited":
            what = entry["kind"].split(".")[1]
            reason = entry["detail"].get("reason")
            found.append((_z(entry["at"]), entry["step_id"], f"{what}: {reason}" if reason else what))
    return found


def _z(at: str) -> str:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_given_three_contacts_then_each_step_runs_at_its_stated_time_or_is_skipped_with_the_reason(runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    # WHEN a New Yorker registers for a webinar at 16:00 EDT today, renewing in three weeks
    ny = enroll(runtime, map_id, "ny@example.com", {"timezone": "America/New_York",
                                                    "webinar_at": "2026-10-30T20:00:00Z",
                                                    "renews_at": "2026-11-20T15:00:00Z"})
    # a Parisian registers 30 minutes before the webinar starts, renewing in less than a week
    paris = enroll(runtime, map_id, "paris@example.com", {"timezone": "Europe/Paris",
                                                          "webinar_at": "2026-10-30T13:30:00Z",
                                                          "renews_at": "2026-11-05T12:00:00Z"})
    # someone without timezone, webinar date or renewal date
    nobody = enroll(runtime, map_id, "nobody@example.com", {})

    assert runtime.run_until_settled(timeout=60)

    # THEN the New Yorker: reminder an hour before, replay two hours after, then two days later
    # the next 09:00 in New York, which after the DST change is 14:00Z (it was 13:00Z on Friday),
    # inside office hours so the call-back runs at once; the renewal note a week before renewal
    assert timeline(runtime, ny) == [
        ("2026-10-30T19:00Z", "reminder", "done"),
        ("2026-10-30T22:00Z", "replay", "done"),
        ("2026-11-02T14:00Z", "call-back", "done"),
        ("2026-11-13T15:00Z", "renewal-note", "done"),
        ("2026-11-13T15:00Z", "Completed", "exited: completed"),
    ]
    # the Parisian: too late for the reminder (skipped, with the reason), replay at once when it
    # is due, Monday 09:00 in Paris, and out of the map since a week before renewal is past
    assert timeline(runtime, paris) == [
        ("2026-10-30T13:00Z", "reminder", "skipped: webinar_at minus 1 hour (2026-10-30T12:30Z) was already past"),
        ("2026-10-30T15:30Z", "replay", "done"),
        ("2026-11-02T08:00Z", "call-back", "done"),
        ("2026-11-02T08:00Z", "renewal-week",
         "skipped: renews_at minus 1 week (2026-10-29T12:00Z) was already past"),
        ("2026-11-02T08:00Z", "renewal-week", "exited: wait_past"),
    ]
    # nobody: no date, so neither webinar note; two days later it is Sunday 08:00 in the map's
    # timezone (New York, now EST) -> 09:00 EST; the window is closed on Sundays -> Monday 09:00
    assert timeline(runtime, nobody) == [
        ("2026-10-30T13:00Z", "reminder", "skipped: field 'webinar_at' is missing"),
        ("2026-10-30T13:00Z", "replay", "skipped: field 'webinar_at' is missing"),
        ("2026-11-02T14:00Z", "call-back", "done"),
        ("2026-11-02T14:00Z", "renewal-week", "skipped: field 'renews_at' is missing"),
        ("2026-11-02T14:00Z", "renewal-week", "exited: wait_past"),
    ]
    assert {execution["status"] for execution in runtime.executions(map_id)} == {"SUCCEEDED"}


def test_given_a_past_moment_with_the_default_rule_then_the_action_runs_at_once(runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    # the webinar started three hours ago: the replay (two hours after it) is an hour late
    late = enroll(runtime, map_id, "late@example.com", {"timezone": "America/New_York",
                                                        "webinar_at": "2026-10-30T10:00:00Z"})

    runtime.run_until_settled(until=FRIDAY_9AM_NY.replace(hour=14))

    assert timeline(runtime, late)[:2] == [
        ("2026-10-30T13:00Z", "reminder", "skipped: webinar_at minus 1 hour (2026-10-30T09:00Z) was already past"),
        ("2026-10-30T13:00Z", "replay", "done"),
    ]
