"""remove_from_list: take the contact off an email broadcast list."""

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
    if not lists.ListStore().remove("list", settings.list, ctx.contact.id, effect=once.effect(ctx, "list.removed")):
        return {"outcome": "done", "reason": "not on the list", "detail": {"list": settings.list}}
    return {"list": settings.list}
