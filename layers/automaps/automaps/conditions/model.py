"""The condition model: what users write under `if`, `switch` and `only_if`.

A condition is a mapping with one key: ``all`` / ``any`` (lists), ``not`` (one condition) or a
leaf. Every leaf of Sales Jet's conditions page and Ontraport's usual ones is here; each reads
what the backend really records (docs/architecture.md, "Events: what conditions read"). Leaves
that name one thing take a short form: ``opened_email: welcome-email`` is
``opened_email: {email: welcome-email}``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from automaps.timing import Duration, PositiveDuration, TimeOfDay, _wait_timezone

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _when(value: Any) -> Any:
    """YAML gives dates and date-times; a string with a time part is a date-time, else a date."""
    if isinstance(value, str):
        text = value.strip()
        if "T" in text or " " in text:
            return datetime.fromisoformat(text)
        return date.fromisoformat(text)
    return value


Moment = Annotated[datetime | date, BeforeValidator(_when)]


def _short(key: str):
    """``x: value`` is ``x: {key: value}`` for a leaf whose value names one thing."""

    def expand(value: Any) -> Any:
        return {key: value} if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value

    return BeforeValidator(expand)


def _any_or(key: str):
    """``true`` means "any"; a string names one (``course_completed: true`` / ``course_completed: python-101``)."""

    def expand(value: Any) -> Any:
        if value is True:
            return {}
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(expand)


# ---------------------------------------------------------------- operators on values

OPERATORS = (
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "contains",
    "starts_with",
    "is_set",
    "is_empty",
    "before",
    "after",
    "within_last",
)


class ValueTest(BaseModel):
    """Exactly one operator and its operand, e.g. ``gt: 45`` or ``within_last: {days: 2}``."""

    model_config = _STRICT

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

    def _given(self) -> list[str]:
        return [op for op in OPERATORS if getattr(self, op) is not None]

    def _subject(self) -> str:
        return "condition"

    @model_validator(mode="after")
    def _one_operator(self) -> ValueTest:
        given = self._given()
        if len(given) != 1 and self._needs_operator():
            raise ValueError(
                f"{self._subject()} needs exactly one operator of {', '.join(OPERATORS)}"
                + (f"; got {', '.join(given)}" if given else "")
            )
        return self

    def _needs_operator(self) -> bool:
        return True

    @property
    def operator(self) -> str:
        """The one operator given ("" only for a test built without validation)."""
        return next((op for op in OPERATORS if getattr(self, op) is not None), "")

    @property
    def operand(self) -> Any:
        return getattr(self, self.operator) if self.operator else None


class FieldTest(ValueTest):
    """``field: {name: age, gt: 45}``: exactly one operator besides ``name``."""

    name: str = Field(min_length=1)

    def _subject(self) -> str:
        return f"field condition on {self.name!r}"


class EventAttributeTest(ValueTest):
    """``event_attribute: {event: purchase.made, name: total, gt: 100}``; without ``name``: had the event."""

    event: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    within: PositiveDuration | None = Field(default=None, description="only events in this last period")

    def _subject(self) -> str:
        return f"event_attribute on {self.event!r} attribute {self.name!r}"

    def _needs_operator(self) -> bool:
        return self.name is not None

    @model_validator(mode="after")
    def _operator_needs_name(self) -> EventAttributeTest:
        if self.name is None and self._given():
            raise ValueError("event_attribute: an operator needs the attribute's name, e.g. name: total")
        return self


class DateTest(BaseModel):
    """A date or time compared with one of ``on``, ``before``, ``after``, ``between``, ``within_last``.

    Dates (``2026-11-20``) are calendar days in ``timezone``: ``contact`` (the contact's own,
    falling back to the map's ``timezone``) or an IANA name.
    """

    model_config = _STRICT

    on: date | None = None
    before: Moment | None = None
    after: Moment | None = None
    between: tuple[Moment, Moment] | None = None
    within_last: PositiveDuration | None = None
    timezone: Annotated[str, BeforeValidator(_wait_timezone)] = "contact"

    @field_validator("on", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
            raise ValueError("'on' takes a calendar date such as 2026-11-20; use after/before for a time")
        return value

    @model_validator(mode="after")
    def _one_test(self) -> DateTest:
        given = [name for name in DATE_TESTS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a date condition takes exactly one of {', '.join(DATE_TESTS)}"
                + (f"; got {', '.join(given)}" if given else "")
            )
        if self.between is not None and _sort_key(self.between[0]) > _sort_key(self.between[1]):
            raise ValueError("between: the first date must not be after the second")
        return self

    @property
    def test(self) -> str:
        return next(name for name in DATE_TESTS if getattr(self, name) is not None)


DATE_TESTS = ("on", "before", "after", "between", "within_last")


def _sort_key(value: date | datetime) -> tuple:
    return (
        (value.year, value.month, value.day)
        if not isinstance(value, datetime)
        else (value.year, value.month, value.day, value.hour, value.minute, value.second)
    )


# ---------------------------------------------------------------- leaves


class HasTag(BaseModel):
    model_config = _STRICT
    has_tag: str = Field(min_length=1)


class FieldCondition(BaseModel):
    model_config = _STRICT
    field: FieldTest


class EmailRef(BaseModel):
    """Which email: a send_email step (``email``, of this map unless ``map`` is given) or a ``template``.

    Neither means any email. ``within`` limits to events in the last period.
    """

    model_config = _STRICT
    email: str | None = Field(default=None, min_length=1, max_length=60, description="the send_email step's id")
    map: str | None = Field(default=None, min_length=1, max_length=60)
    template: str | None = Field(default=None, min_length=1, max_length=100)
    within: PositiveDuration | None = None


class LinkRef(EmailRef):
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="the link's address (compared without its query string); none: any link",
    )


class OpenedEmail(BaseModel):
    model_config = _STRICT
    opened_email: Annotated[EmailRef, _short("email")]


class ClickedLink(BaseModel):
    model_config = _STRICT
    clicked_link: Annotated[LinkRef, _short("email")]


class PageRef(BaseModel):
    """A page by address (``url``) and/or page id (``page``), optionally within a ``funnel``."""

    model_config = _STRICT
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    page: str | None = Field(default=None, min_length=1, max_length=200)
    funnel: str | None = Field(default=None, min_length=1, max_length=200)
    within: PositiveDuration | None = None

    @model_validator(mode="after")
    def _something(self) -> PageRef:
        if not (self.url or self.page or self.funnel):
            raise ValueError(
                "visited_page needs url, page or funnel, e.g. visited_page: {url: https://example.com/pricing}"
            )
        return self


def _page_short(value: Any) -> Any:
    if isinstance(value, str):
        return {"url": value} if "://" in value else {"page": value}
    return value


class VisitedPage(BaseModel):
    model_config = _STRICT
    visited_page: Annotated[PageRef, BeforeValidator(_page_short)]


class FunnelRef(BaseModel):
    model_config = _STRICT
    funnel: Name
    within: PositiveDuration | None = None


class InsideFunnel(BaseModel):
    model_config = _STRICT
    inside_funnel: Annotated[FunnelRef, _short("funnel")]


class ProductRef(BaseModel):
    model_config = _STRICT
    product: Name


class HasProduct(BaseModel):
    model_config = _STRICT
    has_product: Annotated[ProductRef, _short("product")]


class PurchaseRef(BaseModel):
    model_config = _STRICT
    product: Name | None = None
    within: PositiveDuration | None = None


class PurchasedProduct(BaseModel):
    model_config = _STRICT
    purchased_product: Annotated[PurchaseRef, _any_or("product")]


class DateAdded(BaseModel):
    model_config = _STRICT
    date_added: DateTest


class FormDateTest(DateTest):
    form: str | None = Field(default=None, min_length=1, max_length=60, description="one form; none: any form")


class LastFormSubmitDate(BaseModel):
    model_config = _STRICT
    last_form_submit_date: FormDateTest


class CurrentDateTest(BaseModel):
    """Today (in ``timezone``) is ``on``/``before``/``after``/``between`` dates, and/or one of ``weekdays``."""

    model_config = _STRICT
    on: date | None = None
    before: date | None = None
    after: date | None = None
    between: tuple[date, date] | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(default=None, min_length=1)
    timezone: Annotated[str, BeforeValidator(_wait_timezone)] = "contact"

    @model_validator(mode="after")
    def _something(self) -> CurrentDateTest:
        given = [n for n in ("on", "before", "after", "between") if getattr(self, n) is not None]
        if len(given) > 1 or not (given or self.weekdays):
            raise ValueError(
                "current_date takes one of on, before, after, between, and/or weekdays"
                + (f"; got {', '.join(given)}" if given else "")
            )
        if self.between and self.between[0] > self.between[1]:
            raise ValueError("between: the first date must not be after the second")
        return self


class CurrentDate(BaseModel):
    model_config = _STRICT
    current_date: CurrentDateTest


class CurrentTimeTest(BaseModel):
    """The time of day (in ``timezone``) is ``after``/``before`` a time, or ``between`` two (may span midnight)."""

    model_config = _STRICT
    after: TimeOfDay | None = None
    before: TimeOfDay | None = None
    between: tuple[TimeOfDay, TimeOfDay] | None = None
    timezone: Annotated[str, BeforeValidator(_wait_timezone)] = "contact"

    @model_validator(mode="after")
    def _one(self) -> CurrentTimeTest:
        given = [n for n in ("after", "before", "between") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                'current_time takes exactly one of after, before, between, e.g. between: ["09:00", "17:00"]'
                + (f"; got {', '.join(given)}" if given else "")
            )
        if self.between and self.between[0] == self.between[1]:
            raise ValueError("between: the two times must differ")
        return self

    def bounds(self) -> tuple[time | None, time | None]:
        if self.between:
            return time.fromisoformat(self.between[0]), time.fromisoformat(self.between[1])
        return (
            time.fromisoformat(self.after) if self.after else None,
            time.fromisoformat(self.before) if self.before else None,
        )


class CurrentTime(BaseModel):
    model_config = _STRICT
    current_time: CurrentTimeTest


class CourseRef(BaseModel):
    """A course (none: any course), optionally only when it happened ``within`` the last period."""

    model_config = _STRICT
    course: Name | None = None
    within: PositiveDuration | None = None


class HasSubscription(BaseModel):
    model_config = _STRICT
    has_subscription: Annotated[CourseRef, _any_or("course")]


class PlatformRef(BaseModel):
    model_config = _STRICT
    platform: Name | None = None


class HasAccount(BaseModel):
    model_config = _STRICT
    has_account: Annotated[PlatformRef, _any_or("platform")]


class CourseStarted(BaseModel):
    model_config = _STRICT
    course_started: Annotated[CourseRef, _any_or("course")]


class CourseCompleted(BaseModel):
    model_config = _STRICT
    course_completed: Annotated[CourseRef, _any_or("course")]


class CourseStepRef(BaseModel):
    model_config = _STRICT
    course: Name
    step: Name | None = Field(default=None, description="one step; none: any step of the course")
    within: PositiveDuration | None = None


class CourseStepCompleted(BaseModel):
    model_config = _STRICT
    course_step_completed: CourseStepRef


class ActiveDateTest(DateTest):
    platform: str | None = Field(default=None, min_length=1, max_length=200)


class LastActiveDate(BaseModel):
    model_config = _STRICT
    last_active_date: ActiveDateTest


class EventAttribute(BaseModel):
    model_config = _STRICT
    event_attribute: EventAttributeTest


class ListRef(BaseModel):
    model_config = _STRICT
    list: Name


class OnList(BaseModel):
    model_config = _STRICT
    on_list: Annotated[ListRef, _short("list")]


class MapRef(BaseModel):
    model_config = _STRICT
    map: Name


class InAutomation(BaseModel):
    model_config = _STRICT
    in_automation: Annotated[MapRef, _short("map")]


# ---------------------------------------------------------------- combinators and the union


class AllOf(BaseModel):
    model_config = _STRICT
    all: list[Condition] = Field(min_length=1)


class AnyOf(BaseModel):
    model_config = _STRICT
    any: list[Condition] = Field(min_length=1)


class NotCondition(BaseModel):
    model_config = _STRICT
    not_: Condition = Field(alias="not")


LEAVES: dict[str, type[BaseModel]] = {
    "has_tag": HasTag,
    "field": FieldCondition,
    "opened_email": OpenedEmail,
    "clicked_link": ClickedLink,
    "visited_page": VisitedPage,
    "inside_funnel": InsideFunnel,
    "has_product": HasProduct,
    "purchased_product": PurchasedProduct,
    "date_added": DateAdded,
    "last_form_submit_date": LastFormSubmitDate,
    "current_date": CurrentDate,
    "current_time": CurrentTime,
    "has_subscription": HasSubscription,
    "has_account": HasAccount,
    "course_started": CourseStarted,
    "course_completed": CourseCompleted,
    "course_step_completed": CourseStepCompleted,
    "last_active_date": LastActiveDate,
    "event_attribute": EventAttribute,
    "on_list": OnList,
    "in_automation": InAutomation,
}
COMBINATORS: dict[str, type[BaseModel]] = {"all": AllOf, "any": AnyOf, "not": NotCondition}
_KINDS = {**COMBINATORS, **LEAVES}
_NAMES = {model: name for name, model in _KINDS.items()}


def kind_of(value: Any) -> str | None:
    """The key of a condition (a model or its mapping), or None when it is not one."""
    if isinstance(value, BaseModel):
        return _NAMES.get(type(value))
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in _KINDS else None
    return None


if TYPE_CHECKING:  # the union is built from _KINDS at run time; to the type checker it is a model
    Condition: TypeAlias = BaseModel
else:
    Condition = Annotated[
        Union[tuple(Annotated[model, Tag(name)] for name, model in _KINDS.items())],  # noqa: UP007
        Discriminator(
            kind_of,
            custom_error_type="unknown_condition",
            custom_error_message="a condition is a mapping with one key: all, any, not, " + ", ".join(LEAVES),
        ),
    ]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotCondition.model_rebuild()


def dump(condition: BaseModel) -> dict[str, Any]:
    """The JSON form carried in a state machine definition (round-trips through the model)."""
    return condition.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def leaves(condition: BaseModel) -> list[BaseModel]:
    """The leaves of a condition, in order."""
    if isinstance(condition, (AllOf, AnyOf)):
        return [
            leaf for part in (condition.all if isinstance(condition, AllOf) else condition.any) for leaf in leaves(part)
        ]
    if isinstance(condition, NotCondition):
        return leaves(condition.not_)
    return [condition]
