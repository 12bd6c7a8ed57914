"""Trigger matching: which maps a history entry starts (see automaps.journeys.router)."""

from __future__ import annotations

from automaps.store.contacts import HistoryEntry


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[str]:
    """Queue the contact's enrollment in every map a trigger of which ``entry`` matches; returns
    the ids of those maps."""
    return []
