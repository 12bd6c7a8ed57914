"""Spreading synchronized moments (automaps.timing.spread, resolve_wait, the end of quiet hours): a
moment a whole timezone shares ("2 days at 09:00", a window's opening, a date, the end of quiet
hours) moves later for each contact by its own offset in [0, window), from a hash of the contact,
the map and the step: never earlier than the stated moment, never past the window's close or into
the map's quiet hours; a delay alone (each contact's own moment) is never spread. The real
resolve_wait and send_email handlers on moto, the clock at Monday 2026-11-02 08:00 UTC."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from automaps.channels.limits import QuietHours
from automaps.maps.model import WaitOptions
from automaps.timing import WaitSpec, spread
from functions.resolve_wait import app as resolve_app
from functions.send_email import app as email_app
from tests.actions.sending import a_contact, shipped_template, task_event

NINE_NEW_YORK = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)  # Wednesday 09:00 EST, 2 days on


def resolved(contact_id: str, wait: dict, lambda_context, **request) -> datetime:
    body = {"contact_id": contact_id, "map_id": "newsletter", "step_id": "two-days-at-nine", "wait": wait,
            "fallback_timezone": "America/New_York", **request}
    answer = resolve_app.lambda_handler(body, lambda_context)
    return datetime.fromisoformat(answer["at"].replace("Z", "+00:00"))


# ------------------------------------------------------------------ the spread function


def test_given_10000_contacts_and_a_15_minute_window_then_each_is_later_by_its_own_offset_spread_evenly():
    moment = NINE_NEW_YORK
    moments = [spread(moment, 900, f"c_{n}", "newsletter", "two-days-at-nine") for n in range(10_000)]

    # never earlier than 09:00, always before 09:15, and the same contact always gets the same moment
    assert min(moments) >= moment and max(moments) < moment + timedelta(minutes=15)
    assert spread(moment, 900, "c_7", "newsletter", "two-days-at-nine") == moments[7]
    # about 667 a minute in every minute of the window (uniform within 15%)
    per_minute = Counter(int((at - moment).total_seconds() // 60) for at in moments)
    assert len(per_minute) == 15 and all(560 <= count <= 780 for count in per_minute.values())
    # another step of the same map gives the contact another offset
    assert spread(moment, 900, "c_7", "newsletter", "tip") != moments[7]


def test_given_a_bound_then_the_spread_is_scaled_to_end_before_it():
    moment, closes = NINE_NEW_YORK, NINE_NEW_YORK + timedelta(minutes=5)
    moments = [spread(moment, 900, f"c_{n}", "m", "s", before=closes) for n in range(1_000)]

    assert min(moments) >= moment and max(moments) < closes
    assert max(moments) > moment + timedelta(minutes=4)  # the whole 5 minutes used, evenly
    assert spread(moment, 900, "c_1", "m", "s", before=moment) == moment


# ------------------------------------------------------------------ resolve_wait


def test_given_the_stack_default_is_0_then_a_wait_for_nine_oclock_ends_at_nine_exactly(aws, clock, lambda_context,
                                                                                       monkeypatch):
    monkeypatch.delenv("WAIT_SPREAD_SECONDS", raising=False)

    assert resolved("c_1", {"days": 2, "at": "09:00"}, lambda_context) == NINE_NEW_YORK


def test_given_a_15_minute_spread_when_1000_contacts_wait_two_days_at_nine_then_they_wake_over_the_window(
        aws, clock, lambda_context):
    # GIVEN the map says waits: {spread: {minutes: 15}} (the compiler passes it in seconds)
    wakes = [resolved(f"c_{n}", {"days": 2, "at": "09:00"}, lambda_context, spread=900) for n in range(1_000)]

    # THEN no one wakes before 09:00 New York, everyone by 09:15, at most a handful in any one second
    assert min(wakes) >= NINE_NEW_YORK and max(wakes) < NINE_NEW_YORK + timedelta(minutes=15)
    assert max(Counter(at.replace(microsecond=0) for at in wakes).values()) <= 6
    # and the contact's moment is the same on a retry of the resolve
    assert resolved("c_3", {"days": 2, "at": "09:00"}, lambda_context, spread=900) == wakes[3]


def test_given_the_stacks_window_when_a_step_sets_its_own_then_the_steps_wins(aws, clock, lambda_context,
                                                                              monkeypatch):
    monkeypatch.setenv("WAIT_SPREAD_SECONDS", "3600")
    wait = {"days": 2, "at": "09:00", "spread": {"minutes": 1}}

    stack = [resolved(f"c_{n}", {"days": 2, "at": "09:00"}, lambda_context) for n in range(50)]
    own = [resolved(f"c_{n}", wait, lambda_context) for n in range(50)]

    assert max(stack) > NINE_NEW_YORK + timedelta(minutes=5) and max(stack) < NINE_NEW_YORK + timedelta(hours=1)
    assert all(NINE_NEW_YORK <= at < NINE_NEW_YORK + timedelta(minutes=1) for at in own)


def test_given_a_spread_when_the_wait_is_a_delay_alone_then_it_is_each_contacts_own_and_not_spread(
        aws, clock, lambda_context, monkeypatch):
    monkeypatch.setenv("WAIT_SPREAD_SECONDS", "900")
    start = clock.now()

    assert resolved("c_1", {"hours": 4}, lambda_context) == start + timedelta(hours=4)
    # a window the contact is already in: at once, not spread
    assert resolved("c_1", {"between": ["02:00", "05:00"]}, lambda_context) == start
    with pytest.raises(ValidationError, match="a delay alone is already each contact's own"):
        WaitSpec.model_validate({"days": 2, "spread": {"minutes": 15}})


def test_given_a_window_opening_then_the_spread_stays_inside_the_window(aws, clock, lambda_context):
    # 08:00 UTC is 03:00 New York; the window opens at 09:00 and closes at 09:10
    wait = {"between": ["09:00", "09:10"]}
    wakes = [resolved(f"c_{n}", wait, lambda_context, spread=3600) for n in range(200)]
    opens = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)

    assert min(wakes) >= opens and max(wakes) < opens + timedelta(minutes=10)
    assert max(wakes) > opens + timedelta(minutes=8)


def test_given_the_maps_quiet_hours_then_a_spread_moment_never_falls_into_them(aws, clock, lambda_context):
    # a wait for 20:55 with a 30-minute spread, quiet hours from 21:00 New York
    sending = {"quiet_hours": {"from": "21:00", "to": "08:00", "timezone": "contact"}}
    wakes = [resolved(f"c_{n}", {"at": "20:55"}, lambda_context, spread=1800, sending=sending) for n in range(200)]
    nine_pm = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)

    assert min(wakes) >= nine_pm - timedelta(minutes=5) and max(wakes) < nine_pm


def test_given_a_fixed_date_with_a_spread_then_it_is_resolved_per_contact(aws, clock, lambda_context):
    wait = {"until": "2026-12-24T14:00:00Z", "spread": {"minutes": 10}}
    moment = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)
    wakes = {resolved(f"c_{n}", wait, lambda_context) for n in range(20)}

    assert WaitSpec.model_validate(wait).needs_resolving
    assert len(wakes) == 20 and all(moment <= at < moment + timedelta(minutes=10) for at in wakes)


# ------------------------------------------------------------------ the end of quiet hours


def test_given_quiet_hours_with_a_spread_when_a_timezone_is_deferred_then_their_end_is_spread(aws, clock,
                                                                                              lambda_context):
    shipped_template("welcome")
    night = {"quiet_hours": {"from": "21:00", "to": "08:00", "timezone": "contact", "spread": {"minutes": 20}}}
    eight = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)  # 08:00 New York
    untils = []
    for n in range(40):
        contact = a_contact(f"ny{n}@example.com", first_name="N", timezone="America/New_York")
        answer = email_app.lambda_handler(task_event("send_email.json", contact, sending=night,
                                                     enrollment_id=f"e_{n}", execution_id=f"arn:run-{n}"),
                                          lambda_context)
        untils.append(datetime.fromisoformat(answer["detail"]["deferred_until"].replace("Z", "+00:00")))

    assert min(untils) >= eight and max(untils) < eight + timedelta(minutes=20) and len(set(untils)) == 40


def test_given_spread_settings_then_they_are_checked_when_the_map_is_loaded():
    assert WaitOptions.model_validate({"spread": {"minutes": 15}}).spread.total_seconds == 900
    with pytest.raises(ValidationError, match="at most 6 hours"):
        WaitOptions.model_validate({"spread": {"hours": 7}})
    with pytest.raises(ValidationError, match="shorter than the hours between 08:00 and 21:00"):
        QuietHours.model_validate({"from": "21:00", "to": "08:00", "spread": {"hours": 14}})
    assert "spread" not in WaitOptions().model_dump()  # absent unless set: maps compile as before
