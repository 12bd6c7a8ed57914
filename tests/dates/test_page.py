"""Who a date trigger's occurrence reaches (issue 10, "Schedules": Ontraport's date triggers), on
moto at virtual times: every quarter-hour occurrence of a day is run in order, and each contact is
reached once, at the first occurrence at or after its local ``at`` on the day that matches, across
DST changes in Europe and the US, in half- and quarter-hour zones, in the map's timezone for a
contact without one, in a trigger's fixed zone; 29 February; days before and after a date; a
segment's or list's members on a given date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automaps import aws as aws_clients
from automaps.journeys import dates
from automaps.store.dates import SHARDS, DateIndexStore
from automaps.store.lists import ListStore
from tests.dates.helpers import contact, date_map, occurrences, reached, update, when


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_given_a_birthday_map_then_new_york_is_reached_at_13_utc_in_summer_and_14_utc_in_winter(aws, clock):
    # GIVEN a map on the birthday at 09:00 in the contact's timezone, and two New Yorkers
    record, trigger = date_map("date_matches", {"field": "birthday"})
    summer = contact("summer@example.com", birthday="1990-07-10", timezone="America/New_York")
    winter = contact("winter@example.com", birthday="1985-01-12", timezone="America/New_York")

    # WHEN every occurrence of the two days around each birthday runs
    july = reached(record, trigger, occurrences(day("2026-07-09"), hours=72))
    january = reached(record, trigger, occurrences(day("2027-01-11"), hours=72))

    # THEN each is reached once: 09:00 EDT is 13:00 UTC, 09:00 EST is 14:00 UTC
    assert when(july, summer) == ["2026-07-10T13:00Z"] and when(july, winter) == []
    assert when(january, winter) == ["2027-01-12T14:00Z"] and when(january, summer) == []


@pytest.mark.parametrize(("zone", "birthday", "at", "expected"), [
    # spring forward: 02:30 does not exist; reached once at the first instant after the gap
    ("America/New_York", "1990-03-08", "02:30", ["2026-03-08T07:00Z"]),   # 03:00 EDT
    ("Europe/Paris", "1990-03-29", "02:30", ["2026-03-29T01:00Z"]),       # 03:00 CEST
    # fall back: 01:30 (New York) and 02:30 (Paris) happen twice; reached once, at the first
    ("America/New_York", "1990-11-01", "01:30", ["2026-11-01T05:30Z"]),   # 01:30 EDT
    ("Europe/Paris", "1990-10-25", "02:30", ["2026-10-25T00:30Z"]),       # 02:30 CEST
    # the day after a change: the new offset
    ("Europe/Paris", "1990-03-30", "09:00", ["2026-03-30T07:00Z"]),
    ("Europe/London", "1990-10-26", "09:00", ["2026-10-26T09:00Z"]),
    # half- and quarter-hour zones are reached at their own quarter hour
    ("Asia/Kolkata", "1990-06-01", "09:00", ["2026-06-01T03:30Z"]),
    ("Asia/Kathmandu", "1990-06-01", "09:00", ["2026-06-01T03:15Z"]),
    ("Pacific/Chatham", "1990-06-01", "09:00", ["2026-05-31T20:15Z"]),   # +12:45 in June
    # a zone ahead of UTC whose local day starts on the previous UTC day
    ("Pacific/Kiritimati", "1990-06-01", "09:00", ["2026-05-31T19:00Z"]),
])
def test_given_a_contact_in_a_zone_then_it_is_reached_once_at_its_local_time_across_dst(
        aws, clock, zone, birthday, at, expected):
    record, trigger = date_map("date_matches", {"field": "birthday", "at": at})
    someone = contact("dst@example.com", birthday=birthday, timezone=zone)
    month_day = birthday[5:]

    found = reached(record, trigger, _around(f"2026-{month_day}"))

    assert when(found, someone) == expected


def _around(local_day: str) -> list[datetime]:
    """Every occurrence from the UTC day before to the UTC day after ``local_day``."""
    return occurrences(day(local_day) - timedelta(days=1), hours=72)


def test_given_a_minute_of_the_hour_then_the_schedule_runs_at_that_phase_and_reaches_it_on_time(aws, clock):
    # GIVEN a trigger at 09:07 (every zone's 09:07 falls on :07, :22, :37 or :52 UTC)
    record, trigger = date_map("date_matches", {"field": "birthday", "at": "09:07"})
    assert dates.schedule_expression(trigger) == ("cron(7/15 * * * ? *)", "UTC")
    kolkata = contact("kolkata@example.com", birthday="1990-06-01", timezone="Asia/Kolkata")

    found = reached(record, trigger, occurrences(day("2026-05-31"), hours=48, phase=7))

    assert when(found, kolkata) == ["2026-06-01T03:37Z"]


def test_given_contacts_without_a_timezone_then_the_maps_timezone_applies_and_a_fixed_zone_overrides_both(
        aws, clock):
    # GIVEN a map whose fallback timezone is Asia/Tokyo, a contact without a timezone, one with a
    # timezone that is not one, and a New Yorker
    record, trigger = date_map("date_matches", {"field": "birthday"}, timezone="Asia/Tokyo")
    nobody = contact("nozone@example.com", birthday="1990-05-17")
    martian = contact("mars@example.com", birthday="1990-05-17", timezone="Mars/Olympus_Mons")
    yorker = contact("ny@example.com", birthday="1990-05-17", timezone="America/New_York")

    found = reached(record, trigger, _around("2026-05-17"))

    # THEN both without a (valid) zone are reached at 09:00 Tokyo (00:00 UTC), the New Yorker at 09:00 EDT
    assert when(found, nobody) == when(found, martian) == ["2026-05-17T00:00Z"]
    assert when(found, yorker) == ["2026-05-17T13:00Z"]

    # WHEN another map reads the same field at 09:00 in a fixed zone, Europe/Paris
    fixed, paris = date_map("date_matches", {"field": "birthday", "timezone": "Europe/Paris"}, map_id="paris")
    found = reached(fixed, paris, _around("2026-05-17"))

    # THEN everyone is reached at 09:00 Paris (07:00 UTC), on Paris's 17 May
    assert [when(found, c) for c in (nobody, martian, yorker)] == [["2026-05-17T07:00Z"]] * 3


def test_given_a_birthday_on_29_february_then_it_is_the_28th_in_common_years_and_the_29th_in_leap_years(aws, clock):
    record, trigger = date_map("date_matches", {"field": "birthday"})
    leapling = contact("leap@example.com", birthday="2000-02-29", timezone="UTC")
    on_28th = contact("feb28@example.com", birthday="2001-02-28", timezone="UTC")

    common = reached(record, trigger, occurrences(day("2027-02-27"), hours=72))
    leap = reached(record, trigger, occurrences(day("2028-02-27"), hours=72))

    assert when(common, leapling) == ["2027-02-28T09:00Z"] and when(common, on_28th) == ["2027-02-28T09:00Z"]
    assert when(leap, leapling) == ["2028-02-29T09:00Z"] and when(leap, on_28th) == ["2028-02-28T09:00Z"]


def test_given_a_renewal_date_then_days_before_and_days_after_reach_that_day_of_that_year_only(aws, clock):
    # GIVEN a reminder 3 days before the renewal date and a follow-up 2 days after
    before, reminder = date_map("date_relative", {"field": "renewal_date", "days_before": 3}, map_id="reminder")
    after, follow_up = date_map("date_relative", {"field": "renewal_date", "days_after": 2}, map_id="follow-up")
    renewing = contact("renew@example.com", renewal_date="2026-12-10", timezone="Europe/Berlin")
    next_year = contact("later@example.com", renewal_date="2027-12-10", timezone="Europe/Berlin")
    datetime_value = contact("stamp@example.com", renewal_date="2026-12-10T00:00:00+01:00")  # Tokyo fallback

    december = occurrences(day("2026-12-05"), hours=24 * 9)
    reminded, followed = reached(before, reminder, december), reached(after, follow_up, december)

    # THEN the reminder is on 7 December at 09:00 Berlin, the follow-up on the 12th; not next year's
    assert when(reminded, renewing) == ["2026-12-07T08:00Z"] and when(followed, renewing) == ["2026-12-12T08:00Z"]
    assert when(reminded, next_year) == [] and when(followed, next_year) == []
    assert when(reminded, datetime_value) == ["2026-12-07T00:00Z"]


def test_given_an_occurrence_run_twice_or_overlapping_then_the_cause_is_the_same_per_contact_and_local_date(
        aws, clock):
    record, trigger = date_map("date_matches", {"field": "birthday"})
    someone = contact("twice@example.com", birthday="1990-07-10", timezone="Europe/Paris")
    at = day("2026-07-10T07:00:00")

    first = dates.page(record, trigger, at, None, 100).members
    again = dates.page(record, trigger, at.replace(second=42), None, 100).members  # a late delivery

    assert first == again == [(someone, dates.cause_id(trigger, datetime(2026, 7, 10).date()))]
    assert dates.cause_id(trigger, datetime(2026, 7, 10).date()).endswith(":2026-07-10")


def test_given_many_due_contacts_then_small_pages_reach_each_once_and_read_only_the_due_partitions(aws, clock):
    # GIVEN 30 Parisians and 5 New Yorkers born on 1 June, and 10 Parisians born on 2 June
    record, trigger = date_map("date_matches", {"field": "birthday"})
    parisians = [contact(f"p{i}@example.com", birthday="1980-06-01", timezone="Europe/Paris") for i in range(30)]
    yorkers = [contact(f"n{i}@example.com", birthday="1980-06-01", timezone="America/New_York") for i in range(5)]
    for i in range(10):
        contact(f"q{i}@example.com", birthday="1980-06-02", timezone="Europe/Paris")
    reached(record, trigger, [day("2026-06-01T06:00:00")])  # an earlier occurrence: the field is ready
    calls: list[str] = []
    client = aws_clients.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))

    # WHEN the 07:00 UTC occurrence (09:00 in Paris) is read 4 contacts a page
    found, cursor, pages = [], None, 0
    while pages == 0 or cursor is not None:
        page = dates.page(record, trigger, day("2026-06-01T07:00:00"), cursor, 4)
        found += page.members
        cursor, pages = page.cursor, pages + 1

    # THEN the 30 Parisians are reached once each and nobody else, in 8 pages (or one more)
    assert sorted(member for member, _ in found) == sorted(parisians) and len(found) == 30
    assert not set(yorkers) & {member for member, _ in found}
    assert pages in (8, 9)
    # AND it read only Queries: per page the zones in use, and Paris's 8 shards of 1 June (a page
    # ends inside a shard, so the next page continues it: at most one Query more per page)
    assert set(calls) == {"Query"} and len(calls) <= 2 * pages + SHARDS


def test_given_contacts_before_the_map_was_deployed_then_its_first_occurrence_indexes_them_and_reaches_them(
        aws, clock, monkeypatch):
    # GIVEN contacts with birthdays created while no map read the field
    early = [contact(f"e{i}@example.com", birthday="1975-08-20", timezone="Europe/Paris") for i in range(3)]
    # WHEN a birthday map is deployed and its first occurrence runs: a Scan page (here of 2 items)
    # per call indexes the field, then the day's contacts follow
    monkeypatch.setattr(dates, "BACKFILL_PAGE", 2)
    record, trigger = date_map("date_matches", {"field": "birthday"})
    first = dates.page(record, trigger, day("2026-08-20T07:00:00"), None, 100)
    assert first.members == [] and first.cursor is not None and "backfill" in first.cursor

    found = reached(record, trigger, [day("2026-08-20T07:00:00")])

    # THEN they are reached (and the field is ready: later occurrences do not scan again)
    assert sorted(member for member, _, _ in found) == sorted(early)
    assert dates.page(record, trigger, day("2026-08-20T07:15:00"), None, 100) == ([], None)


def test_given_a_date_is_trigger_then_the_members_are_reached_on_that_date_at_their_local_time(
        aws, clock, monkeypatch):
    # GIVEN a list "customers" of a Parisian, a New Yorker and one without a timezone (Tokyo's
    # applies), a contact not on the list, and a map on 25 December 2026 at 09:00 for the list
    record, trigger = date_map("date_is", {"date": "2026-12-25", "list": "customers"})
    paris = contact("paris@example.com", timezone="Europe/Paris")
    yorker = contact("yorker@example.com", timezone="America/New_York")
    tokyo = contact("tokyo@example.com")
    outsider = contact("outsider@example.com", timezone="Europe/Paris")
    for member in (paris, yorker, tokyo):
        ListStore().add("list", "customers", member)

    profiles_read: list[str] = []
    timezones_of = DateIndexStore.timezones_of
    monkeypatch.setattr(DateIndexStore, "timezones_of",
                        lambda self, ids: profiles_read.extend(ids) or timezones_of(self, ids))

    found = reached(record, trigger, occurrences(day("2026-12-23"), hours=24 * 4), limit=2)

    # THEN each member once, at 09:00 local on 25 December; the outsider never
    assert when(found, paris) == ["2026-12-25T08:00Z"]
    assert when(found, yorker) == ["2026-12-25T14:00Z"]
    assert when(found, tokyo) == ["2026-12-25T00:00Z"]
    assert when(found, outsider) == []
    # AND the audience was read 4 times: by the first occurrence with a zone on earth due (09:00
    # at UTC+14, 19:00 UTC on the 24th), which notes the audience's zones, then only when one of
    # them is due (Tokyo's, Paris's, New York's 09:00): 3 profiles each
    assert len(profiles_read) == 4 * 3
    # AND an occurrence far from the date reads nothing
    calls: list[str] = []
    client = aws_clients.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert dates.page(record, trigger, day("2026-12-20T08:00:00"), None, 10) == ([], None) and calls == []

    # WHEN a fixed zone is given instead: everyone at 09:00 Paris
    fixed, paris_trigger = date_map("date_is", {"date": "2026-12-25", "list": "customers", "timezone": "Europe/Paris"},
                                    map_id="paris")
    found = reached(fixed, paris_trigger, occurrences(day("2026-12-24"), hours=48))
    assert [when(found, c) for c in (paris, yorker, tokyo)] == [["2026-12-25T08:00Z"]] * 3


def test_given_a_day_of_occurrences_then_the_items_read_are_the_contacts_reached(aws, clock):
    # GIVEN 240 contacts in 6 zones (and none) with birthdays on 1-3 June
    import random

    record, trigger = date_map("date_matches", {"field": "birthday"})
    zones = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Los_Angeles", "UTC", None]
    pick = random.Random(10)
    people = {contact(f"r{i}@example.com", birthday=f"19{pick.randint(50, 99)}-06-0{pick.randint(1, 3)}",
                      **({"timezone": z} if (z := pick.choice(zones)) else {})): z for i in range(240)}
    reached(record, trigger, [day("2026-05-30T00:00:00")])  # the field's first occurrence: ready
    queries, items = [], []
    client = aws_clients.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb.Query", lambda params, **_: queries.append(params))
    client.meta.events.register("after-call.dynamodb.Query",
                                lambda parsed, **_: items.append(parsed.get("ScannedCount", 0)))

    # WHEN the 96 occurrences of 2 June (UTC) run
    found = reached(record, trigger, occurrences(day("2026-06-02")))

    # THEN every item read from the index was a contact reached (and each reached once)
    index_reads = sum(n for n, q in zip(items, queries, strict=True) if _index(q))
    assert len(found) == len({m for m, _, _ in found}) == index_reads > 0
    # AND the Queries: one for the zones in use per occurrence, 8 per (zone group, day) that came due
    due_groups = len({(_index(q), q["ExpressionAttributeValues"][":prefix"]["S"]) for q in queries if _index(q)})
    assert len(queries) == 96 + SHARDS * due_groups
    assert set(people.values()) and len(found) < len(people)


def _index(query: dict) -> str:
    """The index partition a Query read, without its shard ("" for another Query)."""
    pk = query["ExpressionAttributeValues"][":pk"]["S"]
    return pk.rsplit("#", 1)[0] if pk.startswith("DATE#") else ""


def test_given_a_fixed_zone_date_relative_then_every_zone_group_is_reached_at_that_zones_time(aws, clock):
    record, trigger = date_map("date_relative", {"field": "renewal_date", "days_before": 1,
                                                 "timezone": "America/Los_Angeles"}, map_id="renewals")
    ids = [contact(f"f{i}@example.com", renewal_date="2026-03-09", **({"timezone": z} if z else {}))
           for i, z in enumerate(("Europe/Paris", "Asia/Tokyo", None))]
    contact("other@example.com", renewal_date="2027-03-09", timezone="Europe/Paris")

    found = reached(record, trigger, _around("2026-03-08"))

    # 8 March at 09:00 in Los Angeles: PDT from that morning (02:00 -> 03:00), so 16:00 UTC
    assert sorted(m for m, _, _ in found) == sorted(ids)
    assert {at for _, at, _ in found} == {"2026-03-08T16:00Z"}


def test_given_a_contact_reached_when_its_timezone_moves_west_the_same_day_then_the_cause_is_the_same(aws, clock):
    # GIVEN a Parisian reached on their birthday at 09:00 Paris
    record, trigger = date_map("date_matches", {"field": "birthday"})
    someone = contact("mover@example.com", birthday="1990-07-10", timezone="Europe/Paris")
    [(_, first)] = dates.page(record, trigger, day("2026-07-10T07:00:00"), None, 10).members

    # WHEN they move to New York that morning, and New York's 09:00 comes
    update(someone, {"timezone": "America/New_York"})
    [(member, second)] = dates.page(record, trigger, day("2026-07-10T13:00:00"), None, 10).members

    # THEN it is the same cause (the same local date): the enrollment id is the same, it enrolls once
    assert member == someone and first == second
