"""Triggers: what starts a map (``triggers:`` in a map file, docs/map-format.md).

Each trigger type is a model here with its ``kind``; ``TRIGGER_MODELS`` lists them and
``Trigger`` is the validated union a map's ``triggers`` holds. What a trigger listens to is
matched against history entries by ``automaps.journeys.triggers``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from automaps.timing import suggest

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
MAP_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,59}"


def _form_id(value: str) -> str:
    import re

    if not re.fullmatch(MAP_ID_PATTERN, value):
        raise ValueError(
            f"form id {value!r} must be lowercase letters, digits and '-', at most 60 characters, e.g. newsletter"
        )
    return value


FormId = Annotated[str, AfterValidator(_form_id)]


class FormSubmitted(BaseModel):
    model_config = _STRICT
    form: FormId


class FormSubmittedTrigger(BaseModel):
    """``form_submitted: {form: newsletter}``: enrolls whoever submits that form."""

    model_config = _STRICT
    kind: ClassVar[str] = "form_submitted"
    form_submitted: FormSubmitted

    @property
    def key(self) -> str:
        """What the trigger listens to: the form id."""
        return self.form_submitted.form


TRIGGER_MODELS: dict[str, type[BaseModel]] = {"form_submitted": FormSubmittedTrigger}


def _trigger_shape(value: Any) -> Any:
    supported = ", ".join(TRIGGER_MODELS)
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            f"a trigger is a mapping with one key, such as {{form_submitted: {{form: newsletter}}}}; supported triggers: {supported}"
        )
    key = str(next(iter(value)))
    if key not in TRIGGER_MODELS:
        raise ValueError(
            f"unknown trigger {key!r}{suggest(key, tuple(TRIGGER_MODELS))}; supported triggers: {supported}"
        )
    return value


Trigger = Annotated[FormSubmittedTrigger, BeforeValidator(_trigger_shape)]


class TriggerKey(NamedTuple):
    """A trigger reduced to what enrollment looks up: its type and key (e.g. the form id)."""

    type: str
    key: str


# ---------------------------------------------------------------- the generic event and its filter

EVENT_KIND_PATTERN = r"[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)+"
WHERE_OPERATORS = (
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
)
_ORDERED = frozenset({"gt", "gte", "lt", "lte"})
_LISTS = frozenset({"in", "not_in"})


def _where(value: Any) -> Any:
    """``where``: attribute -> a plain value (equals) or a mapping of operators (all must hold)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(
            "where is a mapping of attribute to value, e.g. where: {product: course-101, total: {gte: 50}}"
        )
    for name, test in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"where: attribute names are strings such as product or fields.plan, not {name!r}")
        if not isinstance(test, dict):
            continue
        if not test:
            raise ValueError(f"where.{name}: give a value or one of {', '.join(WHERE_OPERATORS)}, e.g. {{gte: 50}}")
        for op, operand in test.items():
            if op not in WHERE_OPERATORS:
                raise ValueError(
                    f"where.{name}: unknown operator {op!r}{suggest(str(op), WHERE_OPERATORS)}; "
                    f"operators: {', '.join(WHERE_OPERATORS)} (or a plain value for equals)"
                )
            if op in _LISTS and not isinstance(operand, list):
                raise ValueError(f"where.{name}.{op} takes a list, e.g. {op}: [gold, silver]")
            if op == "exists" and not isinstance(operand, bool):
                raise ValueError(f"where.{name}.exists takes true or false")
            if op in _ORDERED and (isinstance(operand, (dict, list, bool)) or operand is None):
                raise ValueError(f"where.{name}.{op} takes a number, a decimal string or a date, e.g. {op}: 50")
            if op in ("contains", "starts_with") and isinstance(operand, (dict, list)):
                raise ValueError(f"where.{name}.{op} takes one value, e.g. {op}: vip")
    return value


class EventSpec(BaseModel):
    """An event by history kind and attributes: ``{kind: purchase.made, where: {product: course-101}}``.

    ``where`` maps an attribute of the entry's detail (a dotted path reads nested mappings:
    ``fields.plan``) to a plain value (equals) or to operators, all of which must hold:
    ``equals``, ``not_equals``, ``in``, ``not_in`` (lists), ``contains`` (a list holding the
    value, or text containing it, ignoring case), ``starts_with`` (ignoring case), ``gt``,
    ``gte``, ``lt``, ``lte`` and ``exists`` (true/false). Numbers and decimal strings compare
    as numbers (``"49.00"`` equals ``49``). Matched by ``automaps.journeys.triggers.event_matches``.
    """

    model_config = _STRICT
    kind: str = Field(
        min_length=3, max_length=100, pattern=EVENT_KIND_PATTERN, description="a history kind, e.g. purchase.made"
    )
    where: Annotated[dict[str, Any], BeforeValidator(_where)] = Field(default_factory=dict)
