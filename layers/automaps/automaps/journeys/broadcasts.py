"""The occurrence runner: a moment's schedule fired, its audience enrolled one page at a time.

A moment trigger's schedule (automaps.journeys.schedules) sends an :class:`Occurrence` to the
EnrollQueue; its consumer (automaps.journeys.enroll_queue) hands it to :func:`run`, which:

1. reads one page of the audience: up to ``PAGE_SIZE`` members of the segment or list (a Query
   from the cursor, in contact id order), or for a date trigger ``dates.page(...)`` (the date
   index, automaps.journeys.dates);
2. queues one :class:`EnrollRequest` per member (SendMessageBatch, 10 a call), each with the
   deterministic enrollment id of (map, contact, cause), the cause being the occurrence
   (``schedule\\n<trigger>\\n<at>``; per local date for date triggers);
3. counts the page in the run's progress (automaps.store.broadcasts), once: the write is
   conditional on the page number;
4. queues the next page's Occurrence (the cursor, the page number + 1), if there is one.

At least once, nothing twice: a page handled again (a redelivery after a crash anywhere in it)
queues its requests again under the same enrollment ids, which enroll once (the entry gate), and
its count is refused; the next page is queued again only by the delivery of the page counted
last, so a duplicate does not start a second chain through the audience. The requests' event
says what started them (``kind: schedule.fired``, ``at``: the occurrence), which merge fields
read; the trigger's ``only_if`` is checked by the consumer for each contact.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from automaps import aws, clock, config
from automaps.journeys import enrollment, schedules
from automaps.journeys.enrollment import EnrollRequest, MapRecord, Trigger
from automaps.journeys.schedules import Occurrence, Page
from automaps.store.broadcasts import BroadcastStore, RunKey
from automaps.store.content import from_item, to_item

logger = Logger(child=True)

PAGE_SIZE = 1000
"""Members per page: one Query (segment/list member items are small: 1,000 are ~100 KB, one
response), 100 SendMessageBatch calls, one progress write, a few seconds of a 30 s Lambda."""
BATCH = 10  # SendMessageBatch's limit
SEND_ATTEMPTS = 3
SEND_BACKOFF_SECONDS = 0.1
FIRED_KIND = "schedule.fired"


def parse(body: str) -> Occurrence | None:
    """An occurrence, if the queue message is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return Occurrence.model_validate(data) if isinstance(data, dict) and data.get("kind") == "occurrence" else None


def occurrence_time(text: str) -> datetime:
    """Scheduler's ``<aws.scheduler.scheduled-time>`` (``2026-11-02T09:00:00Z``) as a UTC datetime."""
    at = datetime.fromisoformat(text)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def run(occurrence: Occurrence) -> dict[str, Any]:
    """Handle one page of the occurrence; what was done, for the log."""
    record = enrollment.map_record(occurrence.map_id)
    trigger = schedules.find_trigger(record, occurrence.trigger) if record is not None else None
    if record is None or trigger is None:  # removed or changed since the schedule fired: it starts nothing
        logger.warning(
            "occurrence of a trigger no longer deployed",
            extra={"map_id": occurrence.map_id, "trigger": occurrence.trigger, "at": occurrence.at},
        )
        return {"occurrence": "ignored", "reason": "the map or the trigger is no longer deployed"}
    at = occurrence_time(occurrence.at)
    key = RunKey(map_id=record.id, trigger=occurrence.trigger, at=clock.iso(at))
    page = audience_page(record, trigger, at, occurrence.cursor, PAGE_SIZE, trigger_id=key.trigger)
    event = {
        "type": trigger.type,
        "kind": FIRED_KIND,
        "at": key.at,
        "trigger": trigger.key,
        "occurrence": {"trigger": key.trigger, "at": key.at},
    }
    requests = [
        EnrollRequest(
            contact_id=contact_id,
            map_id=record.id,
            enrollment_id=enrollment.enrollment_id_for(record.id, contact_id, cause_id),
            cause_id=cause_id,
            event=event,
            only_if=trigger.only_if,
        )
        for contact_id, cause_id in page.members
    ]
    send(requests)
    store = BroadcastStore()
    if not requests and page.cursor is None and occurrence.page == 0 and trigger.type != "schedule":
        # a date trigger's quarter hour that reaches nobody: no run to report (96 a day otherwise)
        return {"occurrence": key.at, "page": 0, "members": 0, "counted": False}
    counted = store.page_done(
        key, occurrence.page, len(requests), last=page.cursor is None, audience=f"{trigger.type} {trigger.key}"
    )
    follows = page.cursor is not None and (counted or store.pages_counted(key) == occurrence.page + 1)
    if follows:
        enrollment.enqueue_body(
            occurrence.model_copy(update={"cursor": page.cursor, "page": occurrence.page + 1}).model_dump_json()
        )
    logger.info(
        "occurrence page handled",
        extra={
            "map_id": record.id,
            "trigger": key.trigger,
            "at": key.at,
            "page": occurrence.page,
            "members": len(requests),
            "counted": counted,
            "next": follows,
        },
    )
    return {"occurrence": key.at, "page": occurrence.page, "members": len(requests), "counted": counted}


def cause_for(trigger_id: str, at: str) -> str:
    return f"schedule\n{trigger_id}\n{at}"


def audience_page(
    record: MapRecord, trigger: Trigger, at: datetime, cursor: dict | None, limit: int, *, trigger_id: str
) -> Page:
    """One page of who the occurrence reaches: a date trigger's from the date index, a
    schedule's from its segment or list."""
    if trigger.type != "schedule":
        from automaps.journeys import dates  # type: ignore[attr-defined, unused-ignore]

        found: Page = dates.page(record, trigger, at, cursor, limit)
        return found
    spec = trigger.spec or {}
    if spec.get("segment"):
        from automaps.store.segments import PREFIX

        partition = f"{PREFIX}{spec['segment']}"
    else:
        from automaps.store.lists import PREFIXES

        partition = f"{PREFIXES['list']}{spec['list']}"
    cause = cause_for(trigger_id, clock.iso(at))
    members, after = members_page(partition, cursor, limit)
    return Page([(contact_id, cause) for contact_id in members], after)


def members_page(partition: str, cursor: dict | None, limit: int) -> tuple[list[str], dict | None]:
    """Up to ``limit`` contact ids of a membership partition (``SEGMENT#<id>``, ``LIST#<name>``:
    items ``sk CONTACT#<id>``) from ``cursor``, and the cursor after them (None: no more)."""
    params: dict[str, Any] = {
        "TableName": config.contacts_table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :contact)",
        "ExpressionAttributeValues": to_item({":pk": partition, ":contact": "CONTACT#"}),
        "ProjectionExpression": "pk, sk",
        "Limit": limit,
    }
    if cursor:
        params["ExclusiveStartKey"] = to_item(cursor)
    found = aws.client("dynamodb").query(**params)
    members = [str(from_item(item)["sk"]).removeprefix("CONTACT#") for item in found["Items"]]
    last = found.get("LastEvaluatedKey")
    return members, (from_item(last) if last and len(members) == limit else None)


def send(requests: list[EnrollRequest]) -> None:
    """SendMessageBatch, 10 at a time; the entries SQS refused are sent again, up to
    ``SEND_ATTEMPTS`` times, then :class:`enrollment.IntakeUnavailable` (the page is retried)."""
    sqs, url = aws.client("sqs"), config.enroll_queue_url()
    for start in range(0, len(requests), BATCH):
        entries = {str(i): r.model_dump_json() for i, r in enumerate(requests[start : start + BATCH])}
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                answer = sqs.send_message_batch(
                    QueueUrl=url, Entries=[{"Id": i, "MessageBody": body} for i, body in entries.items()]
                )
                entries = {f["Id"]: entries[f["Id"]] for f in answer.get("Failed", [])}
                problem = "SendMessageBatch refused some entries"
            except (ClientError, BotoCoreError) as exc:
                problem = enrollment._error_name(exc)
            if not entries:
                break
            if attempt == SEND_ATTEMPTS:
                raise enrollment.IntakeUnavailable(problem)
            time.sleep(SEND_BACKOFF_SECONDS * 2 ** (attempt - 1))
