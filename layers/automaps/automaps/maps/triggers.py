"""Triggers: what starts a map (``triggers:`` in a map file, docs/map-format.md).

Each trigger type is a model here with its ``kind``; ``TRIGGER_MODELS`` lists them and
``Trigger`` is the validated union a map's ``triggers`` holds. What a trigger listens to is
matched against history entries by ``automaps.journeys.triggers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NamedTuple, TypeAlias, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    create_model,
    model_serializer,
    model_validator,
)

from automaps.conditions.model import Condition, ValueTest
from automaps.timing import PositiveDuration, TimeOfDay, Timezone, WaitTimezone, suggest

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


# ---------------------------------------------------------------- the triggers

Name = Annotated[str, Field(min_length=1, max_length=200)]
Ref = Annotated[str, Field(min_length=1, max_length=60)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


def _short(key: str) -> BeforeValidator:
    """``tag_added: vip`` is ``tag_added: {tag: vip}``; for optional keys ``true`` or nothing means any."""

    def expand(value: Any) -> Any:
        if value is None or value is True:
            return {}
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return {key: str(value)}
        return value

    return BeforeValidator(expand)


def _nothing(value: Any) -> Any:
    """``contact_created: {}``, ``contact_created: true`` or ``contact_created:`` (nothing)."""
    return {} if value is None or value is True else value


class _Body(BaseModel):
    model_config = _STRICT


class _Nothing(_Body):
    pass


Nothing = Annotated[_Nothing, BeforeValidator(_nothing)]


class FormSubmitted(_Body):
    form: FormId


def _plain_value(value: Any) -> Any:
    """``value: gold`` is ``value: {eq: gold}``."""
    return value if value is None or isinstance(value, (dict, BaseModel)) else {"eq": value}


class FieldUpdated(_Body):
    """``field``: the contact field; ``value``: a test of its new value (a condition operator,
    ``{gt: 45}``, ``{eq: gold}``, ``{is_set: true}``; a plain value means ``eq``)."""

    field: Name
    value: Annotated[ValueTest | None, BeforeValidator(_plain_value)] = None


class TagRef(_Body):
    tag: Name


class ListRef(_Body):
    list: Name


class EmailRef(_Body):
    """Which email: a step (``step``, of the map ``map``), any email of ``map``, a ``template``; none: any."""

    map: Ref | None = Field(default=None, description="the map of the send_email step")
    step: Ref | None = Field(default=None, description="the send_email step's id in that map")
    template: Name | None = None

    @model_validator(mode="after")
    def _step_needs_map(self) -> EmailRef:
        if self.step is not None and self.map is None:
            raise ValueError(
                f"step {self.step!r} is a step of another map: name it too, e.g. {{map: welcome-leads, step: {self.step}}}"
            )
        return self


class LinkRef(EmailRef):
    url: Url | None = Field(default=None, description="the link's address, compared without its query string")


class PageRef(_Body):
    page: Name | None = None
    url: Url | None = None
    funnel: Name | None = None


def _page_short(value: Any) -> Any:
    if isinstance(value, str):
        return {"url": value} if "://" in value else {"page": value}
    return _nothing(value)


class ProductRef(_Body):
    product: Name | None = None


class CourseRef(_Body):
    course: Name | None = None


class CourseStepRef(_Body):
    course: Name | None = None
    step: Name | None = None


class PlatformRef(_Body):
    platform: Name | None = None


class SegmentRef(_Body):
    segment: Name


class TaskRef(_Body):
    name: Name | None = Field(default=None, description="the task's title")


class AutomationRef(_Body):
    """``map``: the map the contact was moved on; none: this map."""

    map: Ref | None = None


# ---------------------------------------------------------------- triggers that a moment starts

CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")


class Audience(_Body):
    """Who a broadcast goes to: the members of a ``segment`` (content/segments/) or of a ``list``."""

    segment: Name | None = None
    list: Name | None = None

    @model_validator(mode="after")
    def _one_audience(self) -> Audience:
        if (self.segment is None) == (self.list is None):
            raise ValueError("say who it goes to: one of segment: <segment name> or list: <list name>")
        return self


def _cron(value: Any) -> Any:
    if not isinstance(value, str) or len(value.split()) != 6:
        raise ValueError(
            f"cron {value!r} is an EventBridge Scheduler cron expression of six fields "
            f'({" ".join(CRON_FIELDS)}), e.g. cron: "0 9 ? * MON *" (Mondays at 09:00)'
        )
    day_of_month, day_of_week = value.split()[2], value.split()[4]
    if "?" not in (day_of_month, day_of_week):
        raise ValueError(
            f'cron {value!r}: one of day-of-month and day-of-week must be ?, e.g. "0 9 ? * MON *" or "0 9 1 * ? *"'
        )
    return value


def _local_moment(value: Any) -> Any:
    from datetime import datetime

    text = value.isoformat() if hasattr(value, "isoformat") else value
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f'at {value!r} is a date and time of day, e.g. at: "2026-12-24T09:00"') from None
    if moment.tzinfo is not None:
        raise ValueError(f"at {value!r}: give the time without an offset; the schedule's timezone says where it is")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _date(value: Any) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"date {value!r} is a calendar date, e.g. date: 2026-12-25") from None


def _one_zone(value: Any) -> Any:
    if value == "contact":
        raise ValueError(
            "a schedule starts at one moment for everyone: give a timezone such as Europe/Paris "
            "(date_is starts at a time of day in each contact's own timezone)"
        )
    return value


class ScheduleSpec(Audience):
    """``schedule: {cron: "0 9 ? * MON *", timezone: Europe/Paris, segment: newsletter}``: a
    broadcast to the members of a segment or list, on a recurring ``cron`` or ``rate`` or once
    ``at`` a local date and time, read in ``timezone`` (default: the map's)."""

    cron: Annotated[str, BeforeValidator(_cron)] | None = None
    rate: PositiveDuration | None = None
    at: Annotated[str, BeforeValidator(_local_moment)] | None = None
    timezone: Annotated[Timezone, BeforeValidator(_one_zone)] | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> ScheduleSpec:
        given = [name for name in ("cron", "rate", "at") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                'a schedule has one of cron (recurring, e.g. "0 9 ? * MON *"), rate (e.g. {days: 7}) '
                'or at (once, e.g. "2026-12-24T09:00")' + (f"; this one has {' and '.join(given)}" if given else "")
            )
        if self.rate is not None and (self.rate.total_seconds < 60 or self.rate.total_seconds % 60):
            raise ValueError("rate is whole minutes, at least {minutes: 1}, e.g. rate: {days: 7}")
        return self


class DateAt(_Body):
    """When on the day: ``at`` a time of day in ``timezone`` (``contact``, the default: the
    contact's own, else the map's ``timezone``; or a fixed zone such as Europe/Paris)."""

    at: TimeOfDay = "09:00"
    timezone: WaitTimezone = "contact"


class DateMatches(DateAt):
    """``date_matches: {field: birthday, at: "09:00"}``: every year on the month and day of the
    contact's date field (birthdays, anniversaries; 29 February is the 28th in other years)."""

    field: Name


class DateRelative(DateAt):
    """``date_relative: {field: renewal_date, days_before: 3}`` (or ``days_after``): the day that
    many days before (after) the contact's date field."""

    field: Name
    days_before: Annotated[int, Field(ge=0, le=3660)] | None = None
    days_after: Annotated[int, Field(ge=0, le=3660)] | None = None

    @model_validator(mode="after")
    def _one_offset(self) -> DateRelative:
        if (self.days_before is None) == (self.days_after is None):
            raise ValueError("say how far from the date: one of days_before: 3 or days_after: 7 (0 is the day itself)")
        return self

    @property
    def offset_days(self) -> int:
        """Days from the field's date to the day it starts (negative: before)."""
        return -(self.days_before or 0) if self.days_before is not None else (self.days_after or 0)


class DateIs(DateAt, Audience):
    """``date_is: {date: 2026-12-25, at: "09:00", segment: customers}``: on that date, at that
    time of day in each member's timezone, the members of a segment or list."""

    date: Annotated[str, BeforeValidator(_date)]


class AddedToAutomation(AutomationRef):
    from_: Ref | None = Field(default=None, alias="from", description="only when added by this map")


class TriggerBase(BaseModel):
    """What every trigger has: its ``kind`` (the key users write), the history kinds it listens
    to, and an optional ``only_if`` condition on the contact (checked when the entry is routed)."""

    model_config = _STRICT
    kind: ClassVar[str]
    listens_to: ClassVar[tuple[str, ...]]
    scheduled: ClassVar[bool] = False
    only_if: Condition | None = None

    @model_serializer(mode="wrap")
    def _without_empty_only_if(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``only_if: null`` in the dump: a map's content hash (its version) is what it was."""
        dumped: dict[str, Any] = handler(self)
        if dumped.get("only_if", ...) is None:
            del dumped["only_if"]
        return dumped

    @property
    def body(self) -> BaseModel:
        """The trigger's own settings (``{tag: vip}`` of ``tag_added: {tag: vip}``)."""
        value: BaseModel = getattr(self, self.kind)
        return value

    @property
    def key(self) -> str:
        """What the trigger listens to, in one word: the form id, the tag, the list, ... ("" for any)."""
        if isinstance(self.body, EventSpec):
            return self.body.kind
        body = self.body.model_dump(exclude_none=True)
        return str(next(iter(body.values()), ""))

    def spec(self) -> dict[str, Any]:
        """The trigger's settings as JSON (``{"tag": "vip"}``): what the map registry keeps."""
        return self.body.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)

    def only_if_spec(self) -> dict[str, Any] | None:
        """``only_if`` as JSON (the condition model's form), None without one."""
        from automaps.conditions.model import dump

        return dump(self.only_if) if self.only_if is not None else None

    def history_kinds(self) -> tuple[str, ...]:
        return self.listens_to


def _trigger(kind: str, listens_to: str, body: Any, doc: str) -> type[TriggerBase]:
    model = create_model(  # type: ignore[call-overload]
        "".join(part.title() for part in kind.split("_")) + "Trigger",
        __base__=TriggerBase,
        __doc__=doc,
        **{kind: (body, ...)},
    )
    model.kind = kind
    model.listens_to = (listens_to,)
    return model


class MomentTrigger(TriggerBase):
    """A trigger that a moment starts, not a history entry: ``schedule``, ``date_matches``,
    ``date_relative``, ``date_is``. Each compiles to EventBridge Scheduler schedules
    (automaps.journeys.schedules); the router never matches them."""

    listens_to: ClassVar[tuple[str, ...]] = ()
    scheduled: ClassVar[bool] = True

    @property
    def key(self) -> str:
        """The date field (``date_matches``, ``date_relative``) or the audience (segment or list)."""
        body = self.body
        return str(getattr(body, "field", None) or getattr(body, "segment", None) or getattr(body, "list", None))

    @property
    def reads_contact_timezone(self) -> bool:
        return getattr(self.body, "timezone", None) == "contact"


class ScheduleTrigger(MomentTrigger):
    __doc__ = ScheduleSpec.__doc__
    kind: ClassVar[str] = "schedule"
    schedule: ScheduleSpec


class DateMatchesTrigger(MomentTrigger):
    __doc__ = DateMatches.__doc__
    kind: ClassVar[str] = "date_matches"
    date_matches: DateMatches


class DateRelativeTrigger(MomentTrigger):
    __doc__ = DateRelative.__doc__
    kind: ClassVar[str] = "date_relative"
    date_relative: DateRelative


class DateIsTrigger(MomentTrigger):
    __doc__ = DateIs.__doc__
    kind: ClassVar[str] = "date_is"
    date_is: DateIs


class FormSubmittedTrigger(TriggerBase):
    """``form_submitted: {form: newsletter}``: enrolls whoever submits that form (at post time)."""

    kind: ClassVar[str] = "form_submitted"
    listens_to: ClassVar[tuple[str, ...]] = ("form.submitted",)
    form_submitted: FormSubmitted


class EventTrigger(TriggerBase):
    """``event: {kind: purchase.made, where: {product: course-101}}``: any history kind, filtered."""

    kind: ClassVar[str] = "event"
    listens_to: ClassVar[tuple[str, ...]] = ()
    event: EventSpec

    def history_kinds(self) -> tuple[str, ...]:
        return (self.event.kind,)


_SPECS: list[tuple[str, str, Any, str]] = [
    ("contact_created", "contact.created", Nothing, "a contact is created"),
    (
        "field_updated",
        "contact.updated",
        FieldUpdated,
        "a step changes the field (optionally to a value that passes `value`)",
    ),
    ("tag_added", "tags.changed", Annotated[TagRef, _short("tag")], "the tag is added"),
    ("tag_removed", "tags.changed", Annotated[TagRef, _short("tag")], "the tag is removed"),
    ("added_to_list", "list.added", Annotated[ListRef, _short("list")], "the contact is added to the list"),
    ("removed_from_list", "list.removed", Annotated[ListRef, _short("list")], "the contact leaves the list"),
    ("added_to_fulfillment", "fulfillment.added", Annotated[ListRef, _short("list")], "added to the fulfillment list"),
    ("removed_from_fulfillment", "fulfillment.removed", Annotated[ListRef, _short("list")], "removed from it"),
    ("email_sent", "email.sent", Annotated[EmailRef, BeforeValidator(_nothing)], "an email is sent"),
    ("email_opened", "email.opened", Annotated[EmailRef, BeforeValidator(_nothing)], "an email is opened"),
    ("link_clicked", "email.clicked", Annotated[LinkRef, BeforeValidator(_nothing)], "a link in an email is clicked"),
    ("page_visited", "page.visited", Annotated[PageRef, BeforeValidator(_page_short)], "a tracked page is visited"),
    ("purchase_made", "purchase.made", Annotated[ProductRef, _short("product")], "a product is bought"),
    ("purchase_refunded", "purchase.refunded", Annotated[ProductRef, _short("product")], "a purchase is refunded"),
    ("open_order_created", "order.created", Annotated[ProductRef, _short("product")], "an open order is created"),
    ("order_charged", "order.charged", Annotated[ProductRef, _short("product")], "an order is charged"),
    ("card_declined", "card.declined", Annotated[ProductRef, _short("product")], "a card is declined"),
    ("course_started", "course.started", Annotated[CourseRef, _short("course")], "a course is started"),
    ("course_completed", "course.completed", Annotated[CourseRef, _short("course")], "a course is completed"),
    ("course_subscribed", "course.subscribed", Annotated[CourseRef, _short("course")], "a course is subscribed to"),
    (
        "course_step_completed",
        "course.step_completed",
        Annotated[CourseStepRef, _short("course")],
        "a course step is done",
    ),
    ("account_created", "account.created", Annotated[PlatformRef, _short("platform")], "an account is created"),
    ("task_completed", "task.completed", Annotated[TaskRef, _short("name")], "a task is completed"),
    ("note_added", "note.added", Nothing, "a note is added"),
    ("added_to_automation", "automation.added", Annotated[AddedToAutomation, _short("map")], "added to a map"),
    ("removed_from_automation", "automation.removed", Annotated[AutomationRef, _short("map")], "removed from a map"),
    ("paused_on_automation", "automation.paused", Annotated[AutomationRef, _short("map")], "paused on a map"),
    ("unpaused_on_automation", "automation.unpaused", Annotated[AutomationRef, _short("map")], "unpaused on a map"),
    ("segment_entered", "segment.entered", Annotated[SegmentRef, _short("segment")], "the contact enters the segment"),
    ("segment_exited", "segment.exited", Annotated[SegmentRef, _short("segment")], "the contact leaves the segment"),
]

TRIGGER_MODELS: dict[str, type[TriggerBase]] = {
    "form_submitted": FormSubmittedTrigger,
    **{kind: _trigger(kind, listens, body, f"``{kind}``: enrolls when {doc}.") for kind, listens, body, doc in _SPECS},
    "event": EventTrigger,
    "schedule": ScheduleTrigger,
    "date_matches": DateMatchesTrigger,
    "date_relative": DateRelativeTrigger,
    "date_is": DateIsTrigger,
}
TRIGGER_KEYS = tuple(TRIGGER_MODELS)


def trigger_type(value: Any) -> str | None:
    """The type of a trigger (a model or its mapping): its one key besides ``only_if``."""
    if isinstance(value, TriggerBase):
        return value.kind
    if isinstance(value, dict):
        keys = [key for key in value if key != "only_if"]
        if len(keys) == 1 and keys[0] in TRIGGER_MODELS:
            return str(keys[0])
    return None


def _trigger_shape(value: Any) -> Any:
    supported = ", ".join(TRIGGER_MODELS)
    if isinstance(value, BaseModel):
        return value
    keys = [key for key in value if key != "only_if"] if isinstance(value, dict) else []
    if len(keys) != 1:
        raise ValueError(
            "a trigger is a mapping with one key (and optionally only_if), such as {tag_added: {tag: vip}}; "
            f"supported triggers: {supported}"
        )
    key = str(keys[0])
    if key not in TRIGGER_MODELS:
        raise ValueError(f"unknown trigger {key!r}{suggest(key, TRIGGER_KEYS)}; supported triggers: {supported}")
    return value


if TYPE_CHECKING:  # the union is built from TRIGGER_MODELS at run time; to the type checker it is the base
    Trigger: TypeAlias = TriggerBase
else:
    Trigger = Annotated[
        Annotated[
            Union[tuple(Annotated[model, Tag(name)] for name, model in TRIGGER_MODELS.items())],  # noqa: UP007
            Discriminator(trigger_type),
        ],
        BeforeValidator(_trigger_shape),
    ]


class TriggerKey(NamedTuple):
    """A trigger reduced to what enrollment looks up: its type and key (e.g. the form id)."""

    type: str
    key: str
