"""How many contacts sit where in a map: the census of its live enrollments' positions of record.

A contact is *in* a map while its ``ENROLL#<map>#<enrollment>`` item (contacts table) is live:
``status`` active, waiting or paused; it sits on ``position.step`` (the label of the step it
stands on, ``automaps.journeys.positions``), on ``position.map_version`` when the position
records one (the map version it runs on). An enrollment whose run has not begun its first step
yet has no position: it is counted under step None.

No index of the contacts table is keyed by map, so :func:`live_enrollments` is a paginated Scan
with a filter (``begins_with(sk, "ENROLL#<map>#")`` and a live status) that projects only the
keys, status and position. A Scan reads (and is billed for) every item of the table, not only
the enrollments: about 0.5 read units per 4 KB scanned (eventually consistent), that is per
table item of up to 4 KB: profiles, history entries and markers included.
:attr:`Census.read_units` reports what one census consumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps import aws, config
from automaps.store.contacts import ENROLL_PREFIX
from automaps.store.content import from_item, to_item

LIVE = ("active", "waiting", "paused")
ANY = "*"
"""``Census.at(step, map_version=ANY)``: on every version."""


class LiveEnrollment(BaseModel):
    """One contact in the map, where it stands."""

    model_config = ConfigDict(frozen=True)

    contact_id: str
    enrollment_id: str
    status: str
    step: str | None = None
    map_version: str | None = None
    position: dict[str, Any] | None = None


class StepCount(BaseModel):
    """How many contacts of ``status`` sit on ``step`` of ``map_version`` (None: not recorded)."""

    model_config = ConfigDict(frozen=True)

    step: str | None
    map_version: str | None
    status: str
    contacts: int


class Census(BaseModel):
    """Where the live contacts of map ``map_id`` sit, counted from their positions of record."""

    model_config = ConfigDict(frozen=True)

    map_id: str
    counts: list[StepCount] = Field(default_factory=list)
    """Sorted by map version, step, status (None first)."""
    scanned: int = 0
    """Table items the Scan read (its cost is per item read, not per contact found)."""
    read_units: float | None = None
    """Read capacity units the Scan consumed, when DynamoDB reported them."""

    @property
    def total(self) -> int:
        return sum(count.contacts for count in self.counts)

    def at(self, step: str | None, map_version: str | None = ANY) -> int:
        """Contacts on ``step`` (of ``map_version``; default: of every version)."""
        return sum(
            c.contacts for c in self.counts if c.step == step and (map_version == ANY or c.map_version == map_version)
        )

    def by_step(self) -> dict[str | None, int]:
        """step -> contacts on it, over every version and status."""
        found: Counter[str | None] = Counter()
        for count in self.counts:
            found[count.step] += count.contacts
        return dict(found)

    def versions(self) -> list[str | None]:
        """The map versions contacts sit on (None: positions that record no version)."""
        return sorted({c.map_version for c in self.counts}, key=_none_first)


def live_enrollments(
    map_id: str, *, table: str | None = None, page_size: int | None = None, segment: tuple[int, int] | None = None
) -> Iterator[LiveEnrollment]:
    """Every live enrollment of map ``map_id``, one Scan page at a time (the order is the table's);
    ``segment`` (n, of): only segment n of a parallel Scan in that many segments."""
    yield from _scan(map_id, table, page_size, segment, {})


def census(map_id: str, *, table: str | None = None, page_size: int | None = None, segments: int = 1) -> Census:
    """Count the live contacts of map ``map_id`` by (map version, step, status); ``segments`` > 1
    scans that many segments of the table in parallel threads (same cost, less time)."""
    if segments < 1:
        raise ValueError("segments must be at least 1")
    if segments == 1:
        parts = [_count(map_id, table, page_size, None)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(segments, 16)) as pool:
            parts = list(pool.map(lambda n: _count(map_id, table, page_size, (n, segments)), range(segments)))
    counted: Counter[tuple[str | None, str | None, str]] = Counter()
    for part, _ in parts:
        counted.update(part)
    counts = [
        StepCount(step=step, map_version=version, status=status, contacts=n)
        for (version, step, status), n in sorted(counted.items(), key=lambda kv: tuple(map(_none_first, kv[0])))
    ]
    reported = [tally["units"] for _, tally in parts if tally.get("reported")]
    return Census(
        map_id=map_id,
        counts=counts,
        scanned=int(sum(tally.get("scanned", 0) for _, tally in parts)),
        read_units=sum(reported) if reported else None,
    )


def _count(
    map_id: str, table: str | None, page_size: int | None, segment: tuple[int, int] | None
) -> tuple[Counter[tuple[str | None, str | None, str]], dict[str, float]]:
    tally: dict[str, float] = {}
    found = Counter((e.map_version, e.step, e.status) for e in _scan(map_id, table, page_size, segment, tally))
    return found, tally


def _none_first(value: str | None) -> tuple[int, str]:
    return (0, "") if value is None else (1, value)


def _scan(
    map_id: str, table: str | None, page_size: int | None, segment: tuple[int, int] | None, tally: dict[str, float]
) -> Iterator[LiveEnrollment]:
    params: dict[str, Any] = {
        "TableName": table or config.contacts_table(),
        "FilterExpression": "begins_with(sk, :prefix) AND #status IN (:active, :waiting, :paused)",
        "ProjectionExpression": "pk, sk, #status, #position",
        "ExpressionAttributeNames": {"#status": "status", "#position": "position"},
        "ExpressionAttributeValues": to_item(
            {":prefix": f"{ENROLL_PREFIX}{map_id}#", ":active": "active", ":waiting": "waiting", ":paused": "paused"}
        ),
        "ReturnConsumedCapacity": "TOTAL",
    }
    if page_size:
        params["Limit"] = page_size
    if segment is not None:
        params["Segment"], params["TotalSegments"] = segment
    db = aws.client("dynamodb")
    while True:
        page = db.scan(**params)
        tally["scanned"] = tally.get("scanned", 0) + page.get("ScannedCount", 0)
        if "ConsumedCapacity" in page:
            tally["units"] = tally.get("units", 0.0) + float(page["ConsumedCapacity"].get("CapacityUnits") or 0)
            tally["reported"] = 1
        for item in page.get("Items", []):
            yield _enrollment(from_item(item))
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _enrollment(item: dict[str, Any]) -> LiveEnrollment:
    position = item.get("position") if isinstance(item.get("position"), dict) else None
    return LiveEnrollment(
        contact_id=str(item["pk"]).removeprefix("CONTACT#"),
        enrollment_id=str(item["sk"]).rsplit("#", 1)[1],
        status=str(item.get("status")),
        step=position.get("step") if position else None,
        map_version=None if not position or position.get("map_version") is None else str(position["map_version"]),
        position=position,
    )
