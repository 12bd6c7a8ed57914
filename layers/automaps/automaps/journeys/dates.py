"""Ontraport's three date triggers: who an occurrence reaches, and the date index's upkeep.

``date_matches`` (every year on the month and day of a date field), ``date_relative`` (the day
``offset_days`` from a date field) and ``date_is`` (a given date, for a segment's or list's
members), each ``at`` a time of day in the contact's timezone (``timezone: contact``, the
default: the contact's ``timezone`` field when it is an IANA name, else the map's
``MapRecord.timezone``) or in a fixed zone.

Each date trigger has one recurring EventBridge Scheduler schedule (:func:`schedule_expression`):
every quarter hour, at the minute phase of its ``at``, so every zone's local ``at`` (whole, half
and quarter hour offsets alike) is a scheduled time. The occurrence at ``at`` reaches the
contacts whose due instant (their local ``at`` on the day that matches) is in the window
``(at - 15 min, at]``: each contact's due instant is in exactly one window, and the cause id is
deterministic per (trigger, contact, local date), so an occurrence run twice, or two overlapping
ones, enroll a contact once. The due instant of a time skipped by a DST change (02:30 on the
spring-forward day) is the first instant after the gap; of a repeated time (fall back), its first.

The dates are indexed (automaps.store.dates): :func:`route`, from the router, keeps one index
item per contact and date field a registered date trigger reads, in the contact's zone group; an
occurrence reads only the (field, month-day, zone group) partitions it makes due.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from aws_lambda_powertools import Logger

from automaps import aws
from automaps.journeys import enrollment
from automaps.journeys.enrollment import MapRecord
from automaps.journeys.schedules import Page
from automaps.maps.triggers import DateIs, DateMatches, DateRelative
from automaps.store.contacts import Contact, ContactStore, HistoryEntry
from automaps.store.dates import NO_ZONE, SHARDS, DateIndexStore, Indexed, index_pk

logger = Logger(child=True)

INDEXED_TYPES = ("date_matches", "date_relative")
DATE_TYPES = (*INDEXED_TYPES, "date_is")
PERIOD = timedelta(minutes=15)
"""Between two occurrences of a date trigger's schedule (the window each one reaches)."""
KINDS = frozenset({"contact.created", "contact.updated", "form.submitted"})
"""The history kinds that can set a contact's fields (a form's update writes only form.submitted)."""
BACKFILL_PAGE = 500
"""Items a backfill Scan page evaluates (a newly read field's first occurrence)."""

_BODIES: dict[str, type[DateMatches | DateRelative | DateIs]] = {
    "date_matches": DateMatches,
    "date_relative": DateRelative,
    "date_is": DateIs,
}


# ---------------------------------------------------------------- the schedule


def spec_of(trigger: enrollment.Trigger) -> DateMatches | DateRelative | DateIs:
    """The trigger's settings as their model (``spec`` is the body's JSON)."""
    return _BODIES[trigger.type].model_validate(trigger.spec or {})


def schedule_expression(trigger: enrollment.Trigger) -> tuple[str, str]:
    """The recurring schedule of a date trigger: every 15 minutes from the minute phase of its
    ``at`` (``09:07`` -> ``cron(7/15 * * * ? *)``), in UTC. Every zone's offset today is a whole
    quarter hour, so every zone's local ``at`` is one of its scheduled times; a fixed zone too."""
    spec = spec_of(trigger)
    return f"cron({_phase(spec)}/15 * * * ? *)", "UTC"


def _phase(spec: DateMatches | DateRelative | DateIs) -> int:
    return int(spec.at[3:5]) % 15


def window(spec: DateMatches | DateRelative | DateIs, at: datetime) -> tuple[datetime, datetime]:
    """``(start, end]``: the due instants the occurrence at ``at`` reaches (``at`` brought down
    to its scheduled quarter hour, whatever seconds a late delivery adds)."""
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    end = at - timedelta(minutes=(at.minute - _phase(spec)) % 15)
    return end - PERIOD, end


# ---------------------------------------------------------------- local time, DST


def due_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """The first instant (UTC) of ``day`` in ``zone`` whose wall clock reads ``at`` or later: the
    instant of ``at``; in a repeated hour its first; inside a skipped hour, the gap's end."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # skipped by a DST change: walk the minutes between the two readings to the gap's end
    low, high = sorted((first, naive.replace(tzinfo=zone, fold=1).astimezone(UTC)))
    moment = low
    while moment < high and moment.astimezone(zone).replace(tzinfo=None) < naive:
        moment += timedelta(minutes=1)
    return moment


def _due_days(zone: tzinfo, at: time, start: datetime, end: datetime) -> list[date]:
    """The local days of ``zone`` whose due instant for ``at`` falls in ``(start, end]``."""
    days = {start.astimezone(zone).date(), end.astimezone(zone).date()}
    return sorted(day for day in days if start < due_instant(day, at, zone) <= end)


def zone_of(contact: Contact | None = None, value: Any = None) -> str:
    """The contact's zone group: its ``timezone`` when it is an IANA name, else ``-``."""
    own = contact.timezone if contact is not None else value
    if not own:
        return NO_ZONE
    if isinstance(own, str) and _known_zone(own):
        return own
    logger.info(
        "contact timezone is not a timezone; the map's applies", extra={"contact_id": getattr(contact, "id", None)}
    )
    return NO_ZONE


@cache
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError):
        return False
    return True


@cache
def _all_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _fallback(record: MapRecord) -> ZoneInfo:
    return ZoneInfo(record.timezone or "UTC")


def date_value(name: str, value: Any, contact_id: str = "") -> date | None:
    """A date field's calendar date (``1990-05-17``, or the date part of a date-time as written);
    None when unset, or not a date (logged, never an error)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        logger.warning("date field is not a date: ignored", extra={"field": name, "contact_id": contact_id})
        return None


def cause_id(trigger: enrollment.Trigger, day: date) -> str:
    """Deterministic per (trigger, local date); with the contact, what enrolls once a day."""
    digest = hashlib.sha256(json.dumps([trigger.type, trigger.spec or {}], sort_keys=True).encode()).hexdigest()[:10]
    return f"{trigger.type}:{digest}:{day.isoformat()}"


# ---------------------------------------------------------------- the index's upkeep


def indexed_fields() -> frozenset[str]:
    """The date fields some registered map's date_matches or date_relative trigger reads."""
    return frozenset(
        str((t.spec or {}).get("field"))
        for record in enrollment.cached_maps()
        for t in record.triggers
        if t.type in INDEXED_TYPES and (t.spec or {}).get("field")
    )


def _names(entry: HistoryEntry) -> set[str] | None:
    """The field names the entry says it set (None: it does not say, so any may have changed)."""
    detail = entry.detail
    if entry.kind == "contact.updated" and isinstance(detail.get("set"), list):
        return {str(n) for n in detail.get("set", [])} | {str(n) for n in detail.get("cleared") or []}
    if isinstance(detail.get("fields"), list):
        return {str(n) for n in detail["fields"]}
    return None


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[str]:
    """Keep the contact's date index items current after ``entry``; returns the fields whose item
    changed. Reads nothing unless the entry can set a field a date trigger reads (or the
    timezone); then the profile and the contact's index items, and one transaction per change.
    Redelivery finds the index as the profile says and writes nothing."""
    if entry.kind not in KINDS:
        return []
    fields = indexed_fields()
    if not fields:
        return []
    names = _names(entry)
    if names is not None and not (names & (fields | {"timezone"})):
        return []
    return upkeep(contact_id, fields, ContactStore().get(contact_id))


_scopes: dict[str, tuple[Any, dict[str, Any]]] = {}


def _scope(store: DateIndexStore) -> dict[str, Any]:
    """What this process remembers of a table (the zones it added, the fields found ready),
    forgotten when the DynamoDB client changes (a new account)."""
    db = aws.client("dynamodb")
    found = _scopes.get(store.table)
    if found is None or found[0] is not db:
        found = (db, {"zones_added": set(), "ready": set()})
        _scopes[store.table] = found
    return found[1]


def upkeep(contact_id: str, fields: frozenset[str] | set[str], contact: Contact | None) -> list[str]:
    """Make the contact's index items for ``fields`` what its profile says (none when deleted)."""
    store = DateIndexStore()
    current = store.indexed(contact_id)
    group = zone_of(contact) if contact is not None else NO_ZONE
    wanted: dict[str, Indexed | None] = {}
    for field in sorted(fields):
        day = date_value(field, contact.fields.get(field), contact_id) if contact is not None else None
        wanted[field] = Indexed(field, day.isoformat(), group) if day is not None else None
    added = _scope(store)["zones_added"]
    if group != NO_ZONE and group not in added and any(wanted.values()):
        store.add_zone(group)  # before the items: an occurrence always knows a zone it could find
        added.add(group)
    changed = []
    for field, item in wanted.items():
        if item != current.get(field):
            store.change(contact_id, field, current.get(field), item)
            changed.append(field)
    if changed:
        logger.info("date index changed", extra={"contact_id": contact_id, "fields": changed, "group": group})
    return changed


def backfill(field: str, start: dict[str, Any] | None, limit: int | None = None) -> dict[str, Any] | None:
    """Index ``field`` for one Scan page of the contacts (a field no map read before has no index
    items for the contacts that already have it); returns where the next page starts, None: done
    (the field is then marked ready). Idempotent: what it writes is what the upkeep would."""
    store = DateIndexStore()
    profiles, following = store.profiles(start, limit or BACKFILL_PAGE)
    for item in profiles:
        contact = Contact.model_validate(item)
        if date_value(field, contact.fields.get(field), contact.id) is not None:
            upkeep(contact.id, {field}, contact)
    if following is None:
        store.mark_ready(field)
        _scope(store)["ready"].add(field)
    return following


def _field_ready(store: DateIndexStore, field: str) -> bool:
    ready = _scope(store)["ready"]
    if field not in ready and store.field_ready(field):
        ready.add(field)
    return field in ready


def forget() -> None:
    """Read the zones and the fields' readiness again."""
    _scopes.clear()


# ---------------------------------------------------------------- an occurrence's pages


class Task(NamedTuple):
    """One index partition an occurrence reads: ``pk``, the sort key prefix, the local date."""

    pk: str
    prefix: str
    day: str


def page(record: MapRecord, trigger: enrollment.Trigger, at: datetime, cursor: dict | None, limit: int) -> Page:
    """The contacts the occurrence at ``at`` reaches, ``limit`` at most, from ``cursor`` (None:
    the start). A page may be empty with a cursor (a backfill step, or empty partitions)."""
    spec = spec_of(trigger)
    start, end = window(spec, at)
    if isinstance(spec, DateIs):
        return _audience_page(record, trigger, spec, start, end, cursor, limit)
    assert isinstance(spec, (DateMatches, DateRelative))
    store = DateIndexStore()
    cursor = dict(cursor or {})
    if not _field_ready(store, spec.field):
        following = backfill(spec.field, cursor.get("backfill"))
        if following is not None:
            return Page([], {"backfill": following})
        cursor = {}
    tasks = _tasks(record, spec, start, end, store.zones())
    after = tuple(cursor["task"]) if cursor.get("task") else None
    key = cursor.get("key")
    members: list[tuple[str, str]] = []
    for task in tasks:
        if after is not None and task < after:
            continue
        if after is not None and task != after:
            key = None
        after = None
        while len(members) < limit:
            items, key = store.query(task.pk, task.prefix, key, limit - len(members))
            members += [(str(item["contact_id"]), cause_id(trigger, date.fromisoformat(task.day))) for item in items]
            if key is None:
                break
        if len(members) >= limit:
            return Page(members, {"task": list(task), "key": key} if key is not None else _next(tasks, task))
    return Page(members, None)


def _next(tasks: list[Task], task: Task) -> dict | None:
    later = [t for t in tasks if t > task]
    return {"task": list(later[0]), "key": None} if later else None


def _tasks(
    record: MapRecord, spec: DateMatches | DateRelative, start: datetime, end: datetime, zones: list[str]
) -> list[Task]:
    """The partitions and prefixes due in ``(start, end]``, in a stable order (a cursor names one)."""
    at = time.fromisoformat(spec.at)
    groups = [*zones, NO_ZONE]
    tasks: set[Task] = set()
    if spec.timezone != "contact":
        days = _due_days(ZoneInfo(spec.timezone), at, start, end)
        due = [(group, day) for day in days for group in groups]
    else:
        due = [
            (group, day)
            for group in groups
            for day in _due_days(ZoneInfo(group) if group != NO_ZONE else _fallback(record), at, start, end)
        ]
    for group, day in due:
        for month_day, prefix in _keys(spec, group, day, every_group=spec.timezone != "contact"):
            tasks.update(Task(index_pk(spec.field, month_day, s), prefix, day.isoformat()) for s in range(SHARDS))
    return sorted(tasks)


def _keys(spec: DateMatches | DateRelative, group: str, day: date, every_group: bool) -> list[tuple[str, str]]:
    """(month-day, sort key prefix) of the field dates due on local ``day`` for ``group``."""
    if isinstance(spec, DateRelative):
        field_day = day - timedelta(days=spec.offset_days)
        return [(field_day.strftime("%m-%d"), f"{group}#{field_day.isoformat()}")]
    prefix = "" if every_group else f"{group}#"  # a fixed zone: every group's partition at once
    month_days = [day.strftime("%m-%d")]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        month_days.append("02-29")  # 29 February is the 28th in other years
    return [(month_day, prefix) for month_day in month_days]


# ---------------------------------------------------------------- date_is: a segment's or list's members


def _audience_page(
    record: MapRecord,
    trigger: enrollment.Trigger,
    spec: DateIs,
    start: datetime,
    end: datetime,
    cursor: dict | None,
    limit: int,
) -> Page:
    """The members whose local date is ``spec.date`` and whose local ``at`` is in the window. No
    index: an occurrence with a zone due pages the audience and, for the contacts' own timezones,
    reads the members' profiles (100 a BatchGetItem). The zone groups an occurrence saw are kept
    (``DATEIS#<map>#<trigger>``/``<date>``), so a later occurrence in which none of them is due
    reads nothing more than that item."""
    day, at = date.fromisoformat(spec.date), time.fromisoformat(spec.at)
    earliest = datetime.combine(day, time(), tzinfo=UTC) - timedelta(hours=15)
    latest = datetime.combine(day, time(), tzinfo=UTC) + timedelta(hours=39)
    if end < earliest or start > latest:
        return Page([], None)  # no zone on earth is on that date in this window: nothing read
    fixed = spec.timezone != "contact"
    store = DateIndexStore()
    seen_key = {"pk": f"DATEIS#{record.id}#{cause_id(trigger, day)}", "sk": day.isoformat()}
    if fixed:
        if day not in _due_days(ZoneInfo(spec.timezone), at, start, end):
            return Page([], None)
        due_zones: set[str] = set()
        fallback_due = True
    else:
        due_zones = {z for z in _all_zones() if day in _due_days(ZoneInfo(z), at, start, end)}
        fallback_due = day in _due_days(_fallback(record), at, start, end)
        if not due_zones and not fallback_due:
            return Page([], None)
        if not cursor:
            known = store.seen_groups(seen_key)
            if known is not None and not any(g in due_zones if g != NO_ZONE else fallback_due for g in known):
                return Page([], None)  # the audience's zones, as last seen, are not due now
    pk = f"SEGMENT#{spec.segment}" if spec.segment is not None else f"LIST#{spec.list}"
    key = (cursor or {}).get("key")
    seen = set((cursor or {}).get("groups") or ())
    members: list[tuple[str, str]] = []
    cause = cause_id(trigger, day)
    while len(members) < limit:
        ids, key = store.audience(pk, key, limit - len(members))
        if fixed:
            members += [(contact_id, cause) for contact_id in ids]
        elif ids:
            zones = store.timezones_of(ids)
            for contact_id in ids:
                group = zone_of(value=zones.get(contact_id))
                seen.add(group)
                if (group in due_zones) if group != NO_ZONE else fallback_due:
                    members.append((contact_id, cause))
        if key is None:
            if not fixed and seen:
                expiration = int((datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=3)).timestamp())
                store.add_seen_groups(seen_key, seen, expiration)
            return Page(members, None)
    return Page(members, {"key": key, **({"groups": sorted(seen)} if not fixed else {})})
