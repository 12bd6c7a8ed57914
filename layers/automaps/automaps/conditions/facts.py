"""What conditions read of one contact, fetched lazily and once per evaluation.

A condition tree may look at the same events twice (``opened_email`` in two branches of an
``any``); each kind of event, the product list, the course subscriptions and the lists are
read at most once per evaluation, through the stores that own them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from automaps.store.contacts import Contact, ContactStore, HistoryEntry


class Facts:
    """One contact at one instant, as conditions see it.

    ``map_id`` is the map being run (``opened_email: welcome-email`` means that map's step);
    ``fallback_timezone`` is its ``timezone``, used for calendar dates and times of day when the
    contact's own is unknown.
    """

    def __init__(
        self,
        contact: Contact,
        now: datetime,
        *,
        map_id: str | None = None,
        fallback_timezone: str | None = None,
        store: ContactStore | None = None,
    ) -> None:
        self.contact = contact
        self.now = now
        self.map_id = map_id
        self.fallback_timezone = fallback_timezone
        self._store = store
        self._events: dict[str, list[HistoryEntry]] = {}

    def seen_at(self, moment: datetime) -> Facts:
        """The same contact and history, as conditions would see them at ``moment`` (later than
        now: nothing after now is recorded yet, so the events read so far are shared). What the
        segment sweep probes to find when time alone changes a verdict."""
        probe = Facts(
            self.contact, moment, map_id=self.map_id, fallback_timezone=self.fallback_timezone, store=self._store
        )
        probe._events = self._events
        return probe

    @property
    def events_read(self) -> list[HistoryEntry]:
        """Every entry read so far, of every kind."""
        return [entry for entries in self._events.values() for entry in entries]

    @property
    def store(self) -> ContactStore:
        if self._store is None:
            self._store = ContactStore()
        return self._store

    # ------------------------------------------------------------ the profile

    @property
    def tags(self) -> set[str]:
        return set(self.contact.tags)

    @property
    def fields(self) -> dict[str, Any]:
        return self.contact.fields

    def zone(self, choice: str = "contact") -> tuple[ZoneInfo, str]:
        """The timezone a condition reads dates in, and where it came from (recorded with the inputs)."""
        if choice != "contact":
            return ZoneInfo(choice), choice
        own = self.contact.timezone
        if isinstance(own, str) and own:
            try:
                return ZoneInfo(own), own
            except (ValueError, KeyError):
                pass
        if self.fallback_timezone:
            return ZoneInfo(self.fallback_timezone), self.fallback_timezone
        # maps that read the contact's timezone must name a fallback (checked when loaded); a
        # check without one (a hand-made event) reads UTC and says so in the recorded inputs
        return ZoneInfo("UTC"), "UTC (no timezone known)"

    # ------------------------------------------------------------ events

    def events(self, kind: str) -> list[HistoryEntry]:
        """Every history entry of ``kind`` up to now, oldest first (read once)."""
        if kind not in self._events:
            self._events[kind] = self.store.events(self.contact.id, kind, until=self.now)
        return self._events[kind]

    def last(self, kind: str, match: Any = None) -> HistoryEntry | None:
        found = [e for e in self.events(kind) if match is None or match(e)]
        return found[-1] if found else None

    # ------------------------------------------------------------ things the contact has

    @cached_property
    def products(self) -> set[str]:
        from automaps.store.commerce import CommerceStore

        return {product.product_id for product in CommerceStore().products(self.contact.id)}

    @cached_property
    def course_subscriptions(self) -> list[Any]:
        from automaps.store.commerce import CommerceStore

        return CommerceStore().course_subscriptions(self.contact.id)

    @cached_property
    def lists(self) -> set[str]:
        from automaps.store.lists import ListStore

        return set(ListStore().lists_of("list", self.contact.id))

    def active_enrollment(self, map_id: str) -> str | None:
        """The enrollment holding the contact in ``map_id`` now, if any (the map's entry gate)."""
        from automaps.journeys import enrollment

        return enrollment.active_enrollment(self.contact.id, map_id)
