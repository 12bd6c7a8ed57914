"""Trigger matching: which maps a history entry starts (see automaps.journeys.router).

:func:`event_matches` decides an :class:`~automaps.maps.triggers.EventSpec` (``{kind, where}``)
for one entry; the generic ``event`` trigger, goals and ``wait_until`` use it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from automaps import clock
from automaps.maps.triggers import EventSpec
from automaps.store.contacts import HistoryEntry

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
    if name in detail:
        return detail[name]
    value: Any = detail
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


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


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[str]:
    """Queue the contact's enrollment in every map a trigger of which ``entry`` matches; returns
    the ids of those maps."""
    return []
