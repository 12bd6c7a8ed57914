"""Which history kinds the ByKind index holds (the ``ksk`` attribute of a history entry).

The index (a local secondary index, projection ALL) makes "opened this email in the last two
days" cost the entries of that kind in that window, not the whole history; each entry copied into
it costs a write unit more. Conditions, frequency caps, goals and ``wait_until`` read kinds over
long windows: those are indexed. The journey's own bookkeeping (``step.*``, ``condition.*``,
``map.*``, ``sequence.*``, ``loop.*``, ``goal.*``) is read only by the once-per-visit checks, over
the few entries since the visit began: those are not, unless listed in :data:`BOOKKEEPING_READ`.

Kinds outside the bookkeeping namespaces (``email.opened``, ``purchase.made``, an ingested custom
event) are always indexed: conditions, ``event_attribute``, goals and ``wait_until`` may name any
of them. tests/contacts/test_by_kind.py reads every kind automaps.conditions.evaluate asks for
(the literal first argument of its history reads) and fails when one is a bookkeeping kind
missing here. Reading a kind that is not indexed still works
(automaps.store.contacts.ContactStore.events reads the history's time range instead), so an entry
written before this rule, with ``ksk``, or after it, without, is found either way.
"""

from __future__ import annotations

BOOKKEEPING = frozenset({"step", "condition", "map", "sequence", "loop", "goal"})
"""Namespaces (the part of a kind before its first dot) of the entries the journey machinery writes
for itself: not indexed unless a condition reads them."""
BOOKKEEPING_READ: frozenset[str] = frozenset()
"""Bookkeeping kinds a condition reads by kind over a window (none today)."""


BOOKKEEPING_KINDS = frozenset({"wait.entered", "wait.left"})
"""Bookkeeping kinds outside those namespaces: the steps' waiting gauge (automaps.journeys.positions),
read by no condition (``wait.met``/``wait.timed_out`` stay indexed)."""


def indexed(kind: str) -> bool:
    """Whether entries of ``kind`` are copied into the ByKind index."""
    if kind in BOOKKEEPING_KINDS:
        return False
    return kind.split(".", 1)[0] not in BOOKKEEPING or kind in BOOKKEEPING_READ
