"""Enrollment: which maps a trigger starts, the entry rules, and idempotent starts.

The map registry (``MAP#<id>`` items in the content table, written by ``automaps push``) says
which triggers start which state machine and with which entry rule. Starting is idempotent
twice over: the enrollment id and the execution name derive from (contact, map, submission),
so a re-posted submission finds its own entry and Step Functions refuses a second execution
with the same name and input.

Intake is durable: :func:`enroll_matching` (what a form post or any other trigger calls) only
queues one :class:`EnrollRequest` per matching map on the ``EnrollQueue`` (SQS); the intake
consumer (``automaps.journeys.enroll_queue``) calls :func:`enroll` for each message, and a start that cannot
happen now raises :class:`StartDeferred` so the message comes back later.

Entry rules are enforced with one conditional write on the contact's ``ENTRY#<map>`` item:
``never`` (once in a lifetime), ``after_exit`` (again only once the last run has exited) and
``always``, each optionally with ``min_interval`` between two entries. The write also keeps
what the gate held before (``prev_*``) and a start lease (``starting`` token, ``starting_until``):
until StartExecution has succeeded the claim is provisional, and a failed start restores the
gate exactly (:func:`_revert`), so no failure ever leaves a contact locked out. One start is
pending per gate at a time; a lease older than ``START_LEASE_SECONDS`` belongs to an attempt
that died and is taken over.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from automaps import aws, clock, config
from automaps.store.content import ContentStore, from_item, to_item


class Trigger(BaseModel):
    """A trigger as the registry keeps it: its type and key (``form_submitted`` + form id,
    ``tag_added`` + tag, ...), its settings as written (``spec``, e.g. ``{"tag": "vip"}``) and
    its ``only_if`` condition: all the router needs (``automaps.journeys.triggers``)."""

    type: str
    key: str
    spec: dict[str, Any] | None = None
    only_if: dict[str, Any] | None = None


class EntryRule(BaseModel):
    reenter: Literal["never", "after_exit", "always"] = "after_exit"
    min_interval_seconds: int = 0


class MapRecord(BaseModel):
    """What the registry keeps of a deployed map."""

    id: str
    state_machine_arn: str
    version: str
    kind: Literal["map", "sequence", "follow_up"] = "map"
    goals: list[dict[str, Any]] = Field(default_factory=list)
    """Goal steps: ``step``, ``order`` (reading order), ``next`` (the state after it) and what
    achieves it (``condition`` or ``event``), from the compiler (automaps.maps.compiler.goal_points)."""
    map_goals: list[dict[str, Any]] = Field(default_factory=list)
    """The map's own goals (``id``, ``condition`` or ``event``): achieving one leaves the map."""
    awaits: bool = False
    """Whether the map has wait_until or goal steps (the router then looks at its contacts' positions)."""
    order: dict[str, int] = Field(default_factory=dict)
    """Each step's label -> its place in reading order (what "above a goal" means)."""
    awaited_kinds: list[str] = Field(default_factory=list)
    """The history kinds its goals and wait_until steps wait for (the router reads nothing else for them)."""
    awaits_conditions: bool = False
    """Whether a goal or wait_until of the map is a condition (any change of the contact may meet it)."""
    triggers: list[Trigger]
    entry: EntryRule = Field(default_factory=EntryRule)
    timezone: str | None = None
    """The map's fallback timezone (``Map.fallback_timezone``): for contacts whose own is unknown,
    and the default of its schedules (UTC when the map sets none)."""
    resumable: list[str] = Field(default_factory=list)
    """The states a run of the map's current version can be resumed at (its "Resume" Choice);
    empty in records pushed before it (then nothing is checked)."""
    versions: dict[str, str] = Field(default_factory=dict)
    """Map version (its content hash, ``position.map_version``) -> the state machine version ARN
    that runs it: a contact resumed by a move (unpause, goal, a long wait's return) continues on
    the version it was on, unless a publish moved it (``automaps publish --policy move``)."""
    source: dict[str, Any] | None = None
    """The map as pushed (``Map.model_dump(mode="json", by_alias=True)``): what ``automaps diff
    --stack-name`` compares an edit with (automaps.maps.diff). None in records pushed before it."""


class EnrollResult(BaseModel):
    map_id: str
    enrollment_id: str
    outcome: Literal["queued", "enrolled", "duplicate", "skipped"]
    reason: str | None = None


class EnrollRequest(BaseModel):
    """The body of one intake message: everything the consumer needs to enroll, nothing more."""

    contact_id: str
    map_id: str
    enrollment_id: str
    cause_id: str
    event: dict[str, Any]
    only_if: dict[str, Any] | None = None
    """The trigger's ``only_if``, checked by the consumer (a moment's requests: the router checks
    the others' before it queues them)."""


START_LEASE_SECONDS = 60  # a claim's start lease: twice the consumer's 30 s timeout
SEND_ATTEMPTS = 3  # SendMessage tries per request before the trigger is refused (503)
SEND_BACKOFF_SECONDS = 0.1  # 0.1 s, then 0.2 s between the tries
RETRY_AFTER_SECONDS = 5  # what a refused trigger is told to wait


class StartDeferred(RuntimeError):
    """The enrollment cannot start now (StartExecution throttled or over the execution limit, a
    5xx, another start pending on the gate): retry the request later. The gate is as it was."""

    def __init__(self, map_id: str, enrollment_id: str, reason: str) -> None:
        super().__init__(f"{map_id}/{enrollment_id}: {reason}")
        self.reason = reason


class IntakeUnavailable(RuntimeError):
    """SQS refused the enrollment requests after retries. Answer 503 with ``Retry-After``:
    nothing stored is lost, and sending the same trigger again (a re-post of the same
    submission) queues it again under the same enrollment ids."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"enrollment intake unavailable: {reason}")
        self.retry_after = RETRY_AFTER_SECONDS


REGISTRY_SECONDS = 60.0
_cached: dict[str, tuple[Any, float, list[MapRecord]]] = {}


def cached_maps() -> list[MapRecord]:
    """:func:`registered_maps`, read at most every :data:`REGISTRY_SECONDS` per content table (and
    again whenever the DynamoDB client changes, or after :func:`register` in this process): what
    the router reads for every entry."""
    table, db = config.content_table(), aws.client("dynamodb")
    found = _cached.get(table)
    if found is not None and found[0] is db and time.monotonic() - found[1] < REGISTRY_SECONDS:
        return found[2]
    records = registered_maps()
    _cached[table] = (db, time.monotonic(), records)
    return records


def registered_maps() -> list[MapRecord]:
    return [MapRecord.model_validate(body) for _, body in sorted(ContentStore().list("MAP").items())]


def run_on(record: MapRecord, map_version: str | None) -> str:
    """What a run of the contact on ``map_version`` starts on: that version's state machine
    version when the registry knows it, else the map's alias (its current version)."""
    return record.versions.get(map_version or "", record.state_machine_arn)


def register(record: MapRecord) -> None:
    from automaps.journeys import schedules, triggers

    previous = map_record(record.id)
    if previous is not None and previous.versions:  # the versions that still hold contacts stay known
        record = record.model_copy(update={"versions": {**previous.versions, **record.versions}})
    ContentStore().put("MAP", record.id, record.model_dump(mode="json"))
    triggers.forget_registry()  # this process's router reads the registry again (others within 60 s)
    _cached.clear()
    schedules.sync(record)  # one EventBridge Scheduler schedule per moment trigger, the old ones deleted


def enroll_matching(trigger: Trigger, contact_id: str, event: dict, cause_id: str) -> list[EnrollResult]:
    """Queue the contact's enrollment in every registered map that ``trigger`` starts: one
    message per map, sent before this returns (durable). Raises :class:`IntakeUnavailable`."""
    results = []
    for record in cached_maps():
        if any((t.type, t.key) == (trigger.type, trigger.key) for t in record.triggers):
            enrollment_id = enrollment_id_for(record.id, contact_id, cause_id)
            enqueue(
                EnrollRequest(
                    contact_id=contact_id, map_id=record.id, enrollment_id=enrollment_id, cause_id=cause_id, event=event
                )
            )
            results.append(EnrollResult(map_id=record.id, enrollment_id=enrollment_id, outcome="queued"))
    return results


def enqueue(request: EnrollRequest) -> None:
    """SendMessage to the EnrollQueue, retried on any failure (a throttle, a 5xx, a lost answer:
    a duplicate message is harmless, the consumer enrolls once)."""
    enqueue_body(request.model_dump_json())


def enqueue_body(body: str) -> None:
    """One message to the EnrollQueue (an enrollment request, an occurrence's next page), retried."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            aws.client("sqs").send_message(QueueUrl=config.enroll_queue_url(), MessageBody=body)
            return
        except (ClientError, BotoCoreError) as exc:
            if attempt == SEND_ATTEMPTS:
                raise IntakeUnavailable(_error_name(exc)) from exc
            time.sleep(SEND_BACKOFF_SECONDS * 2 ** (attempt - 1))


def map_record(map_id: str) -> MapRecord | None:
    body = ContentStore().get("MAP", map_id)
    return MapRecord.model_validate(body) if body else None


def enroll_request(request: EnrollRequest) -> EnrollResult:
    """What the intake consumer does with one message."""
    record = map_record(request.map_id)
    if record is None:
        return _skip(
            request.contact_id,
            request.map_id,
            request.enrollment_id,
            request.event,
            f"the map {request.map_id!r} is not deployed (anymore)",
        )
    if request.only_if is not None and not _only_if_met(record, request):
        return _skip(
            request.contact_id,
            record.id,
            request.enrollment_id,
            request.event,
            "the trigger's only_if is not met (or the contact is erased)",
        )
    return enroll(record, request.contact_id, request.event, request.cause_id)


def _only_if_met(record: MapRecord, request: EnrollRequest) -> bool:
    from automaps.conditions import adapter
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts
    from automaps.store.contacts import ContactStore

    store = ContactStore()
    contact = store.get(request.contact_id)
    if contact is None:
        return False
    met, _ = evaluate(
        adapter().validate_python(request.only_if), Facts(contact, clock.now(), map_id=record.id, store=store)
    )
    return bool(met)


def enrollment_id_for(map_id: str, contact_id: str, cause_id: str) -> str:
    return "e_" + hashlib.sha256(f"{map_id}\n{contact_id}\n{cause_id}".encode()).hexdigest()[:24]


def execution_name(map_id: str, enrollment_id: str) -> str:
    """Deterministic, at most 80 characters of [A-Za-z0-9-_]."""
    return f"{map_id[:50]}-{enrollment_id}"


def enroll(record: MapRecord, contact_id: str, event: dict, cause_id: str) -> EnrollResult:
    """Claim the entry gate, store the enrollment, start the execution, record ``map.enrolled``
    (once). Idempotent per (map, contact, cause). Raises :class:`StartDeferred` when the start
    has to wait; the gate is then as it was before this call."""
    from automaps.store.contacts import ContactStore

    enrollment_id = enrollment_id_for(record.id, contact_id, cause_id)
    store = ContactStore()
    achieved = _map_goal_achieved(record, contact_id)
    if achieved is not None:
        return _skip(
            contact_id, record.id, enrollment_id, event, f"the contact has already achieved the map's goal {achieved!r}"
        )
    token = uuid.uuid4().hex
    claim = _claim_entry(contact_id, record, enrollment_id, token)
    if claim == "duplicate":
        _finish(record, contact_id, enrollment_id, event)  # completes what an earlier attempt may have missed
        return EnrollResult(
            map_id=record.id,
            enrollment_id=enrollment_id,
            outcome="duplicate",
            reason="this submission already enrolled the contact",
        )
    if claim != "claimed":
        return _skip(contact_id, record.id, enrollment_id, event, claim)
    store.create_enrollment(contact_id, record.id, enrollment_id, event, run=_execution_arn(record, enrollment_id))
    try:
        execution_arn = _start(record, contact_id, enrollment_id)
    except Exception as exc:
        if not _started_anyway(record, enrollment_id, exc):
            _revert(contact_id, record.id, enrollment_id, token)
            raise StartDeferred(record.id, enrollment_id, f"StartExecution failed: {_error_name(exc)}") from exc
        execution_arn = _execution_arn(record, enrollment_id)
    _confirm(contact_id, record.id, token)
    _finish(record, contact_id, enrollment_id, event, execution_arn)
    return EnrollResult(map_id=record.id, enrollment_id=enrollment_id, outcome="enrolled")


def _map_goal_achieved(record: MapRecord, contact_id: str) -> str | None:
    """A map goal given as a condition that already holds when the contact arrives (a map goal
    given as an event is about what happens inside the map); no read for maps without one."""
    conditions = [goal for goal in record.map_goals if goal.get("condition") is not None]
    if not conditions:
        return None
    from automaps.conditions import adapter
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts
    from automaps.store.contacts import ContactStore

    store = ContactStore()
    contact = store.get(contact_id)
    if contact is None:
        return None
    facts = Facts(contact, clock.now(), map_id=record.id, store=store)
    for goal in conditions:
        if evaluate(adapter().validate_python(goal["condition"]), facts)[0]:
            return str(goal["id"])
    return None


def _finish(
    record: MapRecord, contact_id: str, enrollment_id: str, event: dict, execution_arn: str | None = None
) -> None:
    """After a successful start: the execution ARN on the enrollment, ``map.enrolled`` once
    (without ``execution_arn``, the start is made again if the enrollment has none: idempotent)."""
    from automaps.store.contacts import ContactStore

    store = ContactStore()
    enrollment = store.get_enrollment(contact_id, record.id, enrollment_id)
    if enrollment is None:  # claimed before enrollments were stored with the claim: nothing to finish
        return
    if not enrollment.execution_arn:
        store.set_execution_arn(
            contact_id, record.id, enrollment_id, execution_arn or _start(record, contact_id, enrollment_id)
        )
    _record_once(
        contact_id,
        f"map.enrolled\n{enrollment_id}",
        "map.enrolled",
        {"enrollment_id": enrollment_id, "version": record.version, "trigger": event.get("type")},
        map_id=record.id,
        at=enrollment.started_at,
        event=event,
        outcome="started",
    )


def _record_once(
    contact_id: str,
    event_key: str,
    kind: str,
    detail: dict[str, Any],
    *,
    map_id: str,
    at: datetime,
    event: dict,
    outcome: Literal["started", "skipped"],
) -> None:
    """``record_once``; for a broadcast's request with the outcome counted in its progress, in
    the same transaction (automaps.store.broadcasts): once, like the entry."""
    from automaps.store.broadcasts import BroadcastStore, run_key_of
    from automaps.store.contacts import ContactStore

    run = run_key_of(event, map_id)
    if run is None:
        ContactStore().record_once(contact_id, event_key, kind, detail, map_id=map_id, at=at)
    else:
        BroadcastStore().record_once_counted(run, outcome, contact_id, event_key, kind, detail, map_id=map_id, at=at)


def _skip(contact_id: str, map_id: str, enrollment_id: str, event: dict, reason: str) -> EnrollResult:
    _record_once(
        contact_id,
        f"map.enroll_skipped\n{enrollment_id}",
        "map.enroll_skipped",
        {"reason": reason, "enrollment_id": enrollment_id},
        map_id=map_id,
        at=_event_time(event),
        event=event,
        outcome="skipped",
    )
    if isinstance(event.get("return_to"), dict):  # a map waiting for this one continues at once
        from automaps.journeys import moves
        from automaps.store.contacts import Enrollment

        refused = Enrollment(
            contact_id=contact_id,
            map_id=map_id,
            enrollment_id=enrollment_id,
            status="exited",
            started_at=_event_time(event),
            event=event,
        )
        moves.return_to_caller(refused, "not_entered")
    return EnrollResult(map_id=map_id, enrollment_id=enrollment_id, outcome="skipped", reason=reason)


def _event_time(event: dict) -> datetime:
    """When the trigger happened (the same for every delivery of one request), else now."""
    try:
        return datetime.fromisoformat(str(event["at"]))
    except (KeyError, ValueError):
        return clock.now()


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def release(contact_id: str, map_id: str, enrollment_id: str) -> None:
    """The enrollment has exited: under ``after_exit`` the contact may enter again."""
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(),
            Key=to_item(_entry_key(contact_id, map_id)),
            UpdateExpression="SET active = :none",
            ConditionExpression="active = :me",
            ExpressionAttributeValues=to_item({":none": "", ":me": enrollment_id}),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def active_enrollment(contact_id: str, map_id: str) -> str | None:
    """The enrollment holding the contact in ``map_id`` now (the entry gate's ``active``), if any."""
    return _gate(contact_id, map_id).get("active") or None


def _entry_key(contact_id: str, map_id: str) -> dict[str, str]:
    return {"pk": f"CONTACT#{contact_id}", "sk": f"ENTRY#{map_id}"}


def _gate(contact_id: str, map_id: str) -> dict[str, Any]:
    found = (
        aws.client("dynamodb")
        .get_item(TableName=config.contacts_table(), ConsistentRead=True, Key=to_item(_entry_key(contact_id, map_id)))
        .get("Item")
    )
    return from_item(found) if found else {}


def _update_gate(contact_id: str, map_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
    """One conditional write on the gate; False when its condition does not hold."""
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(),
            Key=to_item(_entry_key(contact_id, map_id)),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False


def _lease_values(token: str) -> dict[str, Any]:
    return {":token": token, ":until": clock.iso(clock.now() + timedelta(seconds=START_LEASE_SECONDS))}


def _claim_entry(contact_id: str, record: MapRecord, enrollment_id: str, token: str, *, again: bool = True) -> str:
    """Take the contact's entry into the map in one conditional write, provisionally (under the
    start lease ``token``). Returns "claimed" (this attempt holds the claim), "duplicate" (this
    enrollment was started before) or the reason entry is refused; raises StartDeferred while
    another start is pending on the gate."""
    now = clock.now()
    rule = record.entry
    conditions = ["attribute_not_exists(starting)", "(attribute_not_exists(last_enrollment) OR last_enrollment <> :me)"]
    values: dict[str, Any] = {
        ":me": enrollment_id,
        ":at": clock.iso(now),
        ":one": 1,
        ":none": "",
        **_lease_values(token),
    }
    if rule.reenter == "never":
        conditions.append("attribute_not_exists(pk)")
    elif rule.reenter == "after_exit":
        conditions.append("(attribute_not_exists(active) OR active = :none)")
    if rule.min_interval_seconds:
        conditions.append("(attribute_not_exists(last_started_at) OR last_started_at <= :cutoff)")
        values[":cutoff"] = clock.iso(now - timedelta(seconds=rule.min_interval_seconds))
    # prev_* first: they read what the gate held before this write
    update = (
        "SET prev_active = if_not_exists(active, :none), prev_enrollment = if_not_exists(last_enrollment, :none), "
        "prev_started_at = if_not_exists(last_started_at, :none), active = :me, last_enrollment = :me, "
        "last_started_at = :at, starting = :token, starting_until = :until ADD entries :one"
    )
    if _update_gate(contact_id, record.id, update, " AND ".join(conditions), values):
        return "claimed"
    entry = _gate(contact_id, record.id)
    if entry.get("starting"):
        if entry.get("starting_until", "") > clock.iso(now):
            whose = "this" if entry.get("last_enrollment") == enrollment_id else "another"
            raise StartDeferred(record.id, enrollment_id, f"{whose} enrollment's start is pending on the entry gate")
        if entry.get("last_enrollment") == enrollment_id:  # an attempt that died: take its claim over
            if _update_gate(
                contact_id,
                record.id,
                "SET starting = :token, starting_until = :until",
                "starting = :old",
                {**_lease_values(token), ":old": entry["starting"]},
            ):
                return "claimed"
            raise StartDeferred(record.id, enrollment_id, "another attempt took over the pending start")
        if again:  # another enrollment's attempt died: settle its claim, then try once more
            _settle_stale(contact_id, record, entry)
            return _claim_entry(contact_id, record, enrollment_id, token, again=False)
        raise StartDeferred(record.id, enrollment_id, "another enrollment's start is pending on the entry gate")
    if entry.get("last_enrollment") == enrollment_id:
        return "duplicate"
    if record.entry.reenter == "never":
        return "the map admits a contact once (entry: never) and this contact has been in it"
    if record.entry.reenter == "after_exit" and entry.get("active"):
        return "the contact is still inside the map (entry: after_exit)"
    return (
        f"the contact entered less than {record.entry.min_interval_seconds} s ago "
        f"(entry min_interval), last at {entry.get('last_started_at')}"
    )


def _settle_stale(contact_id: str, record: MapRecord, entry: dict[str, Any]) -> None:
    """A start lease expired (its attempt died): keep the claim if its execution exists, else undo it."""
    token, stale = uuid.uuid4().hex, str(entry["last_enrollment"])
    if not _update_gate(
        contact_id,
        record.id,
        "SET starting = :token, starting_until = :until",
        "starting = :old",
        {**_lease_values(token), ":old": entry["starting"]},
    ):
        return
    if _execution_exists(record, stale):
        _confirm(contact_id, record.id, token)
    else:
        _revert(contact_id, record.id, stale, token)


def _confirm(contact_id: str, map_id: str, token: str) -> None:
    """The execution started: the claim is final."""
    _update_gate(
        contact_id,
        map_id,
        "REMOVE starting, starting_until, prev_active, prev_enrollment, prev_started_at",
        "starting = :token",
        {":token": token},
    )


def _revert(contact_id: str, map_id: str, enrollment_id: str, token: str) -> None:
    """The start failed: the gate goes back to what it held before the claim (the item goes
    away if there was none) and the enrollment that never started is deleted."""
    from automaps.store.contacts import ENROLL_PREFIX

    db, table = aws.client("dynamodb"), config.contacts_table()
    entry = _gate(contact_id, map_id)
    if entry.get("starting") != token:
        return
    key = to_item(_entry_key(contact_id, map_id))
    try:
        if not entry.get("prev_enrollment"):
            db.delete_item(
                TableName=table,
                Key=key,
                ConditionExpression="starting = :token",
                ExpressionAttributeValues=to_item({":token": token}),
            )
        else:
            db.update_item(
                TableName=table,
                Key=key,
                ConditionExpression="starting = :token",
                UpdateExpression="SET active = prev_active, last_enrollment = prev_enrollment, "
                "last_started_at = prev_started_at ADD entries :minus REMOVE starting, "
                "starting_until, prev_active, prev_enrollment, prev_started_at",
                ExpressionAttributeValues=to_item({":token": token, ":minus": -1}),
            )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return
    try:
        db.delete_item(
            TableName=table,
            Key=to_item({"pk": f"CONTACT#{contact_id}", "sk": f"{ENROLL_PREFIX}{map_id}#{enrollment_id}"}),
            ConditionExpression="attribute_not_exists(execution_arn)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


_NOT_SENT = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ExecutionLimitExceeded",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "InvalidArn",
        "InvalidName",
        "InvalidExecutionInput",
        "AccessDeniedException",
        "KmsThrottlingException",
    }
)


def _started_anyway(record: MapRecord, enrollment_id: str, error: Exception) -> bool:
    """Whether a failed StartExecution may still have started the execution (a 5xx, a lost
    answer): then Step Functions is asked. Refusals (throttling, the limit, 4xx) started nothing."""
    if isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in _NOT_SENT
        or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500
    ):
        return False
    try:
        return _execution_exists(record, enrollment_id)
    except (ClientError, BotoCoreError):
        raise error from None  # unknown: the claim stays under its lease, a later attempt settles it


def _execution_exists(record: MapRecord, enrollment_id: str) -> bool:
    try:
        aws.client("stepfunctions").describe_execution(executionArn=_execution_arn(record, enrollment_id))
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return False
        raise


def _execution_arn(record: MapRecord, enrollment_id: str) -> str:
    return execution_arn(record.state_machine_arn, execution_name(record.id, enrollment_id))


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of execution ``name`` of a state machine, started on the machine, one of its
    versions or its alias (``arn:aws:states:<region>:<account>:stateMachine:<machine>[:<qualifier>]``):
    executions are named after the machine only."""
    parts = state_machine_arn.split(":")
    return ":".join([*parts[:5], "execution", parts[6], name])


def _start(record: MapRecord, contact_id: str, enrollment_id: str) -> str:
    name = execution_name(record.id, enrollment_id)
    payload = json.dumps(
        {"contact_id": contact_id, "enrollment_id": enrollment_id, "map_id": record.id}, sort_keys=True
    )
    from automaps.journeys.enroll_queue import pacer

    sfn, bucket = aws.client("stepfunctions"), pacer()
    bucket.acquire()  # under the configured starts per second, across the pollers (enroll_queue)
    try:
        return sfn.start_execution(stateMachineArn=record.state_machine_arn, name=name, input=payload)["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ThrottlingException", "Throttling"):
            bucket.throttled()
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return _execution_arn(record, enrollment_id)
