"""Goals and ``wait_until``: what a history entry achieves for the contact's live enrollments."""

from __future__ import annotations

from automaps.store.contacts import HistoryEntry


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
    """Move every live enrollment of the contact whose goal or awaited event ``entry`` achieves."""
