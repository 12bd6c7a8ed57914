"""End to end on the local runtime: a map's sending limits (tests/e2e/maps/sending-limits-journey.yaml)
at send time, on the virtual clock: quiet hours in the contact's timezone (or the map's) defer an
email to their end, a weekly cap across maps defers the next marketing email until the oldest counted
one leaves the window (and then the quiet hours once more), a transactional email goes at once, and
each email goes out exactly once through SES (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automaps.store.contacts import ContactStore
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/sending-limits-journey.yaml"


def enroll(runtime, map_id: str, email: str, fields: dict) -> str:
    contact, _ = ContactStore().upsert_by_email(email, fields)
    enrollment = f"e_{contact.id}"
    ContactStore().create_enrollment(contact.id, map_id, enrollment, {"type": "form_submitted", "form": "newsletter"})
    runtime.start_execution(map_id, {"contact_id": contact.id, "enrollment_id": enrollment, "map_id": map_id},
                            f"limits-{enrollment}")
    return contact.id


def sent_at(runtime, to: str) -> list[tuple[str, str]]:
    """(subject, virtual time) of the emails to ``to``, in send order."""
    return [(mail["subject"], _z(mail["at"])) for mail in runtime.outbox()["emails"] if to in mail["to"]]


def _z(at) -> str:
    at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_given_a_contact_in_tokyo_with_a_recent_email_then_quiet_hours_and_the_weekly_cap_hold_each_email_back(
        runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    # GIVEN Aiko in Tokyo (23:00 there: quiet hours) got a marketing email from another map 2 days ago,
    # and Noah has no timezone (the map's New York: 09:00 there)
    aiko, _ = ContactStore().upsert_by_email("aiko@example.com", {"first_name": "Aiko", "timezone": "Asia/Tokyo"})
    ContactStore().record(aiko.id, "email.sent", {"marketing": True, "template": "inline"}, map_id="promo",
                          step_id="sale", at=START - timedelta(days=2))

    # WHEN both sign up now (Monday 14:00 UTC)
    enroll(runtime, map_id, "aiko@example.com", {})
    noah = enroll(runtime, map_id, "noah@example.com", {"first_name": "Noah"})
    assert runtime.run_until_settled(timeout=120)

    # THEN Noah gets all three at once
    assert sent_at(runtime, "noah@example.com") == [
        ("Welcome, Noah", "2026-11-23T14:00Z"), ("Your receipt", "2026-11-23T14:00Z"),
        ("A tip for you", "2026-11-23T14:00Z")]
    # and Aiko's welcome waits for 08:00 Tokyo; the receipt follows at once; the tip (her 3rd marketing
    # email in 7 days) waits until the one of 2 days ago leaves the week (Saturday 14:00 UTC), which is
    # 23:00 in Tokyo: quiet hours again, so 08:00 Tokyo on Sunday
    assert sent_at(runtime, "aiko@example.com") == [
        ("Welcome, Aiko", "2026-11-23T23:00Z"), ("Your receipt", "2026-11-23T23:00Z"),
        ("A tip for you", "2026-11-28T23:00Z")]
    history = ContactStore().history(aiko.id, ["step.deferred"])
    assert [(e.step_id, e.detail["reason"].split(" (")[0], e.detail["deferred_until"]) for e in history] == [
        ("welcome", "quiet hours", "2026-11-23T23:00:00Z"),
        ("tip", "frequency cap reached", "2026-11-28T14:00:01Z"),
        ("tip", "quiet hours", "2026-11-28T23:00:00Z")]
    assert ContactStore().history(noah, ["step.deferred"]) == []
    # exactly once: one email.sent and one step.done per email step, and both runs finished
    assert len(ContactStore().history(aiko.id, ["email.sent"])) == 4  # the one from the other map + 3
    assert sorted(e.step_id for e in ContactStore().history(aiko.id, ["step.done"])) == ["receipt", "tip", "welcome"]
    assert {e["status"] for e in runtime.executions(map_id)} == {"SUCCEEDED"}
