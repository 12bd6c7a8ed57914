"""Effects with the outside world, exactly once per visit of a step, or honestly unknown.

An action that sends an email, an SMS, a call, a webhook, a charge... does it through
``ctx.once(effect, call, kind=..., detail=...)`` (automaps.journeys.steps.StepContext). For one visit of
the step (``TaskEvent.idempotency_key``) and one ``effect`` name, a marker item in the contacts
table is written **before** the provider is called and updated **with the provider's answer**
after it:

``pk = CONTACT#<id>``, ``sk = EFFECT#<enrollment id>#<step id>#<state entered time>#<visit>#<effect>``
(``status`` started | done | unknown, ``answer``, ``history`` (the entry the effect records),
``reason``, ``at``, ``stamp``). The sort key groups the markers of one step of one enrollment
by visit, so ``record_failure`` finds those of the visit that failed (:func:`failed_visit`).

On a later attempt of the same visit:

* ``done``: the provider is not called again; the stored answer is returned and the history
  entry is written again idempotently (same sort key, written only if absent), so a history
  write lost the first time is repaired;
* ``started`` / ``unknown``: the request may have been accepted; it is **not** sent again and
  :class:`automaps.journeys.steps.OutcomeUnknown` is raised (the step records ``step.outcome_unknown``).
  Calls whose provider deduplicates them (``replayable``: Stripe's Idempotency-Key, Amazon
  Connect's ClientToken) are made again instead, with the same key.

Errors that prove the request was not accepted (an answered refusal or throttling, a refused or
timed-out connect, an SMTP refusal before the end of DATA: ``TransientError``, ``PermanentError``,
``Skip``, a missing merge field) delete the marker, so the state's Retry may call again. Errors
after the request may have been accepted arrive as ``OutcomeUnknown`` from the channel and mark
the marker ``unknown``. Anything else (a crash, the Lambda's timeout) leaves it ``started``.
Markers expire 400 days after they are written (TTL ``expiration``,
``contacts.MARKER_TTL_SECONDS``): longer than an execution can last (one year) plus a visit's
retries, far beyond any Powertools idempotency record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from automaps import aws, clock, config
from automaps.store.content import from_item, to_item

if TYPE_CHECKING:
    from automaps.journeys.steps import TaskEvent

logger = Logger()

PREFIX = "EFFECT#"
STARTED, DONE, UNKNOWN = "started", "done", "unknown"
STEP_KINDS = ("step.done", "step.skipped", "step.failed", "step.outcome_unknown")


@dataclass
class Marker:
    sk: str
    effect: str
    status: str
    visit: str
    at: datetime
    stamp: str
    answer: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | None = None
    reason: str | None = None
    map_id: str | None = None
    step_id: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Marker:
        plain = from_item(item)
        return cls(
            sk=plain["sk"],
            effect=plain["effect"],
            status=plain["status"],
            visit=plain["visit"],
            at=datetime.fromisoformat(str(plain["at"])),
            stamp=plain["stamp"],
            answer=plain.get("answer") or {},
            history=plain.get("history"),
            reason=plain.get("reason"),
            map_id=plain.get("map_id"),
            step_id=plain.get("step_id"),
        )


def _table() -> str:
    return config.contacts_table()


def _db() -> Any:
    return aws.client("dynamodb")


def _pk(contact_id: str) -> str:
    return f"CONTACT#{contact_id}"


def visit_prefix(enrollment_id: str, step_id: str) -> str:
    return f"{PREFIX}{enrollment_id}#{step_id}#"


def marker_sk(task: TaskEvent, effect: str) -> str:
    return (
        f"{visit_prefix(task.enrollment_id, task.step_id)}{task.state_entered_time}#"
        f"{task.idempotency_key[:16]}#{effect}"
    )


# ------------------------------------------------------------------ once


def once(
    task: TaskEvent,
    effect: str,
    call: Callable[[], dict[str, Any]],
    *,
    kind: str | None = None,
    detail: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    replayable: bool = False,
    on_replay: Callable[[Marker], None] | None = None,
) -> dict[str, Any]:
    """``call()`` at most once for this visit and ``effect``; its answer (a dict), stored.

    ``kind``/``detail(answer)``: the history entry the effect records (written with a key of its
    own, so it is written once however often this runs). ``replayable``: the provider
    deduplicates repeats of the call itself, so an unknown outcome is retried, not given up."""
    from automaps.journeys.steps import OutcomeUnknown, TransientError

    sk = marker_sk(task, effect)
    marker, at, stamp = _claim(task, sk, effect)
    if marker is not None:
        if marker.status == DONE:
            logger.info("effect already done in this visit; not repeated", extra={"effect": effect})
            if on_replay is not None:
                on_replay(marker)
            _write_history(task.contact_id, marker)
            return marker.answer
        if not replayable:
            reason = marker.reason or f"an earlier attempt of this visit started {effect} and its outcome is unknown"
            raise OutcomeUnknown(effect, f"{reason}; not resent")
        logger.info("effect outcome unknown; repeated with the provider's idempotency key", extra={"effect": effect})
    if marker is not None:
        at, stamp = marker.at, marker.stamp
    try:
        answer = call()
    except OutcomeUnknown as unknown:
        _set(task, sk, UNKNOWN, reason=unknown.reason)
        if replayable:
            raise TransientError(f"{unknown.reason}; retried with the same idempotency key") from None
        raise OutcomeUnknown(effect, f"{unknown.reason}; not resent") from None
    except Exception as error:
        if replayable and isinstance(error, TransientError):
            # even an answered 5xx may follow a change the provider made: the repeat, with the
            # same idempotency key, tells (and changes nothing twice)
            _set(task, sk, UNKNOWN, reason=str(error))
        elif _not_sent(error):
            _release(task, sk)
        raise
    history = {"kind": kind, "detail": detail(answer) if detail else answer} if kind else None
    done = Marker(
        sk=sk,
        effect=effect,
        status=DONE,
        visit=task.idempotency_key,
        at=at,
        stamp=stamp,
        answer=answer,
        history=history,
        map_id=task.map_id,
        step_id=task.step_id,
    )
    try:
        _set(task, sk, DONE, answer=answer, history=history)
    except (ClientError, BotoCoreError) as error:  # the retry would find "started": unknown, never twice
        logger.error(
            "effect marker could not be marked done after the provider's answer",
            extra={"effect": effect, "error": f"{type(error).__name__}: {error}"},
        )
        _write_history(task.contact_id, done, strict=False)
        return answer
    _write_history(task.contact_id, done, strict=True)
    return answer


def _claim(task: TaskEvent, sk: str, effect: str) -> tuple[Marker | None, datetime, str]:
    """Write the ``started`` marker: (the marker found instead, or None when this call wrote it;
    the time and stamp written)."""
    from automaps.store.contacts import _suffix, marker_expiration

    now = clock.now()
    stamp = _suffix()
    item = {
        "pk": _pk(task.contact_id),
        "sk": sk,
        "effect": effect,
        "status": STARTED,
        "visit": task.idempotency_key,
        "execution_id": task.execution_id,
        "state_name": task.state_name,
        "state_entered_time": task.state_entered_time,
        "at": clock.iso(now),
        "stamp": stamp,
        "map_id": task.map_id,
        "step_id": task.step_id,
        "expiration": marker_expiration(now),
    }
    try:
        _db().put_item(TableName=_table(), Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        found = (
            _db()
            .get_item(TableName=_table(), Key=to_item({"pk": _pk(task.contact_id), "sk": sk}), ConsistentRead=True)
            .get("Item")
        )
        if found is not None:
            return Marker.from_item(found), now, stamp
        return _claim(task, sk, effect)  # released in between
    return None, now, stamp


def _set(
    task: TaskEvent,
    sk: str,
    status: str,
    *,
    answer: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    values: dict[str, Any] = {":s": status, ":t": clock.iso()}
    expression = "SET #s = :s, updated_at = :t"
    for name, value in (("answer", answer), ("history", history), ("reason", reason)):
        if value is not None:
            values[f":{name}"] = value
            expression += f", {name} = :{name}"
    _db().update_item(
        TableName=_table(),
        Key=to_item({"pk": _pk(task.contact_id), "sk": sk}),
        UpdateExpression=expression,
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item(values),
    )


def _release(task: TaskEvent, sk: str) -> None:
    """Nothing was sent: a retry may send. If even this fails, the marker stays (a retry then
    records an unknown outcome rather than risking a second message)."""
    try:
        _db().delete_item(TableName=_table(), Key=to_item({"pk": _pk(task.contact_id), "sk": sk}))
    except (ClientError, BotoCoreError) as error:
        logger.error(
            "effect marker could not be released after a refused request",
            extra={"error": f"{type(error).__name__}: {error}"},
        )


def _not_sent(error: BaseException) -> bool:
    from automaps.errors import MissingField, TemplateProblem
    from automaps.journeys.steps import PermanentError, Skip, TransientError

    return isinstance(error, (TransientError, PermanentError, Skip, MissingField, TemplateProblem))


def markers_of_visit(task: TaskEvent, effect_prefix: str = "") -> list[Marker]:
    """The markers this visit has written so far whose effect starts with ``effect_prefix``
    (an earlier attempt's cancellations, charges...)."""
    return _query(task.contact_id, marker_sk(task, effect_prefix))


def _query(contact_id: str, prefix: str) -> list[Marker]:
    params: dict[str, Any] = {
        "TableName": _table(),
        "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": to_item({":pk": _pk(contact_id), ":prefix": prefix}),
    }
    return [
        Marker.from_item(item) for page in _db().get_paginator("query").paginate(**params) for item in page["Items"]
    ]


# ------------------------------------------------------------------ history


def _write_history(contact_id: str, marker: Marker, *, strict: bool = True) -> None:
    """The effect's history entry, at the marker's time with the marker's stamp: written only if
    absent, so writing it again on a retry (or from record_failure) records nothing twice."""
    from automaps.journeys.steps import TransientError

    if not marker.history or not marker.history.get("kind"):
        return
    from automaps.store.contacts import HistoryEntry, _history_item

    entry = HistoryEntry(
        at=marker.at,
        kind=marker.history["kind"],
        detail=marker.history.get("detail") or {},
        map_id=marker.map_id,
        step_id=marker.step_id,
    )
    item = _history_item(contact_id, entry, stamp=marker.stamp)  # (indexed by kind if read by kind)
    try:
        _db().put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return
        if strict:
            raise TransientError(
                f"{entry.kind} could not be recorded (the effect is done and will not be "
                f"repeated; the retry records it): {error.response.get('Error', {}).get('Code')}"
            )
        logger.error("history entry of a done effect could not be recorded", extra={"kind": entry.kind})
    except BotoCoreError as error:
        if strict:
            raise TransientError(f"{entry.kind} could not be recorded: {type(error).__name__}") from None
        logger.error("history entry of a done effect could not be recorded", extra={"kind": entry.kind})


# ------------------------------------------------------------------ after a failure (record_failure)


@dataclass
class Visit:
    """The markers of the newest visit of a step that has any, and whether it finished."""

    markers: list[Marker]
    finished: bool

    @property
    def done(self) -> bool:
        return bool(self.markers) and all(m.status == DONE for m in self.markers)

    def write_history(self, contact_id: str) -> None:
        for marker in self.markers:
            _write_history(contact_id, marker)


def newest_visit(contact_id: str, enrollment_id: str, step_id: str) -> Visit | None:
    """The markers of the step's newest visit in this enrollment (None: no effect was started),
    ``finished`` when that visit already recorded its outcome (a later visit failed before it
    started any effect)."""
    from automaps.store.contacts import ContactStore

    markers = _query(contact_id, visit_prefix(enrollment_id, step_id))
    if not markers:
        return None
    newest = max(markers, key=lambda m: m.sk).visit
    markers = [m for m in markers if m.visit == newest]
    return Visit(markers, outcome_recorded(ContactStore(), contact_id, markers))


def outcome_recorded(store: Any, contact_id: str, markers: list[Marker]) -> bool:
    """Whether the visit of ``markers`` has its ``step.*`` entry on the history already."""
    if not markers:
        return False
    since, visit = min(m.at for m in markers), markers[0].visit
    return any(
        entry.detail.get("visit") == visit
        for kind in STEP_KINDS
        for entry in store.events(contact_id, kind, since=since)
    )
