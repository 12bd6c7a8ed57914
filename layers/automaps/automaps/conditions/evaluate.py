"""Deciding a condition for a contact, with the inputs each leaf looked at.

``evaluate(condition, facts)`` returns the verdict and one entry per leaf evaluated (``all``
and ``any`` stop early, as users expect), each naming the leaf, what it looked at and its
result, so the contact's history answers "why did this contact take that branch".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel

from automaps import clock
from automaps.conditions import model as m
from automaps.conditions.facts import Facts
from automaps.store.contacts import HistoryEntry

Inputs = list[dict[str, Any]]


def evaluate(condition: BaseModel, facts: Facts) -> tuple[bool, Inputs]:
    """Decide ``condition`` for the contact in ``facts``; returns the verdict and the leaves' inputs."""
    inputs: Inputs = []
    return _eval(condition, facts, inputs), inputs


def _eval(c: BaseModel, facts: Facts, inputs: Inputs) -> bool:
    if isinstance(c, m.AllOf):
        return all(_eval(x, facts, inputs) for x in c.all)
    if isinstance(c, m.AnyOf):
        return any(_eval(x, facts, inputs) for x in c.any)
    if isinstance(c, m.NotCondition):
        return not _eval(c.not_, facts, inputs)
    decide = _LEAVES.get(type(c))
    if decide is None:
        raise TypeError(f"unsupported condition {type(c).__name__}")
    result, looked_at = decide(c, facts)
    inputs.append({"condition": m.kind_of(c), **looked_at, "result": result})
    return result


# ---------------------------------------------------------------- profile


def _has_tag(c: m.HasTag, facts: Facts) -> tuple[bool, dict]:
    return c.has_tag in facts.tags, {"has_tag": c.has_tag, "tags": sorted(facts.tags)}


def _field(c: m.FieldCondition, facts: Facts) -> tuple[bool, dict]:
    value = facts.fields.get(c.field.name)
    return value_test(c.field, value, facts.now), {
        "field": c.field.name,
        "op": c.field.operator,
        "operand": _jsonable(c.field.operand),
        "value": _jsonable(value),
    }


def _date_added(c: m.DateAdded, facts: Facts) -> tuple[bool, dict]:
    return _date_leaf(c.date_added, facts.contact.created_at, facts, "created_at")


def _in_automation(c: m.InAutomation, facts: Facts) -> tuple[bool, dict]:
    active = facts.active_enrollment(c.in_automation.map)
    return active is not None, {"map": c.in_automation.map, "active_enrollment": active}


def _on_list(c: m.OnList, facts: Facts) -> tuple[bool, dict]:
    return c.on_list.list in facts.lists, {"list": c.on_list.list, "lists": sorted(facts.lists)}


# ---------------------------------------------------------------- email engagement


def _email_matcher(ref: m.EmailRef, facts: Facts) -> Callable[[HistoryEntry], bool]:
    map_id = ref.map or facts.map_id

    def matches(entry: HistoryEntry) -> bool:
        if ref.email is not None and (entry.step_id != ref.email or entry.map_id != map_id):
            return False
        if ref.template is not None and entry.detail.get("template") != ref.template:
            return False
        return _within(entry, ref.within, facts)

    return matches


def _opened_email(c: m.OpenedEmail, facts: Facts) -> tuple[bool, dict]:
    return _events_leaf("email.opened", _email_matcher(c.opened_email, facts), c.opened_email, facts)


def _clicked_link(c: m.ClickedLink, facts: Facts) -> tuple[bool, dict]:
    ref, email = c.clicked_link, _email_matcher(c.clicked_link, facts)

    def matches(entry: HistoryEntry) -> bool:
        return email(entry) and (ref.url is None or _same_page(entry.detail.get("url"), ref.url))

    return _events_leaf("email.clicked", matches, ref, facts)


# ---------------------------------------------------------------- pages


def _visited_page(c: m.VisitedPage, facts: Facts) -> tuple[bool, dict]:
    ref = c.visited_page

    def matches(entry: HistoryEntry) -> bool:
        return (
            (ref.url is None or _same_page(entry.detail.get("url"), ref.url))
            and (ref.page is None or entry.detail.get("page") == ref.page)
            and (ref.funnel is None or entry.detail.get("funnel") == ref.funnel)
            and _within(entry, ref.within, facts)
        )

    return _events_leaf("page.visited", matches, ref, facts)


def _inside_funnel(c: m.InsideFunnel, facts: Facts) -> tuple[bool, dict]:
    ref = c.inside_funnel
    return _events_leaf(
        "page.visited", lambda e: e.detail.get("funnel") == ref.funnel and _within(e, ref.within, facts), ref, facts
    )


# ---------------------------------------------------------------- commerce and courses


def _has_product(c: m.HasProduct, facts: Facts) -> tuple[bool, dict]:
    return c.has_product.product in facts.products, {
        "product": c.has_product.product,
        "products": sorted(facts.products),
    }


def _purchased_product(c: m.PurchasedProduct, facts: Facts) -> tuple[bool, dict]:
    ref = c.purchased_product
    return _events_leaf(
        "purchase.made",
        lambda e: (ref.product is None or e.detail.get("product") == ref.product) and _within(e, ref.within, facts),
        ref,
        facts,
    )


def _course_matcher(ref: m.CourseRef | m.CourseStepRef, facts: Facts) -> Callable[[HistoryEntry], bool]:
    return lambda e: (ref.course is None or e.detail.get("course") == ref.course) and _within(e, ref.within, facts)


def _course_started(c: m.CourseStarted, facts: Facts) -> tuple[bool, dict]:
    return _events_leaf("course.started", _course_matcher(c.course_started, facts), c.course_started, facts)


def _course_completed(c: m.CourseCompleted, facts: Facts) -> tuple[bool, dict]:
    return _events_leaf("course.completed", _course_matcher(c.course_completed, facts), c.course_completed, facts)


def _course_step_completed(c: m.CourseStepCompleted, facts: Facts) -> tuple[bool, dict]:
    ref, course = c.course_step_completed, _course_matcher(c.course_step_completed, facts)
    return _events_leaf(
        "course.step_completed",
        lambda e: course(e) and (ref.step is None or e.detail.get("step") == ref.step),
        ref,
        facts,
    )


def _has_subscription(c: m.HasSubscription, facts: Facts) -> tuple[bool, dict]:
    ref = c.has_subscription
    current = sorted(sub.course_id for sub in facts.course_subscriptions if sub.active(facts.now))
    result = bool(current) if ref.course is None else ref.course in current
    return result, {**_ref(ref), "current_subscriptions": current}


def _has_account(c: m.HasAccount, facts: Facts) -> tuple[bool, dict]:
    platform = c.has_account.platform

    def on(entry: HistoryEntry) -> bool:
        return platform is None or entry.detail.get("platform") == platform

    created, closed = facts.last("account.created", on), facts.last("account.closed", on)
    result = created is not None and (closed is None or closed.at < created.at)
    return result, {"platform": platform, "created_at": _at(created), "closed_at": _at(closed)}


def _last_active_date(c: m.LastActiveDate, facts: Facts) -> tuple[bool, dict]:
    test = c.last_active_date
    last = facts.last("account.active", lambda e: test.platform is None or e.detail.get("platform") == test.platform)
    return _date_leaf(test, last.at if last else None, facts, "last_active_at")


def _last_form_submit_date(c: m.LastFormSubmitDate, facts: Facts) -> tuple[bool, dict]:
    test = c.last_form_submit_date
    last = facts.last("form.submitted", lambda e: test.form is None or e.detail.get("form") == test.form)
    return _date_leaf(test, last.at if last else None, facts, "last_submitted_at")


def _event_attribute(c: m.EventAttribute, facts: Facts) -> tuple[bool, dict]:
    test = c.event_attribute
    since = facts.now - test.within.to_timedelta() if test.within else None
    seen = [e for e in facts.events(test.event) if since is None or e.at >= since]
    if test.name is None:
        return bool(seen), {"event": test.event, "events": len(seen), "latest_at": _at(seen[-1] if seen else None)}
    values = [attribute(e.detail, test.name) for e in seen]
    matched = [v for v in values if value_test(test, v, facts.now)]
    return bool(matched), {
        "event": test.event,
        "name": test.name,
        "op": test.operator,
        "operand": _jsonable(test.operand),
        "events": len(seen),
        "values": [_jsonable(v) for v in values[-10:]],
    }


# ---------------------------------------------------------------- the clock


def _current_date(c: m.CurrentDate, facts: Facts) -> tuple[bool, dict]:
    test = c.current_date
    zone, zone_name = facts.zone(test.timezone)
    today = facts.now.astimezone(zone).date()
    result = True
    if test.on is not None:
        result = today == test.on
    elif test.before is not None:
        result = today < test.before
    elif test.after is not None:
        result = today > test.after
    elif test.between is not None:
        result = test.between[0] <= today <= test.between[1]
    if test.weekdays:
        result = result and _WEEKDAYS[today.weekday()] in test.weekdays
    return result, {"today": today.isoformat(), "weekday": _WEEKDAYS[today.weekday()], "timezone": zone_name}


def _current_time(c: m.CurrentTime, facts: Facts) -> tuple[bool, dict]:
    test = c.current_time
    zone, zone_name = facts.zone(test.timezone)
    local = facts.now.astimezone(zone)
    now = local.time().replace(second=0, microsecond=0, tzinfo=None)
    start, end = test.bounds()
    if start is not None and end is not None:
        result = start <= now < end if start < end else (now >= start or now < end)  # a window over midnight
    elif start is not None:
        result = now >= start
    else:
        result = now < end  # type: ignore[operator]
    return result, {"time": now.strftime("%H:%M"), "timezone": zone_name}


# ---------------------------------------------------------------- shared pieces

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _events_leaf(kind: str, matches: Callable[[HistoryEntry], bool], ref: BaseModel, facts: Facts) -> tuple[bool, dict]:
    found = [e for e in facts.events(kind) if matches(e)]
    return bool(found), {
        **_ref(ref),
        "event": kind,
        "matching": len(found),
        "seen": len(facts.events(kind)),
        "latest_at": _at(found[-1] if found else None),
    }


def _same_page(recorded: Any, wanted: str) -> bool:
    """Whether a recorded page or link is the one a condition names (its query, fragment, a
    default port and a trailing slash aside)."""
    from automaps.intake.visits import page_address

    return isinstance(recorded, str) and page_address(recorded).rstrip("/") == page_address(wanted).rstrip("/")


def _within(entry: HistoryEntry, period: Any, facts: Facts) -> bool:
    return period is None or entry.at >= facts.now - period.to_timedelta()


def _date_leaf(test: m.DateTest, value: datetime | None, facts: Facts, what: str) -> tuple[bool, dict]:
    zone, zone_name = facts.zone(test.timezone)
    looked_at = {
        what: clock.iso(value) if value else None,
        "test": test.test,
        "operand": _jsonable(getattr(test, test.test)),
        "timezone": zone_name,
    }
    if value is None:
        return False, looked_at
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if test.within_last is not None:
        return facts.now - test.within_last.to_timedelta() <= value <= facts.now, looked_at
    if test.on is not None:
        return value.astimezone(zone).date() == test.on, looked_at
    if test.before is not None:
        return value < _start(test.before, zone), looked_at
    if test.after is not None:
        return value >= _end(test.after, zone), looked_at
    low, high = test.between  # type: ignore[misc]
    return _start(low, zone) <= value < _end(high, zone), looked_at


def _start(moment: date | datetime, zone: Any) -> datetime:
    """A date-time as is (UTC if naive); a date as the start of that day in ``zone``."""
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment, time(), tzinfo=zone)


def _end(moment: date | datetime, zone: Any) -> datetime:
    """A date-time as is; a date as the start of the next day in ``zone`` (the day is included)."""
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment + timedelta(days=1), time(), tzinfo=zone)


def value_test(test: m.ValueTest, value: Any, now: datetime) -> bool:
    """One operator of ``test`` applied to ``value`` (a field or an event attribute)."""
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
        return (
            {"eq": left == right, "ne": left != right}[op]
            if op in ("eq", "ne")
            else {
                "gt": lambda: left > right,
                "ge": lambda: left >= right,
                "lt": lambda: left < right,
                "le": lambda: left <= right,
            }[op]()
        )
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
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def attribute(detail: dict[str, Any], name: str, missing: Any = None) -> Any:
    """``detail[name]``, or a dotted path into nested mappings (``fields.plan``); ``missing`` if
    absent. What event conditions and the event triggers' ``where`` read."""
    if name in detail:
        return detail[name]
    value: Any = detail
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return missing
        value = value[part]
    return value


def _ref(ref: BaseModel) -> dict[str, Any]:
    return ref.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def _at(entry: HistoryEntry | None) -> str | None:
    return clock.iso(entry.at) if entry else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value


_LEAVES: dict[type, Callable[[Any, Facts], tuple[bool, dict]]] = {
    m.HasTag: _has_tag,
    m.FieldCondition: _field,
    m.OpenedEmail: _opened_email,
    m.ClickedLink: _clicked_link,
    m.VisitedPage: _visited_page,
    m.InsideFunnel: _inside_funnel,
    m.HasProduct: _has_product,
    m.PurchasedProduct: _purchased_product,
    m.DateAdded: _date_added,
    m.LastFormSubmitDate: _last_form_submit_date,
    m.CurrentDate: _current_date,
    m.CurrentTime: _current_time,
    m.HasSubscription: _has_subscription,
    m.HasAccount: _has_account,
    m.CourseStarted: _course_started,
    m.CourseCompleted: _course_completed,
    m.CourseStepCompleted: _course_step_completed,
    m.LastActiveDate: _last_active_date,
    m.EventAttribute: _event_attribute,
    m.OnList: _on_list,
    m.InAutomation: _in_automation,
}
