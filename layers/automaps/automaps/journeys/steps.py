"""The step runner every action handler goes through.

``run_action(event, context)`` takes the action task event a Task state sends
(docs/architecture.md), and for one visit of a step:

1. loads the contact (gone: the step is skipped),
2. checks ``only_if`` (not met: skipped, recorded with the inputs the condition looked at),
3. runs the action module's ``run(ctx, settings)``,
4. records ``step.done`` / ``step.skipped`` / ``step.failed`` on the contact's history (or
   ``step.deferred``: a send held back by the map's sending limits, automaps.channels.limits),

all of it exactly once per visit: Powertools idempotency keyed on the execution, the state and
the time the state was entered, so a Lambda or Step Functions retry of one visit returns the
stored outcome, while a later visit of the same state (a loop) runs again.

Error classification: an action raises :class:`Skip` (nothing to do, e.g. no phone number),
:class:`PermanentError` (recorded as failed, the contact moves on) or :class:`TransientError`
(the idempotency record is released and the error leaves the Lambda, so the state's Retry runs
again). Throttling and 5xx answers from AWS count as transient.

Effects on the outside world (an email, an SMS, a charge) go through :meth:`StepContext.once`
(automaps.journeys.effects): a durable marker per visit and effect, written before the call and updated
with the answer, so a retry never repeats an accepted request. When a request may have been
accepted but its answer was lost, the action raises :class:`OutcomeUnknown`: the step records
``step.outcome_unknown`` with the effect and the reason, and the contact moves on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automaps import actions, aws, clock, config
from automaps.errors import (
    Deferred,
    MissingField,
    OutcomeUnknown,
    PermanentError,
    Skip,
    Superseded,
    TemplateProblem,
    TransientError,
)
from automaps.store.contacts import Contact, ContactStore, WriteConflict

logger = Logger()

NATURALLY_IDEMPOTENT = frozenset(
    {
        "add_course_subscription",
        "add_note",
        "add_product",
        "add_purchase",
        "add_to_list",
        "assign_task",
        "change_tags",
        "create_special_offer",
        "remove_from_fulfillment",
        "remove_from_list",
        "remove_product",
        "remove_special_offer",
        "send_to_fulfillment",
        "update_contact",
        "update_membership_access",
    }
)
"""Actions that change only what we store, each change in one transaction with the visit's marker
``DONE#<visit>`` (automaps.journeys.once), so a retry of the visit finds the change made and makes
it no second time: they run without a Powertools idempotency record (two to three write units
fewer per step). A retry (``retry_count`` not 0) reads whether the visit recorded its outcome
before recording it. Actions that call the outside world (sends, webhooks, calls, charges, the
other maps) keep the record: tests/actions/test_folds.py holds the list to that."""
IDEMPOTENCY_KEY_PREFIX = "automaps.step"
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60  # far beyond the longest Retry schedule of a state (about a minute)
DEFAULT_METRICS_NAMESPACE = "Automaps"

_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
    }
)


# ------------------------------------------------------------------ the contract


class TaskEvent(BaseModel):
    """The action task event (docs/architecture.md, "Action task event")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1)
    enrollment_id: str = Field(min_length=1)
    map_id: str = Field(min_length=1)
    step_id: str = Field(min_length=1)
    action: str = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    only_if: dict[str, Any] | None = None
    fallback_timezone: str | None = None
    """The map's timezone, for the dates and times of day an ``only_if`` reads."""
    then_check: dict[str, Any] | None = None
    """The ``if``/``switch`` right after this step, decided after it in the same invocation
    (automaps.journeys.journey.Check); the answer is returned under ``check``."""
    missing_fields: Literal["skip", "fail"] = "skip"
    sending: dict[str, Any] | None = None
    """The map's sending limits, for send_email / send_sms (automaps.channels.limits.Sending)."""
    deferral: Literal["result", "catch"] = "result"
    """How a deferred send tells its state machine: ``catch`` raises :class:`Deferred` (the Task's
    Catch waits and comes back); ``result`` (definitions compiled before) answers ``deferred``
    with ``detail.deferred_until`` for a Choice to read."""
    position: dict[str, Any] | None = None
    """How this step stands in the map when it begins (automaps.journeys.positions.PositionSpec)."""
    then_wait: dict[str, Any] | None = None
    """The fixed wait right after this step (``step``, ``state``, ``timer``, ``seconds`` or ``until``):
    the step records the contact's position in it when it is done (the wait has no task of its own)."""
    next_state: str | None = None
    """The state after this step, for an action that makes the contact wait there (add_to_automation
    with ``return: true``): where the return continues."""
    then_resolve: dict[str, Any] | None = None
    """The wait (or the next action's ``when``) right after this step, worked out in the same
    invocation when the step is done: a resolve_wait request without the ids and the visit
    (``step_id``, ``wait`` or ``when``, ``position``, ...); the answer is returned under ``wait``."""
    then_exit: dict[str, Any] | None = None
    """This is the map's last step: the contact leaves the map in the same invocation when it is done
    (``step_id``, ``reason``, ``position``, ``stay``: an exit_map request without the ids and the visit)."""
    execution_id: str = Field(min_length=1)
    state_name: str = Field(min_length=1)
    state_entered_time: str = Field(min_length=1)
    retry_count: int | None = None
    """``$$.State.RetryCount``: 0 on a visit's first attempt (nothing of it recorded yet); None in
    definitions compiled before it (every attempt is then taken as possibly a retry)."""

    @property
    def idempotency_key(self) -> str:
        """One visit of one state: stable across retries, new on every later visit."""
        visit = f"{self.execution_id}|{self.state_name}|{self.state_entered_time}"
        return hashlib.sha256(visit.encode()).hexdigest()


class Outcome(BaseModel):
    """What the handler returns (and Step Functions discards): the story is on the history."""

    outcome: Literal["done", "skipped", "failed", "unknown", "deferred"]
    reason: str | None = None
    step_id: str
    detail: dict[str, Any] = Field(default_factory=dict)
    check: dict[str, Any] | None = None
    """The answer to ``then_check`` (``{"result": bool}`` or ``{"case": index}``), when asked."""
    wait: dict[str, Any] | None = None
    """The answer to ``then_resolve`` (``{"at": "<UTC>Z", "skip": bool}``), when asked."""


def outcome_kind(outcome: str) -> str:
    """The history kind of a step's outcome: ``step.done``, ..., ``step.outcome_unknown``."""
    return "step.outcome_unknown" if outcome == "unknown" else f"step.{outcome}"


@dataclass
class StepContext:
    """What an action's ``run(ctx, settings)`` gets."""

    event: TaskEvent
    contact: Contact
    store: ContactStore
    now: datetime
    _trigger: dict[str, Any] | None = field(default=None, repr=False)
    replayed: list[Any] = field(default_factory=list, repr=False)
    """Markers of effects an earlier attempt of this visit had done (automaps.journeys.effects.Marker)."""

    def once(
        self,
        effect: str,
        call: Callable[[], dict[str, Any]],
        *,
        kind: str | None = None,
        detail: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        replayable: bool = False,
    ) -> dict[str, Any]:
        """``call()`` at most once for this visit of the step (automaps.journeys.effects.once): its answer,
        the stored one on a retry. ``kind``/``detail(answer)`` is the history entry it records."""
        from automaps.journeys import effects

        return effects.once(
            self.event, effect, call, kind=kind, detail=detail, replayable=replayable, on_replay=self.replayed.append
        )

    def earlier_effects(self, prefix: str) -> list[Any]:
        """The effects (automaps.journeys.effects.Marker) an earlier attempt of this visit started whose
        name starts with ``prefix``: what a retry must finish or report, even when the provider
        no longer lists it (a cancelled order is not open any more)."""
        from automaps.journeys import effects

        return effects.markers_of_visit(self.event, prefix)

    def record(self, kind: str, detail: dict[str, Any] | None = None) -> None:
        """Record on the contact's history, attributed to this map and step."""
        self.store.record(
            self.contact.id,
            kind,
            detail,
            map_id=self.event.map_id,
            step_id=self.event.step_id,
            enrollment_id=self.event.enrollment_id,
        )

    def record_effect(self, kind: str, detail: dict[str, Any] | None = None) -> None:
        """Record what the action has already done (an email sent, ...). Once the effect happened a
        failure to record it must not make the step run again (a second email), so it is logged
        as an error instead of raised."""
        try:
            self.record(kind, detail)
        except (ClientError, BotoCoreError, WriteConflict) as error:
            logger.error(
                "history entry could not be recorded after the action took effect",
                extra={"kind": kind, "error": f"{type(error).__name__}: {error}"},
            )

    def trigger_event(self) -> dict[str, Any]:
        """The event that enrolled the contact (a form submission, ...); {} if unknown."""
        if self._trigger is None:
            enrollment = self.store.get_enrollment(self.contact.id, self.event.map_id, self.event.enrollment_id)
            self._trigger = enrollment.event if enrollment else {}
        return self._trigger

    def merge_context(self, *texts: str | None) -> dict[str, Any]:
        """The variables merge fields see (``contact``, ``event``, ``offer``: automaps.rendering).
        Given the ``texts`` to render, the enrollment's event is read only if they use it."""
        from automaps import rendering

        wanted = not texts or bool(rendering.referenced_variables(*texts) & {"event", "offer"})
        trigger = self.trigger_event() if wanted else {}
        offer = trigger.get("offer")
        return rendering.merge_context(self.contact, trigger, offer if isinstance(offer, dict) else None)

    def render(self, text: str, where: str = "") -> str:
        """Render merge fields in ``text``; raises MissingField for missing values."""
        from automaps import rendering

        return rendering.render(text, self.merge_context(text), where=where or f"step {self.event.step_id!r}")

    def outcome(
        self,
        outcome: Literal["done", "skipped", "failed", "unknown", "deferred"] = "done",
        reason: str | None = None,
        **detail: Any,
    ) -> Outcome:
        return Outcome(outcome=outcome, reason=reason, step_id=self.event.step_id, detail=detail)


# ------------------------------------------------------------------ the runner


def run_action(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Run one visit of an action step; returns the Outcome as a dict."""
    task = TaskEvent.model_validate(event)
    with _log_keys(task):
        try:
            result = _once(task, context)
        except TransientError as error:
            logger.warning(
                "step hit a transient error; the state's Retry will run it again", extra={"error": str(error)}
            )
            _count(task.action, "TransientError")
            raise
        except Superseded as superseded:
            logger.info(
                "this run no longer holds the contact; the step does not run", extra={"reason": superseded.reason}
            )
            _count(task.action, "Superseded")
            raise
        outcome = Outcome.model_validate(result)
        logger.info("step finished", extra={"outcome": outcome.outcome, "reason": outcome.reason})
        _count(task.action, outcome.outcome)
        if outcome.outcome == "deferred" and task.deferral == "catch":  # recorded; the Catch waits and returns
            raise Deferred(str(outcome.detail["deferred_until"]))
        # ``check`` is there (an answer or null) exactly when the state asked for it; ``wait`` likewise
        unasked = {name for name, asked in (("check", task.then_check), ("wait", task.then_resolve)) if asked is None}
        return outcome.model_dump(mode="json", exclude=unasked or None)


def _once(task: TaskEvent, context: Any) -> dict[str, Any]:
    """``_execute`` under Powertools idempotency, keyed on ``task.idempotency_key`` (an action of
    :data:`NATURALLY_IDEMPOTENT`: without it)."""
    if task.action in NATURALLY_IDEMPOTENT:
        return _execute(task, {"key": task.idempotency_key})
    idempotency = IdempotencyConfig(
        event_key_jmespath="key",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        hash_function="sha256",
    )
    if context is not None:
        idempotency.register_lambda_context(context)
    once = idempotent_function(
        _execute,
        data_keyword_argument="visit",
        persistence_store=_persistence_layer(),
        config=idempotency,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    try:
        return once(task=task, visit={"key": task.idempotency_key})
    except IdempotencyAlreadyInProgressError as error:
        raise TransientError("another invocation is running this visit of the step") from error
    except IdempotencyPersistenceLayerError as error:
        raise TransientError(f"idempotency store unavailable: {error}") from error


_persistence: tuple[Any, str, DynamoDBPersistenceLayer] | None = None


def _persistence_layer() -> DynamoDBPersistenceLayer:
    """Created on first use (never at import) and again whenever the client or table changes."""
    global _persistence
    client, table = aws.client("dynamodb"), config.idempotency_table()
    if _persistence is None or _persistence[0] is not client or _persistence[1] != table:
        _persistence = (client, table, DynamoDBPersistenceLayer(table_name=table, boto3_client=client))
    return _persistence[2]


def _execute(task: TaskEvent, visit: dict[str, str]) -> dict[str, Any]:
    """One visit, run once: decide, act, record. Raises TransientError for the Retry to handle.
    ``visit`` (``{"key": <idempotency key>}``) is only read by Powertools, to key the record."""
    store = ContactStore()
    try:
        contact = store.get(task.contact_id)
        if contact is None:
            logger.info("contact no longer exists; step skipped")
            gone = Outcome(outcome="skipped", reason="contact no longer exists", step_id=task.step_id)
            if task.then_check is not None:
                from automaps.journeys.journey import Check

                gone.check = Check.model_validate(task.then_check).no_contact_answer()
            if task.then_resolve is not None:  # nothing to wait for: the steps after it skip too
                gone.wait = {"at": clock.iso(), "skip": False}
            if task.then_exit is not None:
                _then_exit(task)
            return gone.model_dump(mode="json")
        _enter(task, store)
        ctx = StepContext(event=task, contact=contact, store=store, now=clock.now())
        outcome = _decide(ctx)
    except WriteConflict as error:
        raise TransientError(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise TransientError(f"{type(error).__name__}: {error}") from error
        raise
    if not _outcome_already_recorded(ctx, outcome):
        ctx.record_effect(
            outcome_kind(outcome.outcome),
            {
                **outcome.detail,
                "action": task.action,
                "enrollment_id": task.enrollment_id,
                "reason": outcome.reason,
                "visit": task.idempotency_key,
            },
        )
    if task.then_check is not None:
        outcome.check = _then_check(ctx)
    if outcome.outcome == "deferred" and task.enrollment_id:  # it waits at its step (the waiting gauge)
        from automaps.journeys import positions

        until = str(outcome.detail.get("deferred_until") or "")
        positions.defer(task.contact_id, task.map_id, task.enrollment_id, task.execution_id, task.step_id, until)
    if outcome.outcome != "deferred":  # a deferred send stays at its step
        if task.then_wait is not None:
            _enter_wait(task)
        if task.then_resolve is not None:
            outcome.wait = _then_resolve(task)
        if task.then_exit is not None:
            _then_exit(task)
    return outcome.model_dump(mode="json")


RETRIES = 5
"""The Retry's ``MaxAttempts`` of every Task (automaps.maps.compiler): the attempt with this
``retry_count`` is a visit's last."""


class Unfolded(Exception):  # (Step Functions matches the class name: automaps.maps.compiler.UNFOLDED)
    """The step is done and recorded, but what the compiler folded into it (the next wait's moment,
    the exit) could not be decided here: leaves the Lambda under this exact class name, which the
    Task's Catch sends to the state that decides it on its own (the resolve Task, "Completed").
    A transient failure is a :class:`TransientError` instead (the Retry runs the visit again, which
    repeats nothing: its effects and entries are once per visit), until the visit's last attempt."""


def _unfold(task: TaskEvent, what: str, error: Exception) -> Exception:
    """What a folded task's failure leaves the Lambda as: TransientError while the Retry has
    attempts left and the failure is transient, else Unfolded."""
    transient = isinstance(error, TransientError) or (
        isinstance(error, ClientError | BotoCoreError) and is_transient(error)
    )
    last = task.retry_count is None or task.retry_count >= RETRIES
    if transient and not last:
        return TransientError(f"{what} after {task.step_id!r}: {error}")
    logger.warning(f"{what} is left to its own task", extra={"error": f"{type(error).__name__}: {error}"})
    return Unfolded(f"{what} after {task.step_id!r} could not be decided here: {type(error).__name__}")


def _folded(task: TaskEvent, request: dict[str, Any]) -> dict[str, Any]:
    """A folded task's request: the step's ids and visit, then what the compiler put in it."""
    visit = {"execution_id": task.execution_id, "state_name": task.state_name}
    ids = {"contact_id": task.contact_id, "enrollment_id": task.enrollment_id, "map_id": task.map_id}
    folded = ids | visit | {"state_entered_time": task.state_entered_time} | request
    version = (task.position or {}).get("map_version")
    if version is not None and isinstance(folded.get("position"), dict):  # the position of record names it too
        folded["position"] = {"map_version": version, **folded["position"]}
    return folded


def _then_resolve(task: TaskEvent) -> dict[str, Any]:
    """The moment of the wait after this step (automaps.journeys.journey.resolve_wait, for this
    visit): ``{"at", "skip"}``. Superseded (a hand-off to the scheduler, a run that no longer holds
    the contact) leaves as is; any other failure as :class:`Unfolded`."""
    from automaps.journeys import journey

    try:
        return journey.resolve_wait(journey.WaitRequest.model_validate(_folded(task, task.then_resolve or {})))
    except Superseded:
        raise
    except Exception as error:  # noqa: BLE001  (the resolve Task decides it, with its own retries)
        raise _unfold(task, "the next wait", error) from None


def _then_exit(task: TaskEvent) -> None:
    """The contact leaves the map after its last step (automaps.journeys.journey.exit_map, once).
    Superseded leaves as is; any other failure as :class:`Unfolded` ("Completed" exits them)."""
    from automaps.journeys import journey

    request = _folded(task, task.then_exit or {})  # its position: the exit's own state ("Completed", "4 end")
    try:
        journey.exit_map(journey.ExitRequest.model_validate(request))
    except Superseded:
        raise
    except Exception as error:  # noqa: BLE001
        raise _unfold(task, "the exit", error) from None


def _enter(task: TaskEvent, store: ContactStore) -> None:
    """The contact's position is this step, if this run still holds them (else Superseded)."""
    from automaps.journeys import effects, positions

    def took_effect() -> bool:
        return store.visit_effect(task.contact_id, task.idempotency_key) is not None or bool(
            effects.markers_of_visit(task)
        )

    position = positions.at(task.step_id, task.state_name, task.position)
    positions.enter(
        task.contact_id, task.map_id, task.enrollment_id, task.execution_id, position, visit_took_effect=took_effect
    )


def _enter_wait(task: TaskEvent) -> None:
    """The contact's position is now the fixed wait after this step, until it ends (Superseded
    when this run no longer holds the contact: a pause then stops it there)."""
    from datetime import timedelta

    from automaps.journeys import positions

    spec = task.then_wait or {}
    until = spec.get("until") or clock.iso(clock.now() + timedelta(seconds=int(spec.get("seconds") or 0)))
    position = positions.Position(
        step=str(spec["step"]),
        state=str(spec["state"]),
        kind="wait",
        since=clock.iso(),
        until=until,
        timer=spec.get("timer"),
        map_version=(task.position or {}).get("map_version"),
    )
    try:
        positions.enter(task.contact_id, task.map_id, task.enrollment_id, task.execution_id, position)
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise TransientError(f"{type(error).__name__}: {error}") from error
        raise


def _outcome_already_recorded(ctx: StepContext, outcome: Outcome) -> bool:
    """A retry that found its effects done (the first attempt's answer was lost after it
    finished, e.g. Powertools could not save it), or an effect of unknown outcome an earlier
    attempt already reported, must not record the step's outcome twice."""
    from automaps.journeys import effects

    try:
        markers = ctx.replayed
        if not markers and outcome.outcome == "unknown":
            markers = effects.markers_of_visit(ctx.event)
        if markers:
            return effects.outcome_recorded(ctx.store, ctx.contact.id, markers)
        natural = ctx.event.action in NATURALLY_IDEMPOTENT  # (no idempotency record answers a retry)
        if ctx.event.retry_count or (natural and ctx.event.retry_count is None):
            return _recorded_by_earlier_attempt(ctx)  # a retry: the first attempt may have recorded it
        return False
    except (ClientError, BotoCoreError):
        return False


def _recorded_by_earlier_attempt(ctx: StepContext) -> bool:
    """Whether an earlier attempt of this visit recorded its outcome (a ``step.*`` entry with the
    visit's key since the state was entered): the few entries since then, read once per kind."""
    from automaps.journeys import effects
    from automaps.journeys.journey import CLOCK_SKEW

    entered = datetime.fromisoformat(ctx.event.state_entered_time)
    since = min(entered, ctx.now) - CLOCK_SKEW
    key = ctx.event.idempotency_key
    return any(
        entry.detail.get("visit") == key
        for kind in (*effects.STEP_KINDS, "step.deferred")
        for entry in ctx.store.events(ctx.contact.id, kind, since=since)
    )


def _then_check(ctx: StepContext) -> dict[str, Any] | None:
    """Decide the next step's if/switch on the contact as this step left it.

    None when that cannot be done now: the step's effect has happened and must not be repeated
    by a retry, so the state machine asks check_condition instead (its Choice sees no answer).
    """
    from automaps.journeys import journey

    try:
        contact = ctx.store.get(ctx.contact.id) or ctx.contact
        check = journey.Check.model_validate(ctx.event.then_check)
        visit = journey.Visit(
            execution_id=ctx.event.execution_id,
            state_name=ctx.event.state_name,
            state_entered_time=ctx.event.state_entered_time,
        )
        return journey.decide(
            check, contact, ctx.store, map_id=ctx.event.map_id, enrollment_id=ctx.event.enrollment_id, visit=visit
        )
    except (ClientError, BotoCoreError, WriteConflict, ValueError) as error:  # ValueError: ValidationError, a bad time
        logger.warning(
            "the next step's condition is left to check_condition", extra={"error": f"{type(error).__name__}: {error}"}
        )
        return None


def _decide(ctx: StepContext) -> Outcome:
    task = ctx.event
    if task.only_if is not None:
        unmet = _only_if_unmet(ctx)
        if unmet is not None:
            return unmet
    try:
        module = actions.module(task.action)
    except KeyError as error:
        return ctx.outcome("failed", str(error.args[0]))
    try:
        settings = module.Settings.model_validate(task.settings)
    except ValidationError as error:
        return ctx.outcome("failed", f"invalid settings: {_errors(error)}")
    try:
        return _as_outcome(ctx, module.run(ctx, settings))
    except Skip as skip:
        return ctx.outcome("skipped", skip.reason, **skip.detail)
    except PermanentError as error:
        return ctx.outcome("failed", error.reason, **error.detail)
    except MissingField as missing:
        verdict: Literal["skipped", "failed"] = "skipped" if task.missing_fields == "skip" else "failed"
        return ctx.outcome(
            verdict,
            f"missing field{'s' if len(missing.names) > 1 else ''}: {', '.join(missing.names)}",
            missing=missing.names,
        )
    except TemplateProblem as problem:
        return ctx.outcome("failed", f"template problem: {problem}")
    except OutcomeUnknown as unknown:
        logger.warning("step outcome unknown; not repeated", extra={"effect": unknown.effect, "reason": unknown.reason})
        return ctx.outcome("unknown", unknown.reason, effect=unknown.effect)


def _only_if_unmet(ctx: StepContext) -> Outcome | None:
    from automaps.conditions import adapter

    try:
        condition = adapter().validate_python(ctx.event.only_if)
    except ValidationError as error:
        return ctx.outcome("failed", f"invalid only_if: {_errors(error)}")
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts

    facts = Facts(ctx.contact, ctx.now, map_id=ctx.event.map_id, fallback_timezone=ctx.event.fallback_timezone)
    met, inputs = evaluate(condition, facts)
    return None if met else ctx.outcome("skipped", "only_if not met", only_if=ctx.event.only_if, inputs=inputs)


def _as_outcome(ctx: StepContext, result: Outcome | dict[str, Any] | None) -> Outcome:
    """An action returns an Outcome, a dict of details of a done step, or None."""
    if isinstance(result, Outcome):
        return result.model_copy(update={"step_id": ctx.event.step_id})
    if isinstance(result, dict) and "outcome" in result:
        return Outcome.model_validate({**result, "step_id": ctx.event.step_id})
    return ctx.outcome("done", **(result or {}))


def is_transient(error: BaseException) -> bool:
    """Whether an AWS SDK error is worth the state's Retry: throttling, 5xx, a connection that
    failed or an answer that did not come (botocore's HTTPClientError family)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or status >= 500
    return isinstance(error, (BotoConnectionError, HTTPClientError))


def _errors(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())


# ------------------------------------------------------------------ logs and metrics


@contextlib.contextmanager
def _log_keys(task: TaskEvent) -> Iterator[None]:
    """The step's identifiers on every log line of this invocation (per thread, for the local runtime)."""
    keys = {
        "map_id": task.map_id,
        "step_id": task.step_id,
        "action": task.action,
        "contact_id": task.contact_id,
        "enrollment_id": task.enrollment_id,
    }
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))


def _count(action: str, outcome: str) -> None:
    """One ``Step<Outcome>`` count per step, by action, as an EMF line on stdout."""
    metrics = EphemeralMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE)
    metrics.add_dimension(name="action", value=action)
    metrics.add_metric(name=f"Step{outcome[:1].upper()}{outcome[1:]}", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
