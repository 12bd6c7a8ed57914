"""A birthday map on the local runtime (issue 10, "Schedules": date triggers): deployed with
``stack.deploy_map``, its quarter-hour schedule fired by the virtual clock, each occurrence run by
the EnrollQueue's consumer (automaps.journeys.broadcasts) from the date index
(automaps.journeys.dates): over two days each contact whose birthday it is is enrolled once, at
09:00 in their own timezone (the map's, Asia/Tokyo, for a contact without one)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from automaps.intake import forms
from automaps.journeys import dates
from automaps.store.contacts import ContactStore
from tests.dates.helpers import update
from tests.e2e.conftest import START
from tests.fuzz.endpoints import deploy_forms
from tests.schedules.helpers import schedules, starts

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


def test_given_a_birthday_map_when_two_days_pass_then_each_birthday_contact_is_enrolled_once_at_9_local(runtime):
    store = ContactStore()
    # GIVEN contacts created before the map is deployed (its first occurrence indexes them) ...
    paris, _ = store.upsert_by_email("paris@example.com", {"birthday": "1990-11-24", "timezone": "Europe/Paris"})
    later, _ = store.upsert_by_email("december@example.com", {"birthday": "1990-12-01", "timezone": "UTC"})
    # ... the map birthday-greeting deployed on Monday 23 November 2026 at 14:00 UTC ...
    runtime.stack.deploy_map(FIXTURES / "birthday-greeting.yaml")
    [schedule] = schedules()
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0/15 * * * ? *)", "UTC")
    # ... and contacts created after it (the router indexes them)
    yorker, _ = store.upsert_by_email("ny@example.com", {"birthday": "1985-11-24", "timezone": "America/New_York"})
    tokyo, _ = store.upsert_by_email("nozone@example.com", {"birthday": "2000-11-25"})
    kolkata, _ = store.upsert_by_email("kolkata@example.com", {"birthday": "1970-11-25", "timezone": "Asia/Kolkata"})
    changed, _ = store.upsert_by_email("changed@example.com", {"birthday": "1990-12-01", "timezone": "UTC"})
    assert runtime.run_until_settled(timeout=60)
    # AND the Kolkata contact moves to Paris by the newsletter form (its update writes form.submitted),
    # and a map's update_contact step changes the other's birthday to 24 November (contact.updated)
    deploy_forms()
    forms.submit("newsletter", {"email": "kolkata@example.com", "timezone": "Europe/Paris"})
    update(changed.id, {"birthday": "1990-11-24"})
    assert runtime.run_until_settled(timeout=60)

    # WHEN two days pass (every quarter hour an occurrence)
    assert runtime.run_until_settled(until=START + timedelta(days=2), timeout=600)

    # THEN each was enrolled once, at 09:00 on their birthday in their own timezone
    assert starts(paris.id, "birthday-greeting") == ["2026-11-24T08:00:00Z"]     # 09:00 CET
    assert starts(yorker.id, "birthday-greeting") == ["2026-11-24T14:00:00Z"]    # 09:00 EST
    assert starts(tokyo.id, "birthday-greeting") == ["2026-11-25T00:00:00Z"]     # 09:00 in Tokyo (the map's)
    assert starts(kolkata.id, "birthday-greeting") == ["2026-11-25T08:00:00Z"]   # 09:00 in Paris, now
    assert starts(changed.id, "birthday-greeting") == ["2026-11-24T09:00:00Z"]   # its new birthday, UTC
    assert starts(later.id, "birthday-greeting") == []
    # AND each run went to its end
    [enrollment] = store.enrollments(paris.id, "birthday-greeting")
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "end")
    assert enrollment.event["type"] == "date_matches"
    assert dates.schedule_expression(dates.enrollment.map_record("birthday-greeting").triggers[0])[0] == (
        schedule["ScheduleExpression"])
