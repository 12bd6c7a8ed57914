"""remove_from_fulfillment: take the contact off a fulfillment list."""

from __future__ import annotations

from typing import Any

from automaps.actions.add_to_list import Settings
from automaps.journeys.steps import Outcome, StepContext
from automaps.store import lists

__all__ = ["Settings", "run"]


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    if not lists.ListStore().remove(
        "fulfillment", settings.list, ctx.contact.id, effect=once.effect(ctx, "fulfillment.removed")
    ):
        return {"outcome": "done", "reason": "not on the fulfillment list", "detail": {"list": settings.list}}
    return {"list": settings.list}
