"""Where a wait's end or an action's `when` lands for a contact: time of day in their timezone,
windows, weekdays, date fields, DST, dates already past and dates that are missing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from automaps.maps.resolve import Moment, resolve, skips
from automaps.timing import WaitSpec, When


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def moment(spec, now, *, fields=None, contact_tz=None, fallback="UTC", model=WaitSpec) -> Moment:
    return resolve(model.model_validate(spec), fields or {}, contact_tz, fallback, utc(now))


def lands(spec, now, **given) -> datetime:
    """WHEN the timing is resolved: the instant it lands on."""
    return moment(spec, now, **given).at


# ---------------------------------------------------------------- delays and time of day


def test_given_a_plain_delay_then_the_wait_ends_that_long_after_now():
    assert lands({"days": 2, "hours": 3}, "2026-11-02T08:00:00") == utc("2026-11-04T11:00:00")


def test_given_a_time_of_day_later_today_then_the_wait_ends_today_in_the_contacts_timezone():
    # 03:00 in New York; 09:00 EST is 14:00 UTC
    assert lands({"at": "09:00"}, "2026-11-02T08:00:00", contact_tz="America/New_York") == utc("2026-11-02T14:00:00")


def test_given_a_time_of_day_already_past_today_then_the_wait_rolls_to_tomorrow():
    # 11:00 in New York
    assert lands({"at": "09:00"}, "2026-11-02T16:00:00", contact_tz="America/New_York") == utc("2026-11-03T14:00:00")


def test_given_a_delay_and_a_time_of_day_then_the_wait_ends_at_the_first_such_time_after_the_delay():
    # two days later it is 10:00 in Paris: 09:00 has passed that day, so the day after
    at = lands({"days": 2, "at": "09:00", "timezone": "contact"}, "2026-11-02T09:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-05T08:00:00")


def test_given_a_contact_without_timezone_then_the_maps_fallback_timezone_is_used():
    at = lands({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz=None, fallback="Europe/Paris")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_contact_with_an_unknown_timezone_then_the_maps_fallback_timezone_is_used():
    at = lands({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz="Mars/Olympus_Mons", fallback="Europe/Paris")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_fixed_timezone_then_it_wins_over_the_contacts():
    at = lands({"at": "18:00", "timezone": "Asia/Tokyo"}, "2026-11-02T08:00:00", contact_tz="America/New_York")

    assert at == utc("2026-11-02T09:00:00")


def test_given_a_result_then_it_is_an_aware_utc_datetime():
    at = lands({"at": "10:00"}, "2026-11-02T08:00:00", contact_tz="Europe/Paris")

    assert at.tzinfo == UTC


# ---------------------------------------------------------------- DST


def test_given_clocks_go_forward_overnight_then_nine_oclock_is_still_nine_oclock_on_the_wall():
    # Paris, Saturday 11:00 CET; DST starts on Sunday 2026-03-29: 09:00 CEST is 07:00 UTC (08:00 the day before)
    at = lands({"at": "09:00"}, "2026-03-28T10:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-03-29T07:00:00")
    assert at.astimezone(ZoneInfo("Europe/Paris")).hour == 9


def test_given_clocks_go_back_overnight_then_nine_oclock_is_still_nine_oclock_on_the_wall():
    # New York, Saturday 10:00 EDT; DST ends on Sunday 2026-11-01: 09:00 EST is 14:00 UTC (13:00 the day before)
    at = lands({"at": "09:00"}, "2026-10-31T14:00:00", contact_tz="America/New_York")

    assert at == utc("2026-11-01T14:00:00")


def test_given_a_plain_delay_across_a_dst_change_then_it_is_elapsed_time():
    # one day = 24 hours: noon CEST on Sunday after 11:00 CET on Saturday
    assert lands({"days": 1}, "2026-03-28T10:00:00", contact_tz="Europe/Paris") == utc("2026-03-29T10:00:00")


def test_given_a_time_of_day_skipped_by_the_dst_change_then_it_is_read_an_hour_later():
    # 02:30 does not exist in Paris on 2026-03-29; it is read with the winter offset: 01:30 UTC = 03:30 CEST
    at = lands({"at": "02:30"}, "2026-03-28T22:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-03-29T01:30:00")


# ---------------------------------------------------------------- weekdays


WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def test_given_workdays_at_nine_on_a_friday_evening_then_the_wait_ends_on_monday_at_nine():
    # Friday 2026-11-06, 19:00 in Paris
    at = lands({"at": "09:00", "weekdays": WORKDAYS}, "2026-11-06T18:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-09T08:00:00")


def test_given_workdays_without_a_time_on_a_saturday_then_the_wait_ends_when_monday_starts_locally():
    at = lands({"weekdays": WORKDAYS}, "2026-11-07T12:00:00", contact_tz="Europe/Paris")

    assert at == utc("2026-11-08T23:00:00")


def test_given_workdays_without_a_time_on_a_workday_then_the_wait_ends_at_once():
    assert lands({"weekdays": WORKDAYS}, "2026-11-04T12:00:00", contact_tz="Europe/Paris") == utc("2026-11-04T12:00:00")


# ---------------------------------------------------------------- date fields and exact times


def test_given_a_date_field_with_an_offset_then_the_wait_ends_that_long_before_it():
    at = lands({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-02T08:00:00",
               fields={"webinar_at": "2026-11-10T18:00:00Z"})

    assert at == utc("2026-11-10T17:00:00")


def test_given_a_date_field_without_timezone_then_it_is_read_in_the_contacts_timezone():
    at = lands({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-02T08:00:00",
               fields={"webinar_at": "2026-11-10T18:00:00"}, contact_tz="America/New_York")

    assert at == utc("2026-11-10T22:00:00")


def test_given_a_date_only_field_and_a_time_of_day_then_the_wait_ends_that_day_at_that_time():
    at = lands({"until_field": "birthday", "at": "09:00"}, "2026-11-02T08:00:00",
               fields={"birthday": "2026-12-01"}, contact_tz="Europe/Paris")

    assert at == utc("2026-12-01T08:00:00")


def test_given_a_date_field_holding_a_datetime_then_it_is_used_as_it_is():
    at = lands({"until_field": "renews_at"}, "2026-11-02T08:00:00",
               fields={"renews_at": datetime(2026, 12, 1, 12, 0, tzinfo=UTC)})

    assert at == utc("2026-12-01T12:00:00")


def test_given_a_date_field_already_past_then_the_wait_ends_at_once():
    at = lands({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-10T17:30:00",
               fields={"webinar_at": "2026-11-10T18:00:00Z"})

    assert at == utc("2026-11-10T17:30:00")


def test_given_an_exact_time_already_past_then_the_wait_ends_at_once():
    assert lands({"until": "2026-01-01T00:00:00Z"}, "2026-11-02T08:00:00") == utc("2026-11-02T08:00:00")


def test_given_an_exact_time_ahead_then_the_wait_ends_then():
    assert lands({"until": "2026-12-24T09:00:00+01:00"}, "2026-11-02T08:00:00") == utc("2026-12-24T08:00:00")


@pytest.mark.parametrize(("fields", "reason"), [
    ({}, "field 'webinar_at' is missing"),
    ({"webinar_at": ""}, "field 'webinar_at' is missing"),
    ({"webinar_at": "soon"}, "field 'webinar_at' is not a date ('soon')"),
])
def test_given_a_date_field_that_is_missing_or_not_a_date_then_the_moment_is_missed_with_the_reason(fields, reason):
    missed = moment({"until_field": "webinar_at"}, "2026-11-02T08:00:00", fields=fields)

    assert missed == Moment(utc("2026-11-02T08:00:00"), reason, no_date=True)


def test_given_a_date_time_without_timezone_and_no_timezone_anywhere_then_it_is_not_read_as_utc():
    missed = moment({"until_field": "webinar_at"}, "2026-11-02T08:00:00", fields={"webinar_at": "2026-11-10T18:00"},
                    fallback=None)

    assert missed.no_date
    assert missed.missed == ("field 'webinar_at' (2026-11-10T18:00) has no timezone, and neither has the contact "
                             "nor the map")


# ---------------------------------------------------------------- "2 days at 09:00" across DST changes


@pytest.mark.parametrize(("zone", "now", "expected"), [
    # "2 days" is elapsed time, then the next 09:00 on the wall clock, whatever the offset is then.
    # New York, DST ends Sunday 2026-11-01: Friday 10:00 EDT (14:00Z) + 48 h = Sunday 09:00 EST (14:00Z)
    ("America/New_York", "2026-10-30T14:00:00", "2026-11-01T14:00:00"),
    # New York, the other side: Sunday 08:00 EST + 48 h = Tuesday 08:00 -> 09:00 EST
    ("America/New_York", "2026-11-01T13:00:00", "2026-11-03T14:00:00"),
    # Paris, DST ends Sunday 2026-10-25: Friday 08:00 CEST (06:00Z) + 48 h = Sunday 07:00 CET -> 09:00 CET (08:00Z)
    ("Europe/Paris", "2026-10-23T06:00:00", "2026-10-25T08:00:00"),
    # Paris, DST starts Sunday 2027-03-28: Friday 07:30 CET (06:30Z) + 48 h = Sunday 08:30 CEST -> 09:00 CEST (07:00Z)
    ("Europe/Paris", "2027-03-26T06:30:00", "2027-03-28T07:00:00"),
    # Paris, the other side: Sunday 08:00 CEST + 48 h = Tuesday 08:00 -> 09:00 CEST
    ("Europe/Paris", "2027-03-28T06:00:00", "2027-03-30T07:00:00"),
])
def test_given_two_days_at_nine_across_a_dst_change_then_it_lands_at_nine_local(zone, now, expected):
    for model in (WaitSpec, When):
        ends = lands({"days": 2, "at": "09:00"}, now, contact_tz=zone, model=model)

        assert ends == utc(expected)
        assert ends.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "09:00"


def test_given_a_contact_without_timezone_across_a_dst_change_then_the_maps_timezone_is_the_clock():
    ends = lands({"days": 2, "at": "09:00"}, "2026-10-30T14:00:00", contact_tz=None, fallback="America/New_York")

    assert ends == utc("2026-11-01T14:00:00")


# ---------------------------------------------------------------- windows


WEEKDAY_HOURS = {"between": ["09:00", "17:00"], "weekdays": WORKDAYS}


def test_given_a_moment_inside_the_window_then_it_runs_now():
    # Wednesday 2026-11-04, 13:00 in Paris
    assert lands(WEEKDAY_HOURS, "2026-11-04T12:00:00", contact_tz="Europe/Paris", model=When) == utc("2026-11-04T12:00:00")


def test_given_a_moment_before_the_window_opens_then_it_runs_when_it_opens():
    # Wednesday 07:30 in Paris
    assert lands(WEEKDAY_HOURS, "2026-11-04T06:30:00", contact_tz="Europe/Paris", model=When) == utc("2026-11-04T08:00:00")


def test_given_a_moment_after_the_window_closes_then_it_runs_when_the_next_one_opens():
    # Wednesday 17:00 in Paris: the window is closed (17:00 is its end)
    assert lands(WEEKDAY_HOURS, "2026-11-04T16:00:00", contact_tz="Europe/Paris", model=When) == utc("2026-11-05T08:00:00")


def test_given_a_weekend_moment_then_it_runs_when_monday_opens():
    # Saturday 2026-11-07, noon in New York -> Monday 09:00 EST
    ends = lands(WEEKDAY_HOURS, "2026-11-07T17:00:00", contact_tz="America/New_York", model=When)

    assert ends == utc("2026-11-09T14:00:00")


def test_given_a_window_after_a_delay_then_the_delay_comes_first():
    # Friday 16:00 in Paris plus 2 hours is 18:00, closed -> Monday 09:00
    ends = lands({"hours": 2, **WEEKDAY_HOURS}, "2026-11-06T15:00:00", contact_tz="Europe/Paris")

    assert ends == utc("2026-11-09T08:00:00")


@pytest.mark.parametrize(("now", "expected"), [
    ("2026-11-04T22:30:00", "2026-11-04T22:30:00"),   # Wednesday 23:30 in Paris: inside, before midnight
    ("2026-11-05T04:00:00", "2026-11-05T04:00:00"),   # Thursday 05:00: inside, the window opened on Wednesday
    ("2026-11-05T06:00:00", "2026-11-05T21:00:00"),   # Thursday 07:00: closed until 22:00
    ("2026-11-07T04:00:00", "2026-11-07T04:00:00"),   # Saturday 05:00: Friday's window is still open
    ("2026-11-07T21:30:00", "2026-11-09T21:00:00"),   # Saturday 22:30: no window on weekends -> Monday 22:00
])
def test_given_an_overnight_window_then_it_spans_midnight_and_belongs_to_the_day_it_opens(now, expected):
    window = {"between": ["22:00", "06:00"], "weekdays": WORKDAYS}

    assert lands(window, now, contact_tz="Europe/Paris", model=When) == utc(expected)


# ---------------------------------------------------------------- relative to a date field


def test_given_an_offset_after_a_date_field_then_it_lands_that_long_after():
    ends = lands({"until_field": "webinar_at", "offset": {"hours": 2}}, "2026-11-02T08:00:00",
                 fields={"webinar_at": "2026-11-20T18:00:00Z"}, model=When)

    assert ends == utc("2026-11-20T20:00:00")


def test_given_a_date_field_and_a_window_then_it_lands_in_the_window_after_the_date():
    # the day after signing up at 20:00 Paris time is Friday 20:00: closed -> Monday 09:00
    ends = lands({"until_field": "signed_up_at", "offset": {"days": 1}, **WEEKDAY_HOURS}, "2026-11-02T08:00:00",
                 fields={"signed_up_at": "2026-11-05T19:00:00Z"}, contact_tz="Europe/Paris", model=When)

    assert ends == utc("2026-11-09T08:00:00")


def test_given_a_yearly_birthday_at_nine_then_it_lands_on_the_next_anniversary_in_the_contacts_timezone():
    spec = {"until_field": "birthday", "yearly": True, "at": "09:00"}

    this_year = lands(spec, "2026-11-02T08:00:00", fields={"birthday": "1980-12-01"}, contact_tz="Europe/Paris",
                      model=When)
    next_year = lands(spec, "2026-11-02T08:00:00", fields={"birthday": "1980-03-14"}, contact_tz="Europe/Paris",
                      model=When)

    assert this_year == utc("2026-12-01T08:00:00")
    assert next_year == utc("2027-03-14T08:00:00")


def test_given_a_yearly_birthday_today_before_nine_then_it_is_today_and_after_nine_next_year():
    spec, fields = {"until_field": "birthday", "yearly": True, "at": "09:00"}, {"birthday": "1980-11-02"}

    assert lands(spec, "2026-11-02T07:00:00", fields=fields, contact_tz="Europe/Paris") == utc("2026-11-02T08:00:00")
    assert lands(spec, "2026-11-02T09:00:00", fields=fields, contact_tz="Europe/Paris") == utc("2027-11-02T08:00:00")


def test_given_a_yearly_date_on_the_29th_of_february_then_other_years_use_the_28th():
    ends = lands({"until_field": "birthday", "yearly": True}, "2026-11-02T08:00:00", fields={"birthday": "2000-02-29"},
                 contact_tz="UTC")

    assert ends == utc("2027-02-28T00:00:00")


# ---------------------------------------------------------------- dates already past


def test_given_a_date_already_past_then_the_moment_is_now_and_missed_with_the_reason_in_words():
    missed = moment({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-20T17:30:00",
                    fields={"webinar_at": "2026-11-20T18:00:00Z"}, model=When)

    assert missed == Moment(utc("2026-11-20T17:30:00"),
                            "webinar_at minus 1 hour (2026-11-20T17:00Z) was already past")


def test_given_a_date_on_time_then_nothing_is_missed():
    kept = moment({"until_field": "webinar_at", "offset": {"hours": -1}}, "2026-11-20T16:30:00",
                  fields={"webinar_at": "2026-11-20T18:00:00Z"}, model=When)

    assert kept == Moment(utc("2026-11-20T17:00:00"))


@pytest.mark.parametrize(("if_past", "action", "expected"), [
    (None, True, False), ("run", True, False), ("skip", True, True),
    (None, False, False), ("run", False, False), ("skip", False, True),
])
def test_given_a_past_date_then_if_past_decides_whether_to_skip(if_past, action, expected):
    spec = (When if action else WaitSpec).model_validate({"until_field": "webinar_at", "if_past": if_past})
    missed = resolve(spec, {"webinar_at": "2026-11-20T18:00:00Z"}, None, "UTC", utc("2026-11-21T00:00:00"))

    assert skips(spec, missed, action=action) is expected


@pytest.mark.parametrize(("if_past", "action", "expected"), [
    (None, True, True), ("skip", True, True),        # an action never runs without its date
    (None, False, False), ("skip", False, True),     # a wait follows if_past
])
def test_given_a_missing_date_then_an_action_is_skipped_and_a_wait_follows_if_past(if_past, action, expected):
    spec = (When if action else WaitSpec).model_validate({"until_field": "webinar_at", "if_past": if_past})
    missed = resolve(spec, {}, None, "UTC", utc("2026-11-21T00:00:00"))

    assert skips(spec, missed, action=action) is expected


def test_given_a_moment_on_time_then_nothing_is_skipped_whatever_if_past_says():
    spec = When.model_validate({"until_field": "webinar_at", "if_past": "skip"})
    kept = resolve(spec, {"webinar_at": "2026-11-20T18:00:00Z"}, None, "UTC", utc("2026-11-01T00:00:00"))

    assert skips(spec, kept, action=True) is False


def test_given_an_exact_date_time_already_past_with_skip_then_it_is_missed():
    spec = When.model_validate({"at": "2026-11-01T09:00:00Z", "if_past": "skip"})
    missed = resolve(spec, {}, None, None, utc("2026-11-02T00:00:00"))

    assert missed.missed == "the date-time (2026-11-01T09:00Z) was already past"
    assert skips(spec, missed, action=True)
