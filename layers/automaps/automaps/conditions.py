"""Conditions: the model users write under `if`, `switch` and `only_if`, and their evaluation.

A condition is a mapping with one key: ``all`` / ``any`` (lists), ``not`` (one condition) or a
leaf (``has_tag``, ``field``, ...). Evaluation returns the verdict together with the inputs it
looked at, so the contact's history can answer "why did this contact take that branch".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from automaps.timing import Duration

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldTest(BaseModel):
    """``field: {name: age, gt: 45}``: exactly one operator besides ``name``."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    eq: Any = None
    ne: Any = None
    gt: Any = None
    ge: Any = None
    lt: Any = None
    le: Any = None
    contains: str | None = None
    starts_with: str | None = None
    is_set: Literal[True] | None = None
    is_empty: Literal[True] | None = None
    before: datetime | None = None
    after: datetime | None = None
    within_last: Duration | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> "FieldTest":
        given = [op for op in OPERATORS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"field condition on {self.name!r} needs exactly one operator of {', '.join(OPERATORS)}"
                + (f"; got {', '.join(given)}" if given else "")
            )
        return self

    @property
    def operator(self) -> str:
        return next(op for op in OPERATORS if getattr(self, op) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, self.operator)


OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "contains", "starts_with", "is_set", "is_empty",
             "before", "after", "within_last")


class HasTag(BaseModel):
    model_config = _STRICT
    has_tag: str = Field(min_length=1)


class FieldCondition(BaseModel):
    model_config = _STRICT
    field: FieldTest


class AllOf(BaseModel):
    model_config = _STRICT
    all: list["Condition"] = Field(min_length=1)


class AnyOf(BaseModel):
    model_config = _STRICT
    any: list["Condition"] = Field(min_length=1)


class NotCondition(BaseModel):
    model_config = _STRICT
    not_: "Condition" = Field(alias="not")


LEAVES: dict[str, type[BaseModel]] = {"has_tag": HasTag, "field": FieldCondition}
COMBINATORS = ("all", "any", "not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        for name, model in {**LEAVES, "all": AllOf, "any": AnyOf, "not": NotCondition}.items():
            if isinstance(value, model):
                return name
        return None
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in LEAVES or key in COMBINATORS:
            return key
    return None


Condition = Annotated[
    Union[
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
        Annotated[NotCondition, Tag("not")],
        Annotated[HasTag, Tag("has_tag")],
        Annotated[FieldCondition, Tag("field")],
    ],
    Discriminator(
        _condition_kind,
        custom_error_type="unknown_condition",
        custom_error_message=(
            "a condition is a mapping with one key: all, any, not, " + ", ".join(LEAVES)
        ),
    ),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotCondition.model_rebuild()


def dump(condition: BaseModel) -> dict[str, Any]:
    """The JSON form carried in a state machine definition (round-trips through the model)."""
    return condition.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- evaluation


class ContactView(BaseModel):
    """What conditions read of a contact (the store's Contact satisfies this shape)."""

    model_config = ConfigDict(extra="ignore")
    fields: dict[str, Any] = {}
    tags: set[str] = set()


def evaluate(condition: BaseModel, contact: Any, now: datetime) -> tuple[bool, list[dict[str, Any]]]:
    """Decide ``condition`` for ``contact``; returns the verdict and the leaves' inputs."""
    inputs: list[dict[str, Any]] = []
    result = _eval(condition, contact, now, inputs)
    return result, inputs


def _eval(c: BaseModel, contact: Any, now: datetime, inputs: list[dict[str, Any]]) -> bool:
    if isinstance(c, AllOf):
        return all(_eval(x, contact, now, inputs) for x in c.all)
    if isinstance(c, AnyOf):
        return any(_eval(x, contact, now, inputs) for x in c.any)
    if isinstance(c, NotCondition):
        return not _eval(c.not_, contact, now, inputs)
    if isinstance(c, HasTag):
        result = c.has_tag in contact.tags
        inputs.append({"has_tag": c.has_tag, "tags": sorted(contact.tags), "result": result})
        return result
    if isinstance(c, FieldCondition):
        value = contact.fields.get(c.field.name)
        result = _field_test(c.field, value, now)
        inputs.append({"field": c.field.name, "op": c.field.operator, "operand": _jsonable(c.field.operand),
                       "value": _jsonable(value), "result": result})
        return result
    raise TypeError(f"unsupported condition {type(c).__name__}")


def _field_test(test: FieldTest, value: Any, now: datetime) -> bool:
    op, operand = test.operator, test.operand
    if op == "is_set":
        return value not in (None, "", [], {})
    if op == "is_empty":
        return value in (None, "", [], {})
    if value is None:
        return op == "ne"
    if op in ("before", "after", "within_last"):
        at = _as_datetime(value)
        if at is None:
            return False
        if op == "within_last":
            return now - operand.to_timedelta() <= at <= now
        bound = operand if operand.tzinfo else operand.replace(tzinfo=UTC)
        return at < bound if op == "before" else at > bound
    if op == "contains":
        return operand.lower() in str(value).lower() if not isinstance(value, list) else operand in value
    if op == "starts_with":
        return str(value).lower().startswith(operand.lower())
    left, right = _comparable(value, operand)
    try:
        return {"eq": left == right, "ne": left != right}[op] if op in ("eq", "ne") else {
            "gt": lambda: left > right, "ge": lambda: left >= right,
            "lt": lambda: left < right, "le": lambda: left <= right}[op]()
    except TypeError:
        return False


def _comparable(value: Any, operand: Any) -> tuple[Any, Any]:
    """Form posts give strings: compare as numbers when both sides read as numbers."""
    if isinstance(operand, bool) or isinstance(value, bool):
        return str(value).lower(), str(operand).lower()
    try:
        return float(value), float(operand)
    except (TypeError, ValueError):
        return str(value).lower(), str(operand).lower()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, set):
        return sorted(value)
    return value
