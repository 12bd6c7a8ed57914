"""Trigger matching: which maps a history entry starts (see automaps.journeys.router).

:func:`route` takes one history entry: every registered map one of whose triggers matches it
(and whose ``only_if`` holds for the contact) gets an :class:`EnrollRequest` on the EnrollQueue,
caused by the entry's sort key, so an entry delivered twice enrolls once. The registry (the
content table's ``MAP#`` items) is read at most once a minute per table; entries of kinds no
trigger listens to cost no read at all. Chains of maps (a map's step writes an entry that starts
another map) are bounded by :data:`MAX_CHAIN_DEPTH`.

:func:`event_matches` decides an :class:`~automaps.maps.triggers.EventSpec` (``{kind, where}``)
for one entry; the generic ``event`` trigger, goals and ``wait_until`` use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import TypeAdapter, ValidationError

from automaps import aws, clock, config
from automaps.maps import triggers as t
from automaps.maps.triggers import EventSpec, Trigger, TriggerBase
from automaps.store.contacts import Contact, ContactStore, HistoryEntry

logger = Logger(child=True)

MAX_CHAIN_DEPTH = 10
"""How many maps deep a chain may go: an entry a map's step wrote starts the next map at its
enrollment's depth + 1; above this the entry enrolls nowhere and ``map.enroll_skipped`` says why."""
REGISTRY_SECONDS = 60.0
"""How long the router keeps the map registry it read (per content table)."""
NEVER_ROUTED = frozenset({"form.submitted"})
"""Kinds whose triggers enroll elsewhere: a form post enrolls at post time, with its values."""

_MISSING = object()


def event_matches(spec: EventSpec | dict[str, Any], kind: str, detail: dict[str, Any], at: Any = None) -> bool:
    """Whether an entry of ``kind`` with ``detail`` is the event ``spec`` names: the same kind
    and every ``where`` test holding. ``at`` (the entry's time) is the attribute ``at`` when the
    detail has none. Values in ``where`` may be merge fields already rendered (strings): numbers
    and decimal strings compare as numbers."""
    if not isinstance(spec, EventSpec):
        spec = EventSpec.model_validate(spec)
    if spec.kind != kind:
        return False
    if at is not None and "at" not in detail:
        detail = {**detail, "at": clock.iso(at) if isinstance(at, datetime) else str(at)}
    return all(_holds(test, attribute(detail, name)) for name, test in spec.where.items())


def entry_matches(spec: EventSpec | dict[str, Any], entry: HistoryEntry) -> bool:
    """:func:`event_matches` for a history entry."""
    return event_matches(spec, entry.kind, entry.detail, entry.at)


def attribute(detail: dict[str, Any], name: str) -> Any:
    """``detail[name]``, or a dotted path into nested mappings (``fields.plan``); ``_MISSING`` if absent."""
    from automaps.conditions.evaluate import attribute as read

    return read(detail, name, _MISSING)


def _holds(test: Any, value: Any) -> bool:
    if not isinstance(test, dict):
        return value is not _MISSING and _equal(value, test)
    return all(_operator(op, operand, value) for op, operand in test.items())


def _operator(op: str, operand: Any, value: Any) -> bool:
    present = value is not _MISSING and value is not None
    if op == "exists":
        return present == bool(operand)
    if op == "not_equals":
        return not present or not _equal(value, operand)
    if op == "not_in":
        return not present or not any(_equal(value, one) for one in operand)
    if not present:
        return False
    if op == "equals":
        return _equal(value, operand)
    if op == "in":
        return any(_equal(value, one) for one in operand)
    if op == "contains":
        if isinstance(value, list):
            return any(_equal(one, operand) for one in value)
        return str(operand).lower() in str(value).lower()
    if op == "starts_with":
        return str(value).lower().startswith(str(operand).lower())
    return _ordered(op, value, operand)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _equal(value: Any, operand: Any) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return str(value).lower() == str(operand).lower()
    left, right = _number(value), _number(operand)
    if left is not None and right is not None:
        return left == right
    if isinstance(value, (dict, list)) or isinstance(operand, (dict, list)):
        return bool(value == operand)
    return str(value) == str(operand)


def _ordered(op: str, value: Any, operand: Any) -> bool:
    left: Any = _number(value)
    right: Any = _number(operand)
    if left is None or right is None:  # not numbers: ISO dates and text compare as text
        if left is not None or right is not None or isinstance(value, (dict, list, bool)):
            return False
        left, right = _text(value), _text(operand)
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _text(value: Any) -> str:
    return clock.iso(value) if isinstance(value, datetime) else str(value)


# ---------------------------------------------------------------- the registry, as the router sees it


@dataclass(frozen=True)
class Listener:
    """One trigger of one deployed map."""

    map_id: str
    trigger: TriggerBase


@dataclass(frozen=True)
class _Loaded:
    client: Any  # the DynamoDB client it was read with: a new account (tests, local runs) reads again
    at: float
    by_kind: dict[str, list[Listener]]


_registries: dict[str, _Loaded] = {}
_registry_lock = threading.Lock()


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Trigger)


def listeners() -> dict[str, list[Listener]]:
    """The registered maps' triggers by the history kind they listen to (read at most every
    :data:`REGISTRY_SECONDS` per content table)."""
    from automaps.journeys import enrollment

    table, db = config.content_table(), aws.client("dynamodb")
    with _registry_lock:
        found = _registries.get(table)
        if found is not None and found.client is db and time.monotonic() - found.at < REGISTRY_SECONDS:
            return found.by_kind
    by_kind: dict[str, list[Listener]] = {}
    for record in enrollment.registered_maps():
        for registered in record.triggers:
            if registered.spec is None or registered.type == "form_submitted":
                continue
            try:
                body = {registered.type: registered.spec}
                trigger = _adapter().validate_python(
                    {**body, "only_if": registered.only_if} if registered.only_if else body
                )
            except ValidationError as error:  # a registry written by a newer version: not ours to guess
                logger.warning(
                    "registered trigger not understood",
                    extra={"map_id": record.id, "trigger": registered.type, "error": str(error)[:500]},
                )
                continue
            for kind in trigger.history_kinds():
                by_kind.setdefault(kind, []).append(Listener(record.id, trigger))
    with _registry_lock:
        _registries[table] = _Loaded(db, time.monotonic(), by_kind)
    return by_kind


def forget_registry() -> None:
    """Read the registry again at the next entry (after ``automaps push`` in the same process)."""
    with _registry_lock:
        _registries.clear()


# ---------------------------------------------------------------- routing one entry


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[str]:
    """Queue the contact's enrollment in every map a trigger of which ``entry`` matches; returns
    the ids of those maps. Raises ``enrollment.IntakeUnavailable`` when SQS refuses (the stream
    delivers the entry again; the enrollment ids are the same)."""
    from automaps.journeys import enrollment

    if entry.kind in NEVER_ROUTED or _chain_limit_record(entry):
        return []
    candidates = listeners().get(entry.kind)
    if not candidates:
        return []
    contact = _Once(lambda: ContactStore().get(contact_id))
    matched: dict[str, TriggerBase] = {}
    for listener in candidates:
        if listener.map_id in matched or not matches(listener.trigger, entry, listener.map_id, contact):
            continue
        found = contact()  # an erased contact enrolls nowhere
        if found is not None and _only_if_holds(listener, found):
            matched[listener.map_id] = listener.trigger
    if not matched:
        return []
    depth, chain = _depth(contact_id, entry)
    if depth > MAX_CHAIN_DEPTH:
        _record_chain_limit(contact_id, sort_key, entry, depth, chain, sorted(matched))
        return []
    at = clock.iso(entry.at)
    for map_id, trigger in matched.items():
        event = {
            **entry.detail,
            "type": trigger.kind,
            "kind": entry.kind,
            "at": at,
            "entry": sort_key,
            "depth": depth,
            "chain": chain,
        }
        enrollment.enqueue(
            enrollment.EnrollRequest(
                contact_id=contact_id,
                map_id=map_id,
                enrollment_id=enrollment.enrollment_id_for(map_id, contact_id, sort_key),
                cause_id=sort_key,
                event=event,
            )
        )
    logger.info("entry routed", extra={"kind": entry.kind, "maps": sorted(matched), "depth": depth})
    return list(matched)


class _Once:
    """The contact, read at most once and only if a trigger needs it."""

    def __init__(self, read: Callable[[], Contact | None]) -> None:
        self._read, self._done = read, False
        self._value: Contact | None = None

    def __call__(self) -> Contact | None:
        if not self._done:
            self._value, self._done = self._read(), True
        return self._value


def _only_if_holds(listener: Listener, contact: Contact) -> bool:
    if listener.trigger.only_if is None:
        return True
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts

    met, inputs = evaluate(listener.trigger.only_if, Facts(contact, clock.now(), map_id=listener.map_id))
    if not met:
        logger.debug("trigger's only_if not met", extra={"map_id": listener.map_id, "inputs": inputs})
    return met


def _depth(contact_id: str, entry: HistoryEntry) -> tuple[int, list[str]]:
    """How deep in a chain of maps the entry stands: 0 unless a map's step (or its enrollment)
    wrote it; then the writing enrollment's depth + 1, and the maps of the chain so far. The
    writing enrollment is ``enrollment_id`` in the map ``map_id`` (an ``automation.*`` entry
    may name it ``by_map``)."""
    enrollment_id = entry.enrollment_id or entry.detail.get("enrollment_id")
    maps = [m for m in dict.fromkeys((entry.map_id, entry.detail.get("by_map"))) if isinstance(m, str) and m]
    if not isinstance(enrollment_id, str) or not maps:
        return 0, []
    store = ContactStore()
    for map_id in maps:
        parent = store.get_enrollment(contact_id, map_id, enrollment_id)
        if parent is not None:
            so_far, depth = parent.event.get("chain"), parent.event.get("depth")
            before = [str(m) for m in so_far] if isinstance(so_far, list) else []
            return (depth if isinstance(depth, int) else 0) + 1, [*before, map_id][-(MAX_CHAIN_DEPTH + 1) :]
    logger.warning("the enrollment that wrote the entry is not stored", extra={"maps": maps, "kind": entry.kind})
    return 1, maps[:1]


def _chain_limit_record(entry: HistoryEntry) -> bool:
    """Our own record of a stopped chain starts nothing (else it could carry the loop on)."""
    return entry.kind == "map.enroll_skipped" and entry.detail.get("chain_limit") is True


def _record_chain_limit(
    contact_id: str, sort_key: str, entry: HistoryEntry, depth: int, chain: list[str], maps: list[str]
) -> None:
    loop = " -> ".join([*chain, "|".join(maps)])
    ContactStore().record_once(
        contact_id,
        f"map.enroll_skipped\nchain\n{sort_key}",
        "map.enroll_skipped",
        {
            "reason": (
                f"a chain of maps went deeper than {MAX_CHAIN_DEPTH} ({loop}): the {entry.kind} entry written by "
                f"a step of {entry.map_id} does not start {' or '.join(maps)}"
            ),
            "chain_limit": True,
            "depth": depth,
            "chain": chain,
            "maps": maps,
            "entry": sort_key,
        },
        map_id=entry.map_id,
        enrollment_id=entry.enrollment_id,
        at=entry.at,
    )
    logger.warning("chain of maps stopped", extra={"depth": depth, "chain": chain, "maps": maps})


# ---------------------------------------------------------------- does this trigger match this entry


def matches(trigger: TriggerBase, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    """Whether ``entry`` is what ``trigger`` (of the map ``map_id``) listens to. ``contact`` reads
    the contact (``field_updated`` with a ``value`` test reads the field's new value there)."""
    if entry.kind not in trigger.history_kinds():
        return False
    decide = _MATCHERS.get(type(trigger).kind)
    return decide is not None and decide(trigger.body, entry, map_id, contact)


Matcher = Callable[[Any, HistoryEntry, str, Callable[[], Contact | None]], bool]


def _any(body: Any, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    return True


def _field_updated(
    body: t.FieldUpdated, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]
) -> bool:
    changed = [*(entry.detail.get("set") or []), *(entry.detail.get("cleared") or [])]
    if body.field not in changed:
        return False
    if body.value is None:
        return True
    from automaps.conditions.evaluate import value_test

    found = contact()  # the entry names the fields, not their values (no personal data in the history)
    return found is not None and value_test(body.value, found.fields.get(body.field), clock.now())


def _tag(key: str) -> Matcher:
    def decide(body: t.TagRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
        return body.tag in (entry.detail.get(key) or [])

    return decide


def _list(body: t.ListRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    return entry.detail.get("list") == body.list


def _email(body: t.EmailRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    return (
        (body.map is None or entry.map_id == body.map)
        and (body.step is None or entry.step_id == body.step)
        and (body.template is None or entry.detail.get("template") == body.template)
        and (not isinstance(body, t.LinkRef) or body.url is None or _same_page(entry.detail.get("url"), body.url))
    )


def _page(body: t.PageRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    return (
        (body.url is None or _same_page(entry.detail.get("url"), body.url))
        and (body.page is None or entry.detail.get("page") == body.page)
        and (body.funnel is None or entry.detail.get("funnel") == body.funnel)
    )


def _same_page(recorded: Any, wanted: str) -> bool:
    from automaps.intake.visits import page_address

    return isinstance(recorded, str) and page_address(recorded).rstrip("/") == page_address(wanted).rstrip("/")


def _attributes(**names: str) -> Matcher:
    """Each of the body's optional settings, when given, equals the detail's attribute."""

    def decide(body: Any, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
        return all(
            getattr(body, setting) is None or entry.detail.get(attribute_name) == getattr(body, setting)
            for setting, attribute_name in names.items()
        )

    return decide


def _segment(body: t.SegmentRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    """The segment's own transitions; not those of a fill (the members it already had when it was
    pushed: automaps.journeys.segments.fill), which would start its maps for everyone at once."""
    return entry.detail.get("segment") == body.segment and not entry.detail.get("fill")


def _automation(body: t.AutomationRef, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    if entry.detail.get("map") != (body.map or map_id):
        return False
    return not isinstance(body, t.AddedToAutomation) or body.from_ is None or entry.detail.get("by_map") == body.from_


def _event(body: EventSpec, entry: HistoryEntry, map_id: str, contact: Callable[[], Contact | None]) -> bool:
    return entry_matches(body, entry)


_PRODUCT = _attributes(product="product")
_COURSE = _attributes(course="course")
_MATCHERS: dict[str, Matcher] = {
    "contact_created": _any,
    "field_updated": _field_updated,
    "tag_added": _tag("added"),
    "tag_removed": _tag("removed"),
    "added_to_list": _list,
    "removed_from_list": _list,
    "added_to_fulfillment": _list,
    "removed_from_fulfillment": _list,
    "email_sent": _email,
    "email_opened": _email,
    "link_clicked": _email,
    "page_visited": _page,
    "purchase_made": _PRODUCT,
    "purchase_refunded": _PRODUCT,
    "open_order_created": _PRODUCT,
    "order_charged": _PRODUCT,
    "card_declined": _PRODUCT,
    "course_started": _COURSE,
    "course_completed": _COURSE,
    "course_subscribed": _COURSE,
    "course_step_completed": _attributes(course="course", step="step"),
    "account_created": _attributes(platform="platform"),
    "task_completed": _attributes(name="title"),
    "note_added": _any,
    "added_to_automation": _automation,
    "removed_from_automation": _automation,
    "paused_on_automation": _automation,
    "unpaused_on_automation": _automation,
    "segment_entered": _segment,
    "segment_exited": _segment,
    "event": _event,
}
