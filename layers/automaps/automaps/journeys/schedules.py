"""Maps a moment starts: one EventBridge Scheduler schedule per moment trigger, and its occurrences.

A moment trigger (``schedule``, ``date_matches``, ``date_relative``, ``date_is``; see
automaps.maps.triggers.MomentTrigger) is kept in the registry like any other
(``enrollment.Trigger``). When a map is registered, :func:`sync` writes one schedule per moment
trigger into the starts schedule group (``config.starts_scheduler()``), named from the map and
the trigger's id (:func:`trigger_id`), and deletes the map's schedules no longer in it. Each
schedule sends an :class:`Occurrence` to the EnrollQueue, whose consumer hands it to the
occurrence runner (automaps.journeys.broadcasts): one :class:`Page` of the audience at a time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, NamedTuple

from pydantic import BaseModel

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class Occurrence(BaseModel):
    """The EnrollQueue message a moment's schedule sends (``at`` is Scheduler's
    ``<aws.scheduler.scheduled-time>``), and each follow-on page (with the ``cursor`` and the
    ``page`` number the previous page left)."""

    kind: Literal["occurrence"] = "occurrence"
    map_id: str
    trigger: str
    """The trigger's id within the map (:func:`trigger_id`)."""
    at: str
    """The scheduled time, ISO UTC."""
    cursor: dict | None = None
    page: int = 0


class Page(NamedTuple):
    """One page of an occurrence's audience."""

    members: list[tuple[str, str]]
    """(contact_id, cause_id); the cause id is deterministic per contact and occurrence (e.g. per
    local date for date triggers), so a page read twice enrolls each contact once."""
    cursor: dict | None
    """Where the next page starts; None: this was the last page."""


def trigger_id(index: int, type_: str, spec: dict | None) -> str:
    """A moment trigger's id within its map: its place and a short hash of its kind and settings
    (a changed trigger is a new id, so its old schedule is deleted and a new one made)."""
    digest = hashlib.sha256(json.dumps([type_, spec or {}], sort_keys=True).encode()).hexdigest()[:10]
    return f"{index}-{digest}"
