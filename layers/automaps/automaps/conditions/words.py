"""Conditions in words, for the Comments of compiled state machines and for error messages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from automaps.conditions import model as m
from automaps.timing import Duration, duration_words

_OPERATORS = {
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "contains": "contains",
    "starts_with": "starts with",
    "is_set": "is set",
    "is_empty": "is empty",
    "before": "is before",
    "after": "is after",
    "within_last": "is within the last",
}
_NOUNS = ("email", "list", "product", "course", "funnel", "map", "platform")
_CALENDAR = (m.DateAdded, m.LastFormSubmitDate, m.CurrentDate, m.CurrentTime, m.LastActiveDate)


def describe(condition: BaseModel) -> str:
    """A condition in words, e.g. ``has tag 'vip' and field age > 45``."""
    if isinstance(condition, (m.AllOf, m.AnyOf)):
        parts = condition.all if isinstance(condition, m.AllOf) else condition.any
        joiner = " and " if isinstance(condition, m.AllOf) else " or "
        return joiner.join(_grouped(part) for part in parts)
    if isinstance(condition, m.NotCondition):
        return f"not {_grouped(condition.not_)}"
    if isinstance(condition, m.HasTag):
        return f"has tag '{condition.has_tag}'"
    if isinstance(condition, m.FieldCondition):
        return f"field {condition.field.name}{_test(condition.field)}"
    if isinstance(condition, m.EventAttribute):
        test = condition.event_attribute
        what = f"had event {test.event}" + (f" with {test.name}{_test(test)}" if test.name else "")
        return what + _within(test.within)
    kind = m.kind_of(condition) or type(condition).__name__
    value = getattr(condition, kind, None)
    args = _args(value) if isinstance(value, BaseModel) else ""
    return kind.replace("_", " ") + (f" {args}" if args else "")


def needs_timezone(condition: BaseModel) -> bool:
    """Whether the condition reads calendar dates or times of day in the contact's timezone
    (then the map's timezone goes along as the fallback for contacts without one)."""
    return any(
        isinstance(leaf, _CALENDAR) and getattr(leaf, m.kind_of(leaf) or "").timezone == "contact"
        for leaf in m.leaves(condition)
    )


def _grouped(condition: BaseModel) -> str:
    words = describe(condition)
    return f"({words})" if isinstance(condition, (m.AllOf, m.AnyOf)) else words


def _test(test: m.ValueTest) -> str:
    op = test.operator
    return f" {_OPERATORS[op]}" + ("" if op in ("is_set", "is_empty") else f" {_operand(test.operand)}")


def _within(period: Duration | None) -> str:
    return f" in the last {duration_words(period.total_seconds)}" if period else ""


def _args(value: BaseModel) -> str:
    parts = []
    for name in value.model_dump(exclude_none=True, exclude_defaults=True):
        item = getattr(value, name)
        if name == "within":
            parts.append(_within(item).strip())
        elif isinstance(item, (tuple, list)) and name == "between":
            parts.append(f"between {_operand(item[0])} and {_operand(item[1])}")
        elif isinstance(item, list):
            parts.append(f"{name} {', '.join(map(str, item))}")
        elif name in _NOUNS:
            parts.append(_operand(item))
        else:
            parts.append(f"{name.replace('_', ' ')} {_operand(item)}")
    return ", ".join(parts)


def _operand(operand: Any) -> str:
    if isinstance(operand, Duration):
        return duration_words(operand.total_seconds)
    if isinstance(operand, str):
        return f"'{operand}'"
    if isinstance(operand, datetime):
        return (operand if operand.tzinfo else operand.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")
    if isinstance(operand, date):
        return operand.isoformat()
    return json.dumps(operand)
