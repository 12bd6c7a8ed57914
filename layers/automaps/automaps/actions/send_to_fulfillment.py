"""send_to_fulfillment: put the contact on a fulfillment list with a snapshot of chosen fields
(exported as CSV through the admin API: ``GET /fulfillment/{list}?format=csv``)."""

from __future__ import annotations

from typing import Any

FieldNames = list[str]  # (inside Settings, `list` is the list-name field)

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import Outcome, StepContext
from automaps.store import lists


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"list": "welcome-packs", "fields": ["first_name", "last_name", "address", "city"]}]
        },
    )

    list: str = Field(description=f"the fulfillment list: {lists.NAME_RULE}")
    fields: FieldNames = Field(
        default_factory=lambda: ["first_name", "last_name", "email"],
        min_length=1,
        max_length=50,
        description="the contact fields snapshotted, in column order",
    )

    @field_validator("list")
    @classmethod
    def _name(cls, value: str) -> str:
        return lists.check_name(value)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, names: FieldNames) -> FieldNames:
        for name in names:
            if not lists.FIELD.match(name) or name in ("contact_id", "added_at"):
                raise ValueError(
                    f"{name!r} is not a contact field name; use letters, digits and '_' "
                    "(contact_id and added_at are always exported)"
                )
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fields listed twice: {', '.join(twice)}; list each field once")
        return names


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    snapshot = {name: ctx.contact.fields.get(name) for name in settings.fields}
    snapshot = {name: value for name, value in snapshot.items() if value not in (None, "")}
    detail = {"list": settings.list, "fields": sorted(snapshot)}
    if not lists.ListStore().add(
        "fulfillment",
        settings.list,
        ctx.contact.id,
        fields=snapshot,
        effect=once.effect(ctx, "fulfillment.added"),
        detail=detail,
    ):
        return {"outcome": "done", "reason": "already on the fulfillment list", "detail": {"list": settings.list}}
    return detail
