"""Segment upkeep on the event route: each history entry re-evaluates the segments it can affect.

The router (``automaps.journeys.router.route_entry``) hands every entry here. From the pushed
segment definitions (read at most every :data:`REGISTRY_SECONDS` per content table, like the map
registry), only the segments whose condition reads the entry's kind are evaluated, with the
contact's :class:`~automaps.conditions.facts.Facts`; the journey's own bookkeeping kinds and our
``segment.*`` entries affect none. Each change of membership is one transaction
(``automaps.store.segments``) keyed on the entry's sort key, which writes the ``segment.entered``
/ ``segment.exited`` history entry that the router then routes to ``segment_entered`` /
``segment_exited`` triggers.

Conditions that depend on the clock ("opened an email in the last 30 days", "today is ...")
change with no entry. Whenever upkeep evaluates such a segment for a contact it also works out
when time alone would next change the verdict (:func:`next_change`: the condition evaluated
again at the moments its periods end for the events and dates it read, and at the coming hours
for today/the time of day) and leaves a due item for that hour; the hourly sweep
(:func:`sweep`, ``SegmentSweepFunction``) re-evaluates only the contacts due, through the same
decision, keyed on the due moment (docs/architecture.md, "Segments").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from automaps import aws, clock, config
from automaps.conditions import model as m
from automaps.store.contacts import ContactStore, HistoryEntry
from automaps.store.content import ContentStore
from automaps.store.segments import CONTENT_KIND, SegmentDefinition, SegmentStore

logger = Logger(child=True)

REGISTRY_SECONDS = 60.0
_PROFILE = frozenset({"contact.created", "contact.updated", "tags.changed"})
_EMAIL = frozenset({"email.sent", "email.delivered", "email.opened", "email.clicked"})
_COURSE = frozenset({"course.started", "course.completed", "course.step_completed"})
KINDS_READ: dict[type[BaseModel], frozenset[str]] = {
    m.HasTag: _PROFILE,
    m.FieldCondition: _PROFILE,
    m.DateAdded: _PROFILE,
    m.OpenedEmail: _EMAIL,
    m.ClickedLink: _EMAIL,
    m.VisitedPage: frozenset({"page.visited"}),
    m.InsideFunnel: frozenset({"page.visited"}),
    m.HasProduct: frozenset({"product.added", "product.removed", "purchase.made", "purchase.refunded"}),
    m.PurchasedProduct: frozenset({"purchase.made", "purchase.refunded"}),
    m.LastFormSubmitDate: frozenset({"form.submitted"}),
    m.HasSubscription: frozenset({"course.subscribed", "course.unsubscribed"}),
    m.HasAccount: frozenset({"account.created", "account.closed"}),
    m.CourseStarted: _COURSE,
    m.CourseCompleted: _COURSE,
    m.CourseStepCompleted: _COURSE,
    m.LastActiveDate: frozenset({"account.active"}),
    m.OnList: frozenset({"list.added", "list.removed"}),
    m.InAutomation: frozenset({"map.enrolled", "map.exited", "automation.added", "automation.removed"}),
    m.CurrentDate: frozenset(),
    m.CurrentTime: frozenset(),
}
"""The history kinds that can change each leaf's verdict (the clock's own changes are the sweep's)."""
CLOCK_LEAVES = (m.CurrentDate, m.CurrentTime)
"""Leaves that read today's date or the time of day: the verdict changes with time alone."""
_PERIODS = frozenset({"within", "within_last"})


def kinds_read(condition: BaseModel) -> frozenset[str]:
    """The history kinds that can change ``condition``'s verdict for a contact."""
    kinds: set[str] = set()
    for leaf in m.leaves(condition):
        if isinstance(leaf, m.EventAttribute):
            kinds.add(leaf.event_attribute.event)
        else:
            kinds |= KINDS_READ.get(type(leaf), _PROFILE)
    return frozenset(kinds)


def depends_on_clock(condition: BaseModel) -> bool:
    """Whether time alone can change the verdict (today, the time of day, or a period back from
    now such as ``within_last: {days: 30}``): the sweep re-evaluates these segments."""
    return any(isinstance(leaf, CLOCK_LEAVES) or _has_period(m.dump(leaf)) for leaf in m.leaves(condition))


def _has_period(node: Any) -> bool:
    if isinstance(node, dict):
        return any(key in _PERIODS or _has_period(value) for key, value in node.items())
    return isinstance(node, list) and any(_has_period(value) for value in node)


def periods(condition: BaseModel) -> tuple[timedelta, ...]:
    """The periods (``within``, ``within_last``) the condition reads, longest first."""
    from automaps.timing import Duration

    found: set[timedelta] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _PERIODS and isinstance(value, dict):
                    found.add(Duration.model_validate(value).to_timedelta())
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(m.dump(condition))
    return tuple(sorted(found, reverse=True))


@dataclass(frozen=True)
class Segment:
    definition: SegmentDefinition
    kinds: frozenset[str]
    clock: bool = False
    """Whether time alone can change the verdict (the sweep re-evaluates it)."""


_cached: dict[str, tuple[Any, float, list[Segment]]] = {}


def cached_segments() -> list[Segment]:
    """The pushed segment definitions, read at most every :data:`REGISTRY_SECONDS` per content
    table (and again when the DynamoDB client changes, or after :func:`forget`)."""
    table, db = config.content_table(), aws.client("dynamodb")
    found = _cached.get(table)
    if found is not None and found[0] is db and time.monotonic() - found[1] < REGISTRY_SECONDS:
        return found[2]
    segments = []
    for key, body in sorted(ContentStore().list(CONTENT_KIND).items()):
        try:
            definition = SegmentDefinition.model_validate(body)
        except ValidationError as error:  # pushed by a newer version: not ours to guess
            logger.warning("segment definition not understood", extra={"segment": key, "error": str(error)[:500]})
            continue
        condition = definition.condition
        segments.append(Segment(definition, kinds_read(condition), depends_on_clock(condition)))
    _cached[table] = (db, time.monotonic(), segments)
    return segments


def forget() -> None:
    """Read the definitions again at the next entry (after ``automaps push`` in the same process)."""
    _cached.clear()


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[tuple[str, str]]:
    """Re-evaluate the segments ``entry`` can affect; returns the transitions made, as
    ``(segment id, "entered"|"exited")``. Raises ``WriteConflict`` on a concurrent write (the
    stream delivers the entry again, and the transition is keyed on it)."""
    from automaps.journeys.goals import BOOKKEEPING

    if entry.kind in BOOKKEEPING or entry.kind.startswith("segment."):
        return []
    affected = [s for s in cached_segments() if entry.kind in s.kinds]
    if not affected:
        return []  # no segment reads this kind: nothing read
    made = reevaluate(contact_id, affected, sort_key, map_id=entry.map_id, enrollment_id=entry.enrollment_id)
    if made:
        logger.info("segments changed", extra={"kind": entry.kind, "transitions": made})
    return made


def reevaluate(
    contact_id: str,
    affected: list[Segment],
    cause: str,
    *,
    map_id: str | None = None,
    enrollment_id: str | None = None,
    fill: bool = False,
) -> list[tuple[str, str]]:
    """Decide the contact's membership of ``affected`` now, each change keyed on ``cause``; for
    segments that depend on the clock, leave the sweep a due item for the next change."""
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts

    contacts = ContactStore()
    contact = contacts.get(contact_id)
    store = SegmentStore()
    now_in = store.segments_of(contact_id)
    facts = Facts(contact, clock.now(), store=contacts) if contact is not None else None
    made: list[tuple[str, str]] = []
    for segment in affected:
        segment_id = segment.definition.id
        belongs = facts is not None and evaluate(segment.definition.condition, facts)[0]
        if facts is not None and segment.clock:
            changes_at = next_change(segment.definition.condition, facts, belongs)
            if changes_at is not None:
                store.due(segment_id, contact_id, changes_at)
        if belongs == (segment_id in now_in):
            continue
        change = store.enter if belongs else store.exit
        if change(segment_id, contact_id, cause, map_id=map_id, enrollment_id=enrollment_id, fill=fill):
            made.append((segment_id, "entered" if belongs else "exited"))
    return made


# ---------------------------------------------------------------- the sweep

HORIZON = timedelta(days=400)
"""How far ahead a change is looked for (further: the next entry re-evaluates the contact)."""
MAX_PROBES = 96
"""Evaluations per contact and segment spent looking for the next change (CPU only: the events
read for the verdict are shared)."""
LOOKBACK_HOURS = 48
"""Hours of due items each sweep reads: a sweep that did not run for two days misses older ones."""
_MARGIN = timedelta(seconds=1)


def next_change(condition: BaseModel, facts: Any, verdict: bool) -> datetime | None:
    """The first moment after now at which time alone turns ``verdict`` around, or None within
    :data:`HORIZON`. Candidates: each period of the condition added to each event, date field
    and creation time it read (a period ends), and, when it reads today or the time of day, the
    next 48 hours' hour marks; each is checked by evaluating the condition as of that moment."""
    from automaps.conditions.evaluate import evaluate

    now: datetime = facts.now
    anchors = [entry.at for entry in facts.events_read] + [facts.contact.created_at, *_dates(facts.contact.fields)]
    candidates = {anchor + period + _MARGIN for anchor in anchors for period in periods(condition)}
    if any(isinstance(leaf, CLOCK_LEAVES) for leaf in m.leaves(condition)):
        hour = now.replace(minute=0, second=0, microsecond=0)
        candidates |= {hour + timedelta(hours=n) for n in range(1, 49)}
    ahead = sorted(c for c in candidates if now < c <= now + HORIZON)[:MAX_PROBES]
    for moment in ahead:
        if evaluate(condition, facts.seen_at(moment))[0] != verdict:
            return moment
    return None


def _dates(fields: dict[str, Any]) -> list[datetime]:
    """The fields that read as dates or times (a date is its midnight, UTC)."""
    found = []
    for value in fields.values():
        if isinstance(value, str) and 10 <= len(value) <= 35 and value[:4].isdigit() and value[4:5] == "-":
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            found.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return found


def sweep(now: datetime | None = None, more_time: Callable[[], bool] = lambda: True) -> dict[str, int]:
    """Re-evaluate the contacts due by now (the due items of the hours since the last complete
    sweep, at most :data:`LOOKBACK_HOURS` back):
    each through :func:`reevaluate`, keyed on its due moment (a sweep that runs twice, or a due
    item asked twice, changes and records a membership once), then drop the due item. Stops
    early, leaving the rest to the next run, when ``more_time()`` says so."""
    moment = now or clock.now()
    start_fills()  # a segment pushed without a fill (push could not reach the queue) starts within the hour
    by_id = {s.definition.id: s for s in cached_segments() if s.clock}
    store = SegmentStore()
    counts = {"due": 0, "entered": 0, "exited": 0, "stale": 0}
    if not by_id:  # no segment reads the clock: nothing is due (items of one removed since expire)
        return counts
    hour = moment.replace(minute=0, second=0, microsecond=0)
    oldest = hour - timedelta(hours=LOOKBACK_HOURS)
    through = store.swept_through()
    start = max(oldest, through) if through is not None else oldest
    for back in range(int((hour - start).total_seconds() // 3600), -1, -1):
        for due in store.due_by(hour - timedelta(hours=back), moment):
            if not more_time():
                counts["unfinished"] = 1
                return counts
            segment = by_id.get(due.segment)
            if segment is None:  # the segment was removed or no longer reads the clock
                counts["stale"] += 1
            else:
                counts["due"] += 1
                cause = f"SWEEP#{due.at.astimezone(UTC):%Y%m%dT%H%M%S%f}"
                for _, transition in reevaluate(due.contact_id, [segment], cause):
                    counts[transition] += 1
            store.done(due)
    store.mark_swept(hour)  # the next run starts at this hour (its later due items are not due yet)
    if counts["due"] or counts["stale"]:
        logger.info("segment sweep", extra=counts)
    return counts


# ---------------------------------------------------------------- the fill of a new segment

FILL_PAGE = 500
"""Items a fill's Scan page reads (profiles are one item in many: history, markers, ...)."""


class FillRequest(BaseModel):
    """The EnrollQueue message of one page of a segment's fill (``kind: segment_fill``)."""

    kind: str = "segment_fill"
    segment: str
    version: str
    cursor: dict[str, Any] | None = None
    page: int = 0


def version_of(segment: Segment) -> str:
    """A short digest of the definition: a changed condition is a new fill."""
    import hashlib

    body = json.dumps(segment.definition.body(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def start_fills(segment_ids: list[str] | None = None) -> list[str]:
    """Start the fill of every pushed segment (or of ``segment_ids``) whose definition was never
    filled: the contacts that already match join it (entries of a kind it reads only re-evaluate
    contacts from then on). Once per definition (a conditional write claims it): ``automaps push``
    and the hourly sweep both call this; returns the segments started."""
    from automaps import aws, config

    store, started = SegmentStore(), []
    for segment in cached_segments():
        segment_id = segment.definition.id
        if segment_ids is not None and segment_id not in segment_ids:
            continue
        version = version_of(segment)
        if store.fill_state(segment_id, version) is None and store.claim_fill(segment_id, version):
            request = FillRequest(segment=segment_id, version=version)
            aws.client("sqs").send_message(QueueUrl=config.enroll_queue_url(), MessageBody=request.model_dump_json())
            started.append(segment_id)
    if started:
        logger.info("segment fills started", extra={"segments": started})
    return started


def fill(request: FillRequest) -> dict[str, Any]:
    """One page of a fill: a Scan page of the contacts' profiles, each evaluated for the segment
    (keyed on the version: a page read twice transitions once; transitions carry ``fill`` and
    start no segment_entered map), the page counted once, then the next page queued."""
    from automaps import aws, config

    segment = next((s for s in cached_segments() if s.definition.id == request.segment), None)
    if segment is None or version_of(segment) != request.version:
        forget()  # the definitions may be newer than this process's
        segment = next((s for s in cached_segments() if s.definition.id == request.segment), None)
        if segment is None or version_of(segment) != request.version:
            return {"segment": request.segment, "filled": "nothing: the segment changed or is gone"}
    store = SegmentStore()
    ids, following = store.profiles(request.cursor, FILL_PAGE)
    made = 0
    for contact_id in ids:
        made += len(reevaluate(contact_id, [segment], f"FILL#{request.version}", fill=True))
    store.fill_page_done(request.segment, request.version, request.page, following, len(ids))
    # the next page is queued once, from the cursor of the delivery that counted this page (a
    # redelivery's Scan may end elsewhere; its own cursor would start a second chain)
    state = store.fill_state(request.segment, request.version) or {}
    following_page = request.page + 1
    if (
        int(state.get("page", 0)) == following_page
        and state.get("cursor")
        and int(state.get("queued", 0)) < following_page
    ):
        following_request = request.model_copy(update={"cursor": json.loads(state["cursor"]), "page": following_page})
        aws.client("sqs").send_message(
            QueueUrl=config.enroll_queue_url(), MessageBody=following_request.model_dump_json()
        )
        store.fill_queued(request.segment, request.version, following_page)
    logger.info(
        "segment fill page",
        extra={"segment": request.segment, "page": request.page, "contacts": len(ids), "made": made},
    )
    return {"segment": request.segment, "page": request.page, "contacts": len(ids), "transitions": made}


def parse_fill(body: str) -> FillRequest | None:
    """A fill page request, if the queue message is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return FillRequest.model_validate(data) if isinstance(data, dict) and data.get("kind") == "segment_fill" else None
