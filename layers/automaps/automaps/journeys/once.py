"""A step visit's effect, made once (automaps.store.contacts.Effect).

An action that changes what we store writes its history entry in the change's own transaction
with the visit's marker ``DONE#<visit key>``. Before acting, it asks :func:`recorded`: a retry
of a visit that already took effect (its answer was lost, a later write was throttled) answers
with what that visit recorded, instead of acting again or reporting "already as requested";
the step runner learns of it as of a replayed effect (automaps.journeys.effects), so a visit whose
``step.done`` was recorded before its answer was lost does not record it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automaps.store.contacts import DONE_PREFIX, Effect

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext

EARLIER_ATTEMPT = "done by an earlier attempt of this visit of the step"


def effect(ctx: StepContext, kind: str) -> Effect:
    """The effect of this visit of the step, recorded on the history as ``kind``."""
    return Effect(
        visit=ctx.event.idempotency_key,
        kind=kind,
        map_id=ctx.event.map_id,
        step_id=ctx.event.step_id,
        enrollment_id=ctx.event.enrollment_id,
    )


def recorded(ctx: StepContext) -> Outcome | None:
    """The outcome of this visit when it already took effect (None: it has not)."""
    from automaps.journeys.effects import Marker

    done = ctx.store.visit_effect(ctx.contact.id, ctx.event.idempotency_key)
    if done is None:
        return None
    # told to the step runner as a replayed effect: the visit's step.done, if recorded, is not recorded twice
    ctx.replayed.append(
        Marker(
            sk=f"{DONE_PREFIX}{ctx.event.idempotency_key}",
            effect=done.kind,
            status="done",
            visit=ctx.event.idempotency_key,
            at=done.at,
            stamp="",
        )
    )
    return ctx.outcome("done", EARLIER_ATTEMPT, **done.detail)
