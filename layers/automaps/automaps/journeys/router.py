"""The router: every history entry, from the contacts table's stream, to triggers and goals.

History entries are the event log. ``RouteEventsFunction`` takes the ContactsTable's DynamoDB
stream (new images of ``H#`` items only, by the event source's filter) and hands each entry to
:func:`route_entry`: the maps it triggers get an enrollment request on the EnrollQueue
(``automaps.journeys.triggers``), and the contact's live enrollments see it for their goals and
``wait_until`` steps (``automaps.journeys.goals``). Delivery is at least once; both are keyed on
the entry's sort key, so an entry delivered twice enrolls and moves once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from automaps.journeys import metrics, stats
from automaps.store.contacts import HISTORY_PREFIX, HistoryEntry
from automaps.store.content import from_item

logger = Logger(child=True)


def handle(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """The stream batch's records, each routed or reported failed (never the whole batch); the
    routed entries of maps counted, by map and step, in one flush (automaps.journeys.metrics), and
    added to the map's and steps' counters once (automaps.journeys.stats: the records before the
    first failed one; when DynamoDB refuses the counters' write, or too little time is left for
    it, every record is reported failed, so the stream delivers the batch again from its first
    record, which routes once and counts once)."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    tally = metrics.Tally()
    batch = stats.Batch.of(event)
    try:
        response = process_partial_response(
            event=event,
            record_handler=lambda record: route_record(record, tally, batch),
            processor=processor,
            context=context,
        )
    finally:
        tally.flush()
    return batch.counted(response, context)


def route_record(record: DynamoDBRecord, tally: metrics.Tally | None = None, batch: stats.Batch | None = None) -> None:
    # the raw image through from_item: numbers come back as ints and floats, not Decimals (which
    # would reach an enrollment's event, and its merge fields, as strings)
    image = from_item(record.raw_event.get("dynamodb", {}).get("NewImage") or {})
    sequence = (record.raw_event.get("dynamodb") or {}).get("SequenceNumber")
    if not image or not str(image.get("sk", "")).startswith(HISTORY_PREFIX):
        if batch is not None:
            batch.add(sequence, "", None)  # nothing to count (the stream's filter keeps these out)
        return
    contact_id = str(image["pk"]).removeprefix("CONTACT#")
    entry = HistoryEntry.model_validate(image)
    route_entry(contact_id, str(image["sk"]), entry)
    if tally is not None:
        tally.count(entry)
    if batch is not None:
        batch.add(sequence, contact_id, entry)


def route_entry(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
    """One history entry: the maps it triggers, then the goals and waits of the contact's maps."""
    from automaps.journeys import dates, goals, moves, segments, triggers

    enqueued = triggers.route(contact_id, sort_key, entry)
    if entry.kind == "automation.added" and entry.detail.get("map") not in enqueued:
        moves.not_entered(contact_id, sort_key, entry)
    goals.route(contact_id, sort_key, entry)
    segments.route(contact_id, sort_key, entry)
    dates.route(contact_id, sort_key, entry)
