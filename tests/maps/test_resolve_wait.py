"""When a wait ends for a contact: time of day in their timezone, weekdays, date fields, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from automaps.maps.resolve import WaitFieldError, resolve_wait


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def resolve(wait, now, *, fields=None, contact_tz=None, fallback="UTC") -> datetime:
    return resolve_wait(wait, fields or {}, contact_tz, fallback, utc(now))


# ---------------------------------------------------------------- delays and time of day


def test_given_a_plain_delay_then_the_wait_ends_that_long_after_now():
    assert resolve({"days": 2, "hours": 3}, "2026-11-02T08:00:00") == utc("2026-11-04T11:00:00")


def test_given_a_time_of_day_later_today_then_the_wait_ends_today_in_the_contacts_timezone():
    # 03:00 in New York; 09:00 EST is 14:00 UTC
    assert resolve({"at": "09:00"}, "2026-11-02T08:00:00", contact_tz="America/New_York") == utc("2026-11-02T14:00:00")


def test_given_a_time_of_day_already_past_today_then_the_wait_rolls_to_tomorrow():
    # 11:00 in New York
    assert resolve({"at": "09:00"}, "2026-11-02T16:00:00", contact_tz="America/New_York") == utc("2026-11-03T14:00:00")


def test_given_a_delay_and_a_time_of_day_then_the_wait_ends_at_the_first_such_time_after_the_delay():
    # two days later it is 10:00 in Paris: 09:00 has passed that day, so the day after
    at = resolve({"days": 2, "at": "09:00", "timezone": "contact"}, "2026-11-02T09:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-05T08:00:00")


def test_given_a_contact_without_timezone_then_the_maps_fallback_timezone_is_used():
    at = resolve({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz=None, fallback="Europe/Paris")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_contact_with_an_unknown_timezone_then_the_maps_fallback_timezone_is_used():
    at = resolve({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz="Mars/Olympus_Mons", fallback="Europe/Paris")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_fixed_timezone_then_it_wins_over_the_contacts():
    at = resolve({"at": "18:00", "timezone": "Asia/Tokyo"}, "2026-11-02T08:00:00", contact_tz="America/New_York")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_result_then_it_is_an_aware_utc_datetime():
    at = resolve({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz="Europe/Paris")

    assert at.tzinfo == UTC


# ---------------------------------------------------------------- DST


def test_given_clocks_go_forward_overnight_then_nine_oclock_is_still_nine_oclock_on_the_wall():
    # Paris, Saturday 11:00 CET; DST starts on Sunday 2026-03-29: 09:00 CEST is 07:00 UTC (08:00 the day before)
    at = resolve({"at": "09:00"}, "2026-03-28T10:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-03-29T07:00:00")
    assert at.astimezone(ZoneInfo("Europe/Paris")).hour == 9


def test_given_clocks_go_back_overnight_then_nine_oclock_is_still_nine_oclock_on_the_wall():
    # New York, Saturday 10:00 EDT; DST ends on Sunday 2026-11-01: 09:00 EST is 14:00 UTC (13:00 the day before)
    at = resolve({"at": "09:00"}, "2026-10-31T14:00:00", contact_tz="America/New_York")

    assert at == utc("2026-11-01T14:00:00")


def test_given_a_plain_delay_across_a_dst_change_then_it_is_elapsed_time():
    # one day = 24 hours: noon CEST on Sunday after 11:00 CET on Saturday
    assert resolve({"days": 1}, "2026-03-28T10:00:00", contact_tz="Europe/Paris") == utc("2026-03-29T10:00:00")


def test_given_a_time_of_day_skipped_by_the_dst_change_then_it_is_read_an_hour_later():
    # 02:30 does not exist in Paris on 2026-03-29; it is read with the winter offset: 01:30 UTC = 03:30 CEST
    at = resolve({"at": "02:30"}, "2026-03-28T22:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-03-29T01:30:00")


# ---------------------------------------------------------------- weekdays


WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def test_given_workdays_at_nine_on_a_friday_evening_then_the_wait_ends_on_monday_at_nine():
    # Friday 2026-11-06, 19:00 in Paris
    at = resolve({"at": "09:00", "weekdays": WORKDAYS}, "2026-11-06T18:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-09T08:00:00")


def test_given_workdays_without_a_time_on_a_saturday_then_the_wait_ends_when_monday_starts_locally():
    at = resolve({"weekdays": WORKDAYS}, "2026-11-07T12:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-08T23:00:00")


def test_given_workdays_without_a_time_on_a_workday_then_the_wait_ends_at_once():
    assert resolve({"weekdays": WORKDAYS}, "2026-11-04T12:00:00", contact_tz="Europe/Paris") == utc("2026-11-04T12:00:00")


# ---------------------------------------------------------------- date fields and exact times


def test_given_a_date_field_with_an_offset_then_the_wait_ends_that_long_before_it():
    at = resolve({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-02T08:00:00",
                 fields={"webinar_at": "2026-11-10T18:00:00Z"})

    assert at == utc("2026-11-10T17:00:00")


def test_given_a_date_field_without_timezone_then_it_is_read_in_the_contacts_timezone():
    at = resolve({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-02T08:00:00",
                 fields={"webinar_at": "2026-11-10T18:00:00"}, contact_tz="America/New_York")

    assert at == utc("2026-11-10T22:00:00")


def test_given_a_date_only_field_and_a_time_of_day_then_the_wait_ends_that_day_at_that_time():
    at = resolve({"until_field": "birthday", "at": "09:00"}, "2026-11-02T08:00:00",
                 fields={"birthday": "2026-12-01"}, contact_tz="Europe/Paris")

    assert at == utc("2026-12-01T08:00:00")


def test_given_a_date_field_holding_a_datetime_then_it_is_used_as_it_is():
    at = resolve({"until_field": "renews_at"}, "2026-11-02T08:00:00",
                 fields={"renews_at": datetime(2026, 12, 1, 12, 0, tzinfo=UTC)})

    assert at == utc("2026-12-01T12:00:00")


def test_given_a_date_field_already_past_then_the_wait_ends_at_once():
    at = resolve({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-10T17:30:00",
                 fields={"webinar_at": "2026-11-10T18:00:00Z"})

    assert at == utc("2026-11-10T17:30:00")


def test_given_an_exact_time_already_past_then_the_wait_ends_at_once():
    assert resolve({"until": "2026-01-01T00:00:00Z"}, "2026-11-02T08:00:00") == utc("2026-11-02T08:00:00")


def test_given_an_exact_time_ahead_then_the_wait_ends_then():
    assert resolve({"until": "2026-12-24T09:00:00+01:00"}, "2026-11-02T08:00:00") == utc("2026-12-24T08:00:00")


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "field 'webinar_at' is missing"),
    ({"webinar_at": ""}, "field 'webinar_at' is missing"),
    ({"webinar_at": "soon"}, "field 'webinar_at' is not a date ('soon')"),
])
def test_given_a_date_field_that_is_missing_or_not_a_date_then_the_wait_cannot_be_placed(fields, message):
    with pytest.raises(WaitFieldError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve({"until_field": "webinar_at"}, "2026-11-02T08:00:00", fields=fields)
