"""add_note: attach a note (merge fields allowed) to the contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"text": "Asked for a demo: {{ event.fields.message | default('no message') }}"}]
        },
    )

    text: str = Field(min_length=1, max_length=10000, description="the note; merge fields allowed")


def run(ctx: StepContext, settings: Settings) -> Outcome:
    """Add the rendered note once per visit of the step: its id is the step's idempotency key, and
    ``note.added`` is written in the note's own transaction."""
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    note_id = ctx.event.idempotency_key
    if not ctx.store.add_note(ctx.contact.id, ctx.render(settings.text), note_id, once.effect(ctx, "note.added")):
        return ctx.outcome("done", "note already added", note_id=note_id)
    return ctx.outcome("done", note_id=note_id)
