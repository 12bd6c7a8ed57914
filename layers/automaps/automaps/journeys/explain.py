"""Explain a contact from the history: how they entered each map, what every step did and why,
where they are now and what happens next; and why a step did not reach them (``why_not``).

Everything comes from what the journey records (docs/architecture.md, "DynamoDB" and "History
kinds"): the enrollments ``ENROLL#<map>#<enrollment>`` (status, position, exit reason) and the
history entries ``H#...`` of the contact's partition, read in **one Query** (the sort-key range
``ENROLL#`` .. ``H#~``), plus the profile (one GetItem) and, for each map the contact met, its
registry item (``MAP#<id>``: ``MapRecord.source``, the map as pushed) unless ``maps`` is given.
``why_not`` of an email step also reads the address's suppression (one GetItem).

What the recorders write and how it is told:

* ``map.enrolled`` / the enrollment's ``event``: the trigger (a form and its submission, a tag,
  another map with ``return_to``/``by_map``, a broadcast); ``map.enroll_skipped``: the refusal's
  ``reason`` (entry rule, the trigger's only_if, a map goal already met, the chain limit).
* ``step.done|skipped|failed|outcome_unknown|deferred`` (detail ``action``, ``reason``,
  ``only_if`` + ``inputs`` of an only_if, ``deferred_until``), ``condition.evaluated`` (``condition``
  or ``cases`` with each leaf's ``inputs``), the effects' entries (``email.sent``, ``sms.sent``,
  ``tags.changed``...) and the engagement (``email.delivered|opened|clicked|bounced|complained``,
  matched to the send by ``message_id``), ``map.exited`` (``reason``), goals, waits, moves.
* the position (``step``, ``kind``, ``until``, ``awaiting``) and the map model say where the
  contact is and which step comes next.

Times are the history's: UTC in ``to_dict()``, and in ``text()`` the contact's timezone (else the
map's fallback timezone, else UTC). On the local runtime they are virtual times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from automaps import aws, clock, config
from automaps.store import directory
from automaps.store.contacts import (
    ENROLL_PREFIX,
    HISTORY_PREFIX,
    Contact,
    ContactStore,
    Enrollment,
    HistoryEntry,
    mask_email,
    mask_phone,
)
from automaps.store.content import from_item, to_item

if TYPE_CHECKING:
    from automaps.maps.model import Map, StepRef


class ExplainError(LookupError):
    """What was asked for does not exist; the message says what and where."""


class UnknownContact(ExplainError):
    pass


class UnknownMap(ExplainError):
    pass


class UnknownStep(ExplainError):
    pass


# ------------------------------------------------------------------ the answer


class Event(BaseModel):
    """One line of a journey: what happened at ``at`` (UTC), told in ``text``."""

    at: str | None = None
    kind: str
    step: str | None = None
    text: str


class Journey(BaseModel):
    """One enrollment: how the contact entered, what happened, where they are, what comes next."""

    enrollment_id: str
    status: str
    entered_at: str
    entered_by: str
    events: list[Event] = Field(default_factory=list)
    now: str
    next: str | None = None
    position: dict[str, Any] | None = None
    exit_reason: str | None = None
    exited_at: str | None = None


class MapStory(BaseModel):
    map_id: str
    name: str | None = None
    journeys: list[Journey] = Field(default_factory=list)
    refused: list[Event] = Field(default_factory=list)
    """Entries refused (``map.enroll_skipped``) with their reasons."""
    known: bool = True
    """Whether the map's definition was found (the registry holds it, or ``maps`` gave it)."""


class WhyNot(BaseModel):
    map_id: str
    step_id: str
    verdict: str
    """reached | skipped | failed | unknown | deferred | waiting | not_yet | branch | goal_jump | exited | refused |
    not_enrolled"""
    reasons: list[str]
    reached_at: str | None = None


class Explanation(BaseModel):
    contact_id: str
    contact: dict[str, Any]
    timezone: str
    timezone_source: str
    """``contact`` (their own), ``map`` (a map's fallback timezone) or ``utc``."""
    as_of: str
    virtual_clock: bool = False
    """Whether ``as_of`` and the times recorded are a virtual clock's (the local runtime, tests):
    then ``real_time`` is the wall clock's."""
    real_time: str | None = None
    contact_events: list[Event] = Field(default_factory=list)
    """What concerns the contact rather than one map: unsubscribes, suppression."""
    maps: list[MapStory] = Field(default_factory=list)
    why_not: WhyNot | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def text(self) -> str:
        when = _Times(self.timezone)
        who = ", ".join(part for part in (self.contact.get("email"), self.contact.get("phone")) if part)
        zone = {
            "contact": "the contact's timezone",
            "map": "the map's timezone for contacts without one",
            "utc": "no timezone known",
        }[self.timezone_source]
        lines = [
            f"Contact {self.contact_id}{f' ({who})' if who else ''}",
            f"Times in {self.timezone} ({zone}); as of {when.full(self.as_of)}"
            + (" on the virtual clock." if self.virtual_clock else "."),
        ]
        if self.why_not is not None:
            answer = self.why_not
            lines += ["", f"Why not {answer.map_id} / {answer.step_id}? ({answer.verdict})"]
            lines += [f"  - {reason}" for reason in answer.reasons]
        for event in self.contact_events:
            lines.append(f"  {when.short(event.at).ljust(16)}  {event.text}")
        for story in self.maps:
            lines += ["", f"Map {story.map_id}{f' ({story.name})' if story.name else ''}"]
            if not story.known:
                lines.append("  (its definition is not in the registry: steps are told from the history alone)")
            for journey in story.journeys:
                lines.append(
                    f"  Entered {when.full(journey.entered_at)} {journey.entered_by} [{journey.enrollment_id}]"
                )
                lines += [f"    {when.short(e.at).ljust(16)}  {e.text}" for e in journey.events]
                lines.append(f"  Now: {journey.now}")
                if journey.next:
                    lines.append(f"  Next: {journey.next}")
            for refused in story.refused:
                lines.append(f"  Not entered {when.full(refused.at)}: {refused.text}")
            if not story.journeys and not story.refused:
                lines.append("  Never entered, and no entry was refused.")
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ times in words


class _Times:
    def __init__(self, zone: str) -> None:
        self.name = zone
        try:
            self.zone: ZoneInfo = ZoneInfo(zone)
        except (ValueError, KeyError):
            self.name, self.zone = "UTC", ZoneInfo("UTC")

    def _local(self, at: str | datetime | None) -> datetime | None:
        if at is None:
            return None
        moment = at if isinstance(at, datetime) else _parse(at)
        return moment.astimezone(self.zone) if moment else None

    def short(self, at: str | datetime | None) -> str:
        """``2026-11-23 09:00`` (seconds only when there are some), in the explanation's timezone."""
        local = self._local(at)
        if local is None:
            return "                "
        return local.strftime("%Y-%m-%d %H:%M:%S" if local.second or local.microsecond else "%Y-%m-%d %H:%M")

    def full(self, at: str | datetime | None) -> str:
        """``2026-11-25 09:00 Europe/Paris``."""
        return f"{self.short(at)} {self.name}" if at else "(unknown time)"


def _parse(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ------------------------------------------------------------------ finding the contact


find_contact = directory.find
"""The contact an email address, a phone number or a contact id names (None: nobody)."""


# ------------------------------------------------------------------ reading


@dataclass
class _Entry:
    """A history entry with its sort key (the order of record) and the enrollment it belongs to."""

    sk: str
    entry: HistoryEntry
    enrollment_id: str | None = None

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def detail(self) -> dict[str, Any]:
        return self.entry.detail

    @property
    def at(self) -> str:
        return clock.iso(self.entry.at)


@dataclass
class _Partition:
    contact: Contact
    entries: list[_Entry]
    enrollments: list[Enrollment]
    maps: dict[str, Any] = field(default_factory=dict)
    """map id -> Map (None: not found)"""
    records: dict[str, Any] = field(default_factory=dict)
    """map id -> MapRecord (None: not in the registry)"""


def _read(contact_id: str) -> _Partition:
    """The profile (GetItem) and the contact's enrollments and history (one Query of the sort-key
    range ``ENROLL#`` .. ``H#~``: also the entry gates, a few items, ignored)."""
    store = ContactStore()
    contact = store.get(contact_id)
    if contact is None:
        raise UnknownContact(f"no contact {contact_id!r}")
    params: dict[str, Any] = {
        "TableName": config.contacts_table(),
        "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": to_item(
            {":pk": f"CONTACT#{contact_id}", ":low": ENROLL_PREFIX, ":high": f"{HISTORY_PREFIX}~"}
        ),
    }
    entries: list[_Entry] = []
    enrollments: list[Enrollment] = []
    for page in aws.client("dynamodb").get_paginator("query").paginate(**params):
        for raw in page["Items"]:
            item = from_item(raw)
            sk = str(item.get("sk", ""))
            if sk.startswith(ENROLL_PREFIX):
                enrollments.append(Enrollment.model_validate(item))
            elif sk.startswith(HISTORY_PREFIX):
                entry = HistoryEntry.model_validate(item)
                eid = entry.enrollment_id or entry.detail.get("enrollment_id")
                entries.append(_Entry(sk, entry, str(eid) if eid else None))
    return _Partition(contact, entries, enrollments)


def _load_maps(part: _Partition, maps: dict[str, Map] | None, wanted: set[str]) -> None:
    """The definitions of the maps in ``wanted``: from ``maps``, else the registry (one GetItem each)."""
    from pydantic import ValidationError

    from automaps.journeys.enrollment import map_record
    from automaps.maps.model import Map

    for map_id in sorted(wanted):
        record = map_record(map_id) if maps is None else None
        part.records[map_id] = record
        if maps is not None:
            part.maps[map_id] = maps.get(map_id)
        elif record is not None and record.source:
            try:
                part.maps[map_id] = Map.model_validate(record.source)
            except ValidationError:
                part.maps[map_id] = None
        else:
            part.maps[map_id] = None


def _zone(part: _Partition) -> tuple[str, str]:
    own = part.contact.timezone
    if isinstance(own, str) and own:
        try:
            ZoneInfo(own)
            return own, "contact"
        except (ValueError, KeyError):
            pass
    for map_id in sorted(part.maps):
        map_ = part.maps[map_id]
        fallback = map_.fallback_timezone if map_ is not None else None
        record = part.records.get(map_id)
        fallback = fallback or (record.timezone if record is not None else None)
        if fallback:
            return fallback, "map"
    return "UTC", "utc"


# ------------------------------------------------------------------ the map model


class _Model:
    """What the map says about its steps: labels, order, the step after each."""

    def __init__(self, map_: Map | None) -> None:
        from automaps.maps.model import walk

        self.map = map_
        self.refs: list[StepRef] = walk(map_) if map_ is not None else []
        self.by_label = {ref.label: ref for ref in self.refs}
        self.by_path = {ref.path: ref for ref in self.refs}
        self.removed: set[str] = set()

    def ref(self, label: str | None) -> StepRef | None:
        return self.by_label.get(label or "")

    def remember_removed(self, label: str) -> None:
        """A step the history names that the map (as pushed now) no longer has: a live edit removed
        it. Known by its label only, after every step in reading order, in no branch."""
        from automaps.maps.model import StepBase, StepRef

        self.removed.add(label)
        self.by_label[label] = StepRef(StepBase(), ("removed",), label, len(self.refs) + 1000, ())

    def after(self, label: str) -> StepRef | None:
        """The step that runs after ``label`` is done (None: the map ends there)."""
        from automaps.maps.model import GoToStep

        ref = None if label in self.removed else self.ref(label)
        while ref is not None:
            if isinstance(ref.step, GoToStep):
                return self.ref(ref.step.go_to)
            *list_path, index = ref.path
            following = self.by_path.get((*list_path, int(index) + 1))
            if following is not None:
                return following
            ref = self._parent(tuple(list_path))
        return None

    def _parent(self, list_path: tuple[Any, ...]) -> StepRef | None:
        """The step whose branch ``list_path`` is (the longest step path it starts with)."""
        for cut in range(len(list_path) - 1, 0, -1):
            found = self.by_path.get(list_path[:cut])
            if found is not None:
                return found
        return None

    def ancestors(self, ref: StepRef) -> list[tuple[StepRef, str]]:
        """The branching steps ``ref`` sits in, outermost first, each with the branch it is in
        (``then``, ``else``, ``case <i>``, ``default``, ``branch <i>``)."""
        found: list[tuple[StepRef, str]] = []
        for cut in range(1, len(ref.path)):
            parent = self.by_path.get(ref.path[:cut])
            if parent is None or parent is ref:
                continue
            rest = ref.path[cut:]
            if rest[0] in ("then", "else", "default"):
                found.append((parent, str(rest[0])))
            elif rest[0] == "switch":
                found.append((parent, f"case {rest[1]}"))
            elif rest[0] == "fork":
                found.append((parent, f"branch {rest[1]}"))
        return found

    def words(self, ref: StepRef | None) -> str:
        """A step in words: ``nudge-email (send_email, template nudge)``."""
        from automaps.conditions.words import describe
        from automaps.maps import model as m

        if ref is None:
            return "the map ends (completed)"
        step = ref.step
        if isinstance(step, m.ActionStep):
            settings = step.settings.model_dump(exclude_none=True, exclude_defaults=True, by_alias=True)
            brief = ", ".join(
                f"{k} {v if len(str(v)) <= 40 else str(v)[:39] + '…'}"
                for k, v in settings.items()
                if k in _NAMING_SETTINGS and isinstance(v, (str, int, float))
            )
            extra = f", only if {describe(step.only_if)}" if step.only_if is not None else ""
            return f"{ref.label} ({step.action}{f', {brief}' if brief else ''}{extra})"
        if isinstance(step, m.IfStep):
            yes = self.first(ref, "then")
            no = self.first(ref, "else") or self.after(ref.label)
            return (
                f"{ref.label} decides: if {describe(step.if_)} -> {yes.label if yes else 'nothing'}, "
                f"else -> {no.label if no else 'the map ends'}"
            )
        if isinstance(step, m.SwitchStep):
            return f"{ref.label} (switch of {len(step.switch)} cases)"
        if isinstance(step, m.WaitStep):
            return f"{ref.label} (wait {_wait_words(step.wait)})"
        if isinstance(step, m.EndStep):
            return f"{ref.label} (end: the contact leaves the map)"
        return f"{ref.label} ({type(step).kind if hasattr(type(step), 'kind') else 'step'})"

    def first(self, ref: StepRef, branch: str) -> StepRef | None:
        return self.by_path.get((*ref.path, branch, 0))


_NAMING_SETTINGS = ("template", "subject", "map", "list", "name", "tag", "url", "product", "course", "offer")
"""The settings that name what an action step does (the rest, e.g. a text, stays out of its words)."""


def _wait_words(spec: Any) -> str:
    from automaps.timing import duration_words

    parts = []
    if getattr(spec, "delay_seconds", 0):
        parts.append(duration_words(spec.delay_seconds))
    if getattr(spec, "at", None):
        zone = spec.timezone or "contact"
        parts.append(f"then the next {spec.at} in {'their timezone' if zone == 'contact' else zone}")
    if getattr(spec, "until", None):
        parts.append(f"until {clock.iso(spec.until)}")
    if getattr(spec, "until_field", None):
        parts.append(f"until the field {spec.until_field}")
    return ", ".join(parts) or "a moment"


# ------------------------------------------------------------------ conditions in words


_NOUNS = {
    "email.opened": "open",
    "email.clicked": "click",
    "page.visited": "visit",
    "purchase.made": "purchase",
    "course.started": "course start",
    "course.completed": "course completion",
    "course.step_completed": "course step completed",
}


def condition_words(condition: Any) -> str:
    """A condition (its JSON, as the history keeps it) in words; the JSON itself if it no longer validates."""
    from pydantic import ValidationError

    from automaps.conditions import adapter
    from automaps.conditions.words import describe

    try:
        return describe(adapter().validate_python(condition))
    except (ValidationError, TypeError, ValueError):
        return str(condition)


def inputs_words(inputs: list[dict[str, Any]], times: _Times, since: dict[str, str] | None = None) -> str:
    """What each leaf of a condition saw: ``opened welcome-email: no open since it was sent 2026-11-23 09:00``.
    ``since``: step id -> when that email step sent (the window the contact had to open it)."""
    return "; ".join(_leaf_words(leaf, times, since or {}) for leaf in inputs)


def _leaf_words(leaf: dict[str, Any], times: _Times, since: dict[str, str]) -> str:
    kind = str(leaf.get("condition") or "condition")
    verdict = "yes" if leaf.get("result") else "no"
    if "matching" in leaf:  # an events leaf (opened, clicked, visited, purchased, course...)
        noun = _NOUNS.get(str(leaf.get("event")), str(leaf.get("event")))
        what = leaf.get("email") or leaf.get("template") or leaf.get("url") or leaf.get("product") or ""
        name = f"{kind.replace('_', ' ')}{f' {what}' if what else ''}"
        if leaf.get("matching"):
            seen = f"{leaf['matching']} {noun}{'s' if leaf['matching'] != 1 else ''}, the last {times.full(leaf.get('latest_at'))}"
        else:
            sent = since.get(str(leaf.get("email"))) if leaf.get("email") else None
            seen = f"no {noun}" + (f" since it was sent {times.full(sent)}" if sent else "")
            if leaf.get("seen"):
                seen += f" ({leaf['seen']} {noun}{'s' if leaf['seen'] != 1 else ''} of other messages)"
        return f"{name}: {seen} -> {verdict}"
    if "field" in leaf:
        value = leaf.get("value")
        shown = "not set" if value is None else repr(value)
        test = f"{leaf.get('op')} {leaf.get('operand')!r}" if leaf.get("operand") is not None else str(leaf.get("op"))
        return f"field {leaf['field']} is {shown} (wanted {test}) -> {verdict}"
    if "has_tag" in leaf:
        tags = ", ".join(leaf.get("tags") or []) or "none"
        return f"has tag {leaf['has_tag']!r}: tags {tags} -> {verdict}"
    looked = ", ".join(f"{k} {v}" for k, v in leaf.items() if k not in ("condition", "result"))
    return f"{kind.replace('_', ' ')}: {looked} -> {verdict}"


# ------------------------------------------------------------------ the entries in words


_EXITS = {
    "completed": "ran to the end of the map",
    "end": "reached an end step",
    "wait_past": "the moment a wait was for had already passed (if_past: skip)",
    "goal_timeout": "a goal's timeout passed",
    "wait_until_timeout": "a wait_until's timeout passed",
    "wait_failed": "a wait could not be worked out (on_error: exit)",
    "removed": "removed from the map (by hand or by another map)",
    "step_removed": "a live edit removed the step they were on",
    "version_removed": "a live edit published with policy remove",
    "not_entered": "not entered",
}


def exit_words(reason: str | None) -> str:
    if not reason:
        return "left the map"
    if reason.startswith("goal:"):
        return f"achieved the map's goal {reason[5:]!r}"
    return _EXITS.get(reason, reason)


_EFFECT_KINDS_SHOWN_BY_STEP = {
    "email.sent",
    "sms.sent",
    "tags.changed",
    "contact.updated",
    "note.added",
    "list.added",
    "list.removed",
    "task.assigned",
    "team.notified",
    "webhook.sent",
    "call.placed",
    "automation.added",
    "automation.removed",
    "automation.paused",
    "automation.unpaused",
}
_ENGAGEMENT = {"email.delivered", "email.opened", "email.clicked", "email.bounced", "email.complained"}
_STEP_KINDS = {"step.done", "step.skipped", "step.failed", "step.outcome_unknown", "step.deferred"}


def _trigger_words(event: dict[str, Any]) -> str:
    kind = str(event.get("type") or event.get("kind") or "")
    if kind == "form_submitted" and event.get("form"):
        submission = f", submission {event['submission_id']}" if event.get("submission_id") else ""
        return f"by the form {event.get('form')!r}{submission}"
    if event.get("return_to") or kind == "added_to_automation":
        by = event.get("by_map") or (event.get("return_to") or {}).get("map") or event.get("map_id")
        back = " (the caller waits for the return)" if event.get("return_to") else ""
        return f"from the map {by!r} (added_to_automation){back}" if by else "added by another map"
    if kind == "added_by_admin":  # automaps.api.contacts.enroll: by hand, through the admin API
        return f"by hand (admin API, by {event.get('by') or 'unknown'})"
    if kind in ("schedule", "date_matches", "date_relative", "date_is"):
        return f"by the {kind} trigger" + (f" of {event['at']}" if event.get("at") else "")
    if not kind:
        return "(trigger not recorded)"
    what = ", ".join(
        f"{k} {v!r}"
        for k, v in event.items()
        if k not in ("type", "kind", "at", "entry", "depth", "chain", "fields") and isinstance(v, (str, int, float))
    )
    chain = f"; chain {' -> '.join(event['chain'])}" if event.get("chain") else ""
    return f"by the {kind} trigger{f' ({what[:120]})' if what else ''}{chain}"


@dataclass
class _Teller:
    """Tells entries of one map in words."""

    model: _Model
    times: _Times
    sent_at: dict[str, str] = field(default_factory=dict)
    """step id -> when it sent its email (for "no open since it was sent ...")."""

    def step_entry(self, e: _Entry) -> str:
        step, detail = e.entry.step_id or "?", e.detail
        reason = detail.get("reason")
        if e.kind == "step.done":
            return f"{step}: {self._done(detail)}"
        if e.kind == "step.skipped":
            if detail.get("only_if") is not None:
                return (
                    f"{step}: skipped: only_if {condition_words(detail['only_if'])} was false "
                    f"({inputs_words(detail.get('inputs') or [], self.times, self.sent_at)})"
                )
            then = f"; {detail['then']}" if detail.get("then") else ""
            return f"{step}: skipped: {reason or 'no reason recorded'}{then}"
        if e.kind == "step.failed":
            cause = f" ({detail['cause']})" if detail.get("cause") else ""
            return f"{step}: failed: {reason or detail.get('error') or 'no reason recorded'}{cause}"
        if e.kind == "step.outcome_unknown":
            return f"{step}: outcome unknown: {reason or 'the answer was lost'}"
        if e.kind == "step.deferred":
            why = str(reason or "held back").split(": deferred until")[0]
            return f"{step}: held back until {self.times.full(detail.get('deferred_until'))}: {why}"
        return f"{step}: {e.kind}"

    def _done(self, detail: dict[str, Any]) -> str:
        action = detail.get("action")
        if action == "send_email":
            to = f", to {detail['to']}" if detail.get("to") else ""
            return f"email sent (template {detail.get('template')}{to})"
        if action == "send_sms":
            return "SMS sent" + (f" to {detail['to']}" if detail.get("to") else "")
        if action == "change_tags":
            added, removed = ", ".join(detail.get("added") or []), ", ".join(detail.get("removed") or [])
            parts = [f"added {added}" if added else "", f"removed {removed}" if removed else ""]
            return "tags " + ("; ".join(p for p in parts if p) or "already as requested")
        reason = detail.get("reason")
        if detail.get("map") and str(action).endswith(("automation", "sequence", "follow_up")):
            waits = "; waits for the return" if detail.get("waiting") else ""
            return f"done ({action} {detail['map']}{waits})"
        return f"done ({action}){f': {reason}' if reason else ''}"

    def condition(self, e: _Entry) -> str:
        detail, step = e.detail, e.entry.step_id or "?"
        if detail.get("cases") is not None:
            chosen = detail.get("case", -1)
            seen = " | ".join(
                f"case {c.get('case')} {condition_words(c.get('condition'))}: "
                f"{inputs_words(c.get('inputs') or [], self.times, self.sent_at)}"
                for c in detail["cases"]
            )
            went = f"case {chosen}" if chosen is not None and chosen >= 0 else "no case (default)"
            return f"{step}: switch -> {went} ({seen})"
        verdict = "yes" if detail.get("result") else "no"
        inputs = inputs_words(detail.get("inputs") or [], self.times, self.sent_at)
        return f"{step}: if {condition_words(detail.get('condition'))} -> {verdict} ({inputs})"

    def other(self, e: _Entry) -> str | None:
        d, step = e.detail, e.entry.step_id
        if e.kind == "map.exited":
            error = f" ({d.get('error')}: {d.get('cause')})" if d.get("error") else ""
            return f"left the map: {exit_words(d.get('reason'))}{error}"
        if e.kind in _ENGAGEMENT:
            what = e.kind.split(".")[1]
            extra = ""
            if e.kind == "email.clicked" and d.get("url"):
                extra = f" {d['url']}"
            if e.kind == "email.bounced":
                extra = f" ({d.get('bounce_type')}{'; the address is suppressed' if d.get('suppressed') else ''})"
            if e.kind == "email.complained":
                extra = f" ({d.get('feedback_type')}{'; the address is suppressed' if d.get('suppressed') else ''})"
            return f"{step or 'email'}: {what}{extra} (template {d.get('template')})"
        if e.kind in ("goal.achieved", "wait.met"):
            goal = d.get("goal") or step
            return (
                f"{goal}: {'goal achieved' if e.kind == 'goal.achieved' else 'wait met'} by {d.get('by') or 'an event'}"
            )
        if e.kind in ("goal.timed_out", "wait.timed_out"):
            return f"{step}: {e.kind.replace('.', ' ').replace('_', ' ')}"
        if e.kind == "map.migrated":
            edit, version = f"a live edit (publish, policy {d.get('policy')})", f"map version {d.get('to_version')}"
            if d.get("to_step") and d.get("to_step") == d.get("from_step"):
                return f"{edit} moved them onto {version}, at the same step {d['to_step']}"
            return f"{edit} moved them from {d.get('from_step') or 'their step'} to {d.get('to_step') or 'out of the map'} ({version})"
        if e.kind == "automation.returned":
            why = f" ({exit_words(d.get('reason'))})" if d.get("reason") else ""
            return f"{step}: back from {d.get('from_map')}{why}: the map goes on"
        if e.kind.startswith("automation."):
            return f"{step or ''}: {e.kind.split('.')[1]} {d.get('map') or d.get('by_map') or ''}".strip(": ")
        if e.kind in ("sequence.finished", "loop.continued"):
            return f"{step}: {e.kind.replace('.', ' ')}" + (f" ({d['then']})" if d.get("then") else "")
        if e.kind in _EFFECT_KINDS_SHOWN_BY_STEP:
            return f"{step or ''}: {e.kind}".strip(": ")
        return None


# ------------------------------------------------------------------ explaining


def explain(contact_id: str, maps: dict[str, Map] | None = None) -> Explanation:
    """The contact's story in every map they met (entered, or were refused)."""
    part = _read(contact_id)
    wanted = {e.entry.map_id for e in part.entries if e.entry.map_id} | {x.map_id for x in part.enrollments}
    _load_maps(part, maps, wanted)
    return _explanation(part)


def why_not(contact_id: str, map_id: str, step_id: str, maps: dict[str, Map] | None = None) -> Explanation:
    """Why the step ``step_id`` of ``map_id`` did (not) reach the contact, with the map's story."""
    part = _read(contact_id)
    wanted = {e.entry.map_id for e in part.entries if e.entry.map_id} | {x.map_id for x in part.enrollments}
    _load_maps(part, maps, wanted | {map_id})
    map_ = part.maps.get(map_id)
    if map_ is None:
        if maps is None and part.records.get(map_id) is None:
            hint = "; without --why-not its history is still told" if map_id in wanted else ""
            raise UnknownMap(f"no map {map_id!r} in the registry (automaps push registers the maps){hint}")
        if maps is not None:
            raise UnknownMap(f"no map {map_id!r} among {', '.join(sorted(maps)) or 'no maps'}")
        raise UnknownMap(f"the registry holds map {map_id!r} without its definition: run automaps push once")
    model = _Model(map_)
    recorded = any(e.entry.map_id == map_id and e.entry.step_id == step_id for e in part.entries)
    if model.ref(step_id) is None:
        if not recorded:
            known = ", ".join(ref.label for ref in model.refs)
            raise UnknownStep(f"map {map_id!r} has no step {step_id!r}; its steps: {known}")
        model.remember_removed(step_id)
    explanation = _explanation(part, only=map_id)
    explanation.why_not = _why_not(part, map_id, step_id, model, _Times(explanation.timezone))
    return explanation


def _explanation(part: _Partition, only: str | None = None) -> Explanation:
    zone, source = _zone(part)
    times = _Times(zone)
    contact = part.contact
    explanation = Explanation(
        contact_id=contact.id,
        contact={
            "email": mask_email(contact.email) or None,
            "phone": mask_phone(contact.phone) or None,
            "timezone": contact.timezone,
            "unsubscribed": sorted(contact.unsubscribed),
            "tags": sorted(contact.tags),
        },
        timezone=zone,
        timezone_source=source,
        as_of=clock.iso(),
        virtual_clock=not isinstance(clock.get_clock(), clock.SystemClock),
        real_time=None if isinstance(clock.get_clock(), clock.SystemClock) else clock.iso(datetime.now(UTC)),
        contact_events=[
            Event(at=e.at, kind=e.kind, text=f"unsubscribed from {e.detail.get('channel')}")
            for e in part.entries
            if e.kind == "unsubscribed"
        ],
    )
    for map_id in sorted(part.maps):
        if only is None or map_id == only:
            explanation.maps.append(_story(part, map_id, times))
    return explanation


def _attribute(part: _Partition, map_id: str) -> dict[str | None, list[_Entry]]:
    """The map's entries by enrollment: by their enrollment id, an email's events through its
    ``message_id``, the rest by time (the enrollment that had started by then)."""
    mine = [e for e in part.entries if e.entry.map_id == map_id]
    started = sorted(
        ((x.started_at, x.enrollment_id) for x in part.enrollments if x.map_id == map_id), key=lambda s: s[0]
    )
    by_message: dict[str, str] = {}
    for e in mine:
        if e.enrollment_id and e.detail.get("message_id"):
            by_message[str(e.detail["message_id"])] = e.enrollment_id
    grouped: dict[str | None, list[_Entry]] = {}
    for e in mine:
        eid = e.enrollment_id
        if eid is None and e.detail.get("message_id"):
            eid = by_message.get(str(e.detail["message_id"]))
        if eid is None and e.kind != "map.enroll_skipped":
            before = [enrollment for at, enrollment in started if at <= e.entry.at]
            eid = before[-1] if before else None
        if e.kind == "map.enroll_skipped":
            eid = None
        e.enrollment_id = eid
        grouped.setdefault(eid, []).append(e)
    return grouped


def _story(part: _Partition, map_id: str, times: _Times) -> MapStory:
    map_ = part.maps.get(map_id)
    model = _Model(map_)
    story = MapStory(map_id=map_id, name=map_.name if map_ is not None else None, known=map_ is not None)
    grouped = _attribute(part, map_id)
    for enrollment in sorted((x for x in part.enrollments if x.map_id == map_id), key=lambda x: x.started_at):
        story.journeys.append(_journey(enrollment, grouped.get(enrollment.enrollment_id, []), model, times))
    for e in grouped.get(None, []):
        if e.kind == "map.enroll_skipped":
            story.refused.append(Event(at=e.at, kind=e.kind, text=str(e.detail.get("reason") or "refused")))
    return story


def _journey(enrollment: Enrollment, entries: list[_Entry], model: _Model, times: _Times) -> Journey:
    teller = _Teller(model, times)
    for e in entries:
        if e.kind == "email.sent" and e.entry.step_id:
            teller.sent_at.setdefault(e.entry.step_id, e.at)
    events: list[Event] = []
    entries = _ordered(entries, model)
    for i, e in enumerate(entries):
        text: str | None
        if e.kind == "map.enrolled":
            continue
        if e.kind in _STEP_KINDS:
            text = teller.step_entry(e)
        elif e.kind == "condition.evaluated":
            text = teller.condition(e)
        elif e.kind in _EFFECT_KINDS_SHOWN_BY_STEP and _told_by_step(e, entries[i + 1 :]):
            continue
        else:
            text = teller.other(e)
        if text is not None:
            events.append(Event(at=e.at, kind=e.kind, step=e.entry.step_id, text=text))
    now, next_ = _where(enrollment, model, times, entries)
    if model.map is None:  # the map's definition is unknown: nothing can be said of what comes next
        next_ = None
    return Journey(
        enrollment_id=enrollment.enrollment_id,
        status=enrollment.status,
        entered_at=clock.iso(enrollment.started_at),
        entered_by=_trigger_words(enrollment.event),
        events=events,
        now=now,
        next=next_,
        position=enrollment.position,
        exit_reason=enrollment.exit_reason,
        exited_at=clock.iso(enrollment.exited_at) if enrollment.exited_at else None,
    )


_MOVED_ON = ("goal.achieved", "wait.met", "goal.timed_out", "wait.timed_out", "map.migrated")


def _ordered(entries: list[_Entry], model: _Model) -> list[_Entry]:
    """The entries in the order things happened. Within one instant the sort key orders what one
    process wrote, but entries recorded once by a digest of their cause (``record_once``: goals,
    waits met, returns, exits by a move) sort by that digest. So, within an instant: the
    enrollment first; a goal or wait met just before the first entry of a step after it in the
    map (a map goal: before the exit); a return right after the entries of the step it returns
    to; the exit last."""
    rank = {"map.enrolled": -1, "map.exited": 2}
    ranked = sorted(
        (e for e in entries if e.kind not in _MOVED_ON and e.kind != "automation.returned"),
        key=lambda e: (e.entry.at, rank.get(e.kind, 1)),
    )
    for moved in sorted((e for e in entries if e.kind in _MOVED_ON), key=lambda e: e.entry.at):
        migrated = moved.kind == "map.migrated"  # a live edit's move: before the entries of the step it moved to
        anchor = model.ref(str(moved.detail.get("to_step" if migrated else "goal") or moved.entry.step_id or ""))
        same = [i for i, e in enumerate(ranked) if e.entry.at == moved.entry.at]
        later = [
            i
            for i in same
            if anchor is not None
            and (ref := model.ref(ranked[i].entry.step_id)) is not None
            and (ref.order >= anchor.order if migrated else ref.order > anchor.order)
        ]
        exits = [i for i in same if ranked[i].kind == "map.exited"]
        before = [e for e in ranked if e.entry.at <= moved.entry.at]
        ranked.insert((later or exits or [len(before)])[0], moved)
    for returned in sorted((e for e in entries if e.kind == "automation.returned"), key=lambda e: e.entry.at):
        same = [i for i, e in enumerate(ranked) if e.entry.at == returned.entry.at]
        own = [i for i in same if ranked[i].entry.step_id == returned.entry.step_id and ranked[i].kind != "map.exited"]
        before = [e for e in ranked if e.entry.at < returned.entry.at]
        ranked.insert(own[-1] + 1 if own else (same[0] if same else len(before)), returned)
    return ranked


def _told_by_step(effect: _Entry, later: list[_Entry]) -> bool:
    """Whether the step's own outcome (step.done / failed / unknown, later) tells this effect."""
    for e in later:
        if e.kind in _STEP_KINDS and e.entry.step_id == effect.entry.step_id:
            return e.kind != "step.deferred"
    return False


def _where(
    enrollment: Enrollment, model: _Model, times: _Times, entries: list[_Entry] | None = None
) -> tuple[str, str | None]:
    """Where the contact stands in the enrollment, and what happens next (from the map)."""
    position = enrollment.position or {}
    step, kind, until = position.get("step"), position.get("kind", "step"), position.get("until")
    held = _held_back(enrollment, entries or [], step)
    if held is not None:
        why = str(held.detail.get("reason") or "held back").split(": deferred until")[0]
        until_text = times.full(held.detail.get("deferred_until"))
        return f"held back at {step} until {until_text}: {why}", f"{model.words(model.ref(step))} is tried again then"
    if enrollment.status == "exited":
        when = times.full(enrollment.exited_at) if enrollment.exited_at else "(time not recorded)"
        return f"exited {when}: {exit_words(enrollment.exit_reason)}", None
    if enrollment.status == "paused":
        since = times.full(enrollment.paused_at) if enrollment.paused_at else "(time not recorded)"
        at = f" at {step}" if step else ""
        return f"paused{at} since {since}", f"nothing until they are unpaused; then {_continue(model, position)}"
    if not position:
        return "entered; no step has begun yet", f"the first step: {model.words(model.refs[0]) if model.refs else '?'}"
    if kind in ("goal", "wait_until") and enrollment.status == "waiting":
        awaited = _awaiting_words(position.get("awaiting"))
        timeout = f", at most until {times.full(until)}" if until else ", with no timeout"
        return f"waiting at {kind} {step} for {awaited}{timeout}", f"when it happens: {_continue(model, position)}"
    if kind == "return":
        return f"waiting at {step} for the map they were added to", f"when it ends: {_continue(model, position)}"
    if kind == "end" or enrollment.status == "waiting" and kind != "wait":
        where = "the end of the sequence" if step in (None, "Completed") else step
        return f"waiting at {where} (stays subscribed until removed)", None
    if kind == "wait" and until:
        parked = " (handed to EventBridge Scheduler)" if enrollment.status == "waiting" else ""
        late = " (now past: about to go on)" if _parse(until) and _parse(until) < clock.now() else ""  # type: ignore[operator]
        ref = model.ref(step)
        from automaps.maps.model import ActionStep

        if ref is not None and isinstance(ref.step, ActionStep):  # an action's own ``when``
            return f"waiting at {step} until {times.full(until)}{parked}{late}", f"{model.words(ref)} runs then"
        return (
            f"waiting at {step} until {times.full(until)}{parked}{late}",
            f"then {model.words(model.after(step or ''))}",
        )
    if step == "Completed":
        return "finishing (the map's last step is done)", None
    since = times.full(position.get("since"))
    return f"at step {step} since {since} (running)", f"then {model.words(model.after(step or ''))}"


def _held_back(enrollment: Enrollment, entries: list[_Entry], step: str | None) -> _Entry | None:
    """The step.deferred that holds a live contact at their step now (no later outcome of it)."""
    if enrollment.status not in ("active", "paused") or not step:
        return None
    of_step = [e for e in entries if e.entry.step_id == step and e.kind in _STEP_KINDS]
    return of_step[-1] if of_step and of_step[-1].kind == "step.deferred" else None


def _continue(model: _Model, position: dict[str, Any]) -> str:
    step = position.get("step") or ""
    if position.get("kind") in ("goal", "wait_until", "return"):
        return model.words(model.after(step))
    ref = model.ref(step)
    return model.words(ref) if ref is not None else f"step {step}"


def _awaiting_words(awaiting: Any) -> str:
    if not isinstance(awaiting, dict):
        return "an event"
    if awaiting.get("event"):
        event = awaiting["event"]
        where = f" where {event.get('where')}" if event.get("where") else ""
        return f"the event {event.get('kind')}{where}"
    if awaiting.get("condition") is not None:
        return f"the condition {condition_words(awaiting['condition'])}"
    return "an event"


# ------------------------------------------------------------------ why not


def _why_not(part: _Partition, map_id: str, step_id: str, model: _Model, times: _Times) -> WhyNot:
    ref = model.ref(step_id)
    assert ref is not None
    grouped = _attribute(part, map_id)
    enrollments = sorted((x for x in part.enrollments if x.map_id == map_id), key=lambda x: x.started_at)
    notes = _address_notes(part, ref, times)
    if step_id in model.removed:
        notes.insert(0, f"the map as pushed now has no step {step_id!r}: a live edit removed it")

    def answer(verdict: str, reasons: list[str], reached: str | None = None) -> WhyNot:
        return WhyNot(map_id=map_id, step_id=step_id, verdict=verdict, reasons=reasons + notes, reached_at=reached)

    if not enrollments:
        verdict, reasons = _not_enrolled(part, map_id, model, grouped.get(None, []), times)
        return answer(verdict, reasons)
    latest = enrollments[-1]
    entries = grouped.get(latest.enrollment_id, [])
    verdict, reasons, reached = _in_enrollment(latest, entries, ref, model, times)
    if verdict != "reached":
        for earlier in reversed(enrollments[:-1]):
            found = _outcomes(grouped.get(earlier.enrollment_id, []), step_id)
            done = [e for e in found if e.kind == "step.done"]
            if done:
                reasons.append(
                    f"an earlier enrollment (entered {times.full(earlier.started_at)}) did reach them "
                    f"at {times.full(done[-1].at)}"
                )
                break
    refused_later = [e for e in grouped.get(None, []) if e.entry.at > latest.started_at]
    for e in refused_later:
        reasons.append(f"entering again was refused {times.full(e.at)}: {e.detail.get('reason')}")
    return answer(verdict, reasons, reached)


def _outcomes(entries: list[_Entry], step_id: str) -> list[_Entry]:
    return [e for e in entries if e.entry.step_id == step_id and e.kind in _STEP_KINDS]


def _in_enrollment(
    enrollment: Enrollment, entries: list[_Entry], ref: StepRef, model: _Model, times: _Times
) -> tuple[str, list[str], str | None]:
    teller = _Teller(model, times)
    for e in entries:
        if e.kind == "email.sent" and e.entry.step_id:
            teller.sent_at.setdefault(e.entry.step_id, e.at)
    entered = f"they entered {times.full(enrollment.started_at)} {_trigger_words(enrollment.event)}"
    outcomes = _outcomes(entries, ref.label)
    if outcomes:
        last = outcomes[-1]
        done = [e for e in outcomes if e.kind == "step.done"]
        if done:
            engaged = [
                teller.other(e) or e.kind
                for e in entries
                if e.kind in _ENGAGEMENT
                and e.detail.get("message_id") == done[-1].detail.get("message_id")
                and e.detail.get("message_id")
            ]
            tail = f"; then: {', '.join(engaged)}" if engaged else ""
            return (
                "reached",
                [f"it did reach them at {times.full(done[-1].at)}: {teller.step_entry(done[-1])}{tail}"],
                done[-1].at,
            )
        verdict = {
            "step.skipped": "skipped",
            "step.failed": "failed",
            "step.outcome_unknown": "unknown",
            "step.deferred": "deferred",
        }[last.kind]
        reasons = [f"{entered}; at {times.full(last.at)} {teller.step_entry(last)}"]
        if last.kind == "step.deferred":
            reasons.append(f"it runs again at {times.full(last.detail.get('deferred_until'))}")
        return verdict, reasons, None
    # the step never ran: a branch that went the other way, a position before it, or an exit
    for parent, branch in model.ancestors(ref):
        checks = [e for e in entries if e.kind == "condition.evaluated" and e.entry.step_id == parent.label]
        if not checks:
            continue
        went = _branch_taken(checks[-1])
        if went is not None and went != branch:
            return (
                "branch",
                [f"{entered}; at {times.full(checks[-1].at)} {_branch_words(teller, checks[-1], branch)}"],
                None,
            )
    for jump in (e for e in entries if e.kind == "goal.achieved" and e.detail.get("from_step")):
        start, goal = model.ref(str(jump.detail.get("from_step"))), model.ref(str(jump.detail.get("goal")))
        if start is not None and goal is not None and start.order < ref.order < goal.order:
            jumped = (
                f"{entered}; at {times.full(jump.at)} the goal {goal.label} was achieved (by "
                f"{jump.detail.get('by') or 'an event'}) while they were at {start.label}: they jumped to it, "
                f"past {ref.label}"
            )
            return "goal_jump", [jumped], None
    position = enrollment.position or {}
    here = model.ref(position.get("step"))
    until = position.get("until")
    if enrollment.status == "exited":
        how = exit_words(enrollment.exit_reason)
        at = f" at {position.get('step')}" if position.get("step") and position.get("step") != "Completed" else ""
        return (
            "exited",
            [f"{entered}; they left the map {times.full(enrollment.exited_at)}{at} before reaching it: {how}"],
            None,
        )
    if here is not None and here.label == ref.label and until:
        return (
            "waiting",
            [f"{entered}; they are waiting at {ref.label} until {times.full(until)} (its when), then it runs"],
            None,
        )
    now, next_ = _where(enrollment, model, times, entries)
    if here is None or here.order < ref.order or position.get("kind") in ("goal", "wait_until", "return"):
        verdict = "waiting" if (until or enrollment.status in ("waiting", "paused")) else "not_yet"
        return verdict, [f"{entered}; not there yet: {now}" + (f"; next: {next_}" if next_ else "")], None
    return "not_yet", [f"{entered}; {now}; the step is not on their way from there"], None


def _branch_taken(check: _Entry) -> str | None:
    if check.detail.get("cases") is not None:
        case = check.detail.get("case", -1)
        return f"case {case}" if isinstance(case, int) and case >= 0 else "default"
    result = check.detail.get("result")
    return None if result is None else ("then" if result else "else")


def _branch_words(teller: _Teller, check: _Entry, wanted: str) -> str:
    step, detail = check.entry.step_id, check.detail
    inputs = inputs_words(detail.get("inputs") or [], teller.times, teller.sent_at)
    if detail.get("cases") is None:
        was = "true" if detail.get("result") else "false"
        return (
            f"the condition {condition_words(detail.get('condition'))!r} of {step} was {was}: {inputs}; "
            f"so they took the {'then' if detail.get('result') else 'else'} branch, not the {wanted} one"
        )
    return f"{teller.condition(check)}; the step is in {wanted}"


def _not_enrolled(
    part: _Partition, map_id: str, model: _Model, refused: list[_Entry], times: _Times
) -> tuple[str, list[str]]:
    reasons = [f"entry refused {times.full(e.at)}: {e.detail.get('reason')}" for e in refused]
    if reasons:
        return "refused", ["they never entered the map", *reasons]
    reasons = ["they never entered the map"]
    assert model.map is not None
    from automaps.journeys.triggers import matches

    history = [e.entry for e in part.entries]
    for trigger in model.map.entered_by():
        kind = trigger.kind
        if kind == "form_submitted":
            found = [e for e in history if e.kind == "form.submitted" and e.detail.get("form") == trigger.key]
        elif kind in ("schedule", "date_matches", "date_relative", "date_is"):
            reasons.append(f"the {kind} trigger reaches its audience at its moments; no start was recorded for them")
            continue
        else:
            found = [e for e in history if _matches(matches, trigger, e, map_id, part.contact)]
        label = f"{kind} {trigger.key!r}" if getattr(trigger, "key", None) else kind
        if not found:
            reasons.append(f"no history entry matches the trigger {label}")
        else:
            when = times.full(clock.iso(found[-1].at))
            only_if = trigger.only_if_spec() if hasattr(trigger, "only_if_spec") else None
            why = (
                f"; its only_if {condition_words(only_if)} must have been false then (nothing is recorded when it is)"
                if only_if
                else "; no enrollment or refusal was recorded (the registry may not have had the map yet)"
            )
            reasons.append(
                f"the trigger {label} matched {len(found)} entr{'y' if len(found) == 1 else 'ies'}, the last {when}{why}"
            )
    return "not_enrolled", reasons


def _matches(matches: Any, trigger: Any, entry: HistoryEntry, map_id: str, contact: Contact) -> bool:
    try:
        return bool(matches(trigger, entry, map_id, lambda: contact))
    except Exception:  # noqa: BLE001  (a trigger the router cannot match is simply not a match here)
        return False


def _address_notes(part: _Partition, ref: StepRef, times: _Times) -> list[str]:
    """For a send step: what stops messages to the contact whatever the map does."""
    from automaps.maps import model as m

    contact, notes = part.contact, []
    action = ref.step.action if isinstance(ref.step, m.ActionStep) else None
    if action == "send_email":
        if not contact.email:
            notes.append("the contact has no email address")
        else:
            suppression = ContactStore().email_suppression(contact.email)
            if suppression is not None:
                notes.append(
                    f"their address is suppressed since {times.full(clock.iso(suppression.at))} "
                    f"({suppression.reason}): no email is sent to it"
                )
        if "email" in contact.unsubscribed:
            notes.append("they unsubscribed from email (marketing emails are skipped)")
    if action == "send_sms":
        if not contact.phone:
            notes.append("the contact has no phone number")
        if "sms" in contact.unsubscribed:
            notes.append("they unsubscribed from SMS")
    return notes


# ------------------------------------------------------------------ one entry point (CLI, local HTTP)


def answer(
    who: str, *, why_not_step: str | None = None, map_id: str | None = None, maps: dict[str, Map] | None = None
) -> Explanation:
    """``automaps explain <who> [--why-not <step>] [--map <id>]``: the contact named by an email,
    a phone number or a contact id; with ``why_not_step``, why that step did not reach them (its
    map: ``map_id``, else the one map holding a step of that id, the contact's maps first);
    ``map_id`` alone narrows the story to that map. Raises ExplainError with what was not found."""
    contact_id = find_contact(who)
    if contact_id is None:
        raise UnknownContact(f"no contact has the email, phone number or id {_masked(who)!r}")
    if why_not_step:
        chosen = map_id or _map_of_step(contact_id, why_not_step, maps)
        return why_not(contact_id, chosen, why_not_step, maps=maps)
    explanation = explain(contact_id, maps=maps)
    if map_id:
        explanation.maps = [story for story in explanation.maps if story.map_id == map_id]
        if not explanation.maps:
            explanation.maps = [MapStory(map_id=map_id, known=_has_map(map_id, maps))]
            if not explanation.maps[0].known and (maps is not None or _record(map_id) is None):
                raise UnknownMap(f"no map {map_id!r} is deployed (automaps push registers the maps)")
    return explanation


def _masked(who: str) -> str:
    text = (who or "").strip()
    if "@" in text:
        return mask_email(text)
    return mask_phone(text) if sum(ch.isdigit() for ch in text) >= 7 and not text.startswith("c_") else text


def _record(map_id: str) -> Any:
    from automaps.journeys.enrollment import map_record

    return map_record(map_id)


def _has_map(map_id: str, maps: dict[str, Map] | None) -> bool:
    return map_id in maps if maps is not None else _record(map_id) is not None


def _map_of_step(contact_id: str, step_id: str, maps: dict[str, Map] | None) -> str:
    """The map holding a step labelled ``step_id``: among the maps the contact met, else all maps
    (``maps``, or the registry: a Scan of its few MAP items). Ambiguous or unknown: UnknownStep."""
    from pydantic import ValidationError

    from automaps.maps.model import Map, walk

    if maps is None:
        from automaps.journeys.enrollment import registered_maps

        known: dict[str, Map] = {}
        for record in registered_maps():
            if record.source:
                try:
                    known[record.id] = Map.model_validate(record.source)
                except ValidationError:
                    continue
    else:
        known = dict(maps)
    holding = sorted(map_id for map_id, map_ in known.items() if any(ref.label == step_id for ref in walk(map_)))
    met = {x.map_id for x in ContactStore().enrollments(contact_id)}
    mine = [map_id for map_id in holding if map_id in met]
    if len(mine) == 1 or (len(holding) == 1):
        return (mine or holding)[0]
    if not holding:
        raise UnknownStep(f"no deployed map has a step {step_id!r} (a step is named by its id, e.g. nudge-email)")
    raise UnknownStep(f"the step {step_id!r} is in several maps ({', '.join(holding)}): name one with --map")
