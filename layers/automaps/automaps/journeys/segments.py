"""Segment upkeep on the event route: each history entry re-evaluates the segments it can affect.

The router (``automaps.journeys.router.route_entry``) hands every entry here. From the pushed
segment definitions (read at most every :data:`REGISTRY_SECONDS` per content table, like the map
registry), only the segments whose condition reads the entry's kind are evaluated, with the
contact's :class:`~automaps.conditions.facts.Facts`; the journey's own bookkeeping kinds and our
``segment.*`` entries affect none. Each change of membership is one transaction
(``automaps.store.segments``) keyed on the entry's sort key, which writes the ``segment.entered``
/ ``segment.exited`` history entry that the router then routes to ``segment_entered`` /
``segment_exited`` triggers. Conditions that depend on the clock alone ("last active more than
30 days ago") change with no entry: they are the scheduled sweep's (docs/architecture.md, "Segments").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Segment:
    definition: SegmentDefinition
    kinds: frozenset[str]


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
        segments.append(Segment(definition, kinds_read(definition.condition)))
    _cached[table] = (db, time.monotonic(), segments)
    return segments


def forget() -> None:
    """Read the definitions again at the next entry (after ``automaps push`` in the same process)."""
    _cached.clear()


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[tuple[str, str]]:
    """Re-evaluate the segments ``entry`` can affect; returns the transitions made, as
    ``(segment id, "entered"|"exited")``. Raises ``WriteConflict`` on a concurrent write (the
    stream delivers the entry again, and the transition is keyed on it)."""
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts
    from automaps.journeys.goals import BOOKKEEPING

    if entry.kind in BOOKKEEPING or entry.kind.startswith("segment."):
        return []
    affected = [s for s in cached_segments() if entry.kind in s.kinds]
    if not affected:
        return []  # no segment reads this kind: nothing read
    contacts = ContactStore()
    contact = contacts.get(contact_id)
    store = SegmentStore()
    now_in = store.segments_of(contact_id)
    facts = Facts(contact, clock.now(), store=contacts) if contact is not None else None
    made: list[tuple[str, str]] = []
    for segment in affected:
        segment_id = segment.definition.id
        belongs = facts is not None and evaluate(segment.definition.condition, facts)[0]
        if belongs == (segment_id in now_in):
            continue
        change = store.enter if belongs else store.exit
        if change(segment_id, contact_id, sort_key, map_id=entry.map_id, enrollment_id=entry.enrollment_id):
            made.append((segment_id, "entered" if belongs else "exited"))
    if made:
        logger.info("segments changed", extra={"kind": entry.kind, "transitions": made})
    return made
