"""Which history kinds the ByKind index holds (the ``ksk`` attribute of a history entry).

The index (a local secondary index, projection ALL) makes "opened this email in the last two
days" cost the entries of that kind in that window, not the whole history; each entry copied into
it costs a write unit more. Conditions, frequency caps, goals and ``wait_until`` read kinds over
long windows: those are indexed. The journey's own bookkeeping (``step.*``, ``condition.*``,
``map.*``, ``sequence.*``, ``loop.*``, ``goal.*``) is read only by the once-per-visit checks, over
the few entries since the visit began: those are not, unless a condition reads them.

:func:`queried_kinds` is derived, not listed: the kinds automaps.conditions.evaluate reads (the
literal first argument of every ``_events_leaf(kind, ...)``, ``facts.last(kind, ...)`` and
``facts.events(kind)`` in its source) and the kinds a frequency cap counts
(automaps.channels.limits.SENT_KIND). Kinds outside the bookkeeping namespaces (``email.sent``,
``purchase.made``, an ingested custom event) are always indexed: ``event_attribute``, goals and
``wait_until`` may name any of them. Reading a kind that is not indexed still works
(automaps.store.contacts.ContactStore.events reads the history's time range instead), so an entry
written before this rule, with ``ksk``, or after it, without, is found either way.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

BOOKKEEPING = frozenset({"step", "condition", "map", "sequence", "loop", "goal"})
"""Namespaces (the part of a kind before its first dot) of the entries the journey machinery writes
for itself: not indexed unless a condition reads them."""
READERS = frozenset({"_events_leaf", "last", "events"})
"""The calls through which conditions read the history by kind (automaps.conditions.facts)."""
_EVALUATE = Path(__file__).resolve().parent.parent / "conditions" / "evaluate.py"


@functools.cache
def condition_kinds() -> frozenset[str] | None:
    """The history kinds conditions read, from automaps.conditions.evaluate's source (None when the
    source cannot be read: then every kind is indexed, as before this rule)."""
    try:
        tree = ast.parse(_EVALUATE.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        first = node.args[0]
        if name in READERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return frozenset(found)


@functools.cache
def queried_kinds() -> frozenset[str] | None:
    """Every kind read by kind over a window: the conditions' and the frequency caps' (None: unknown)."""
    from automaps.channels.limits import SENT_KIND

    found = condition_kinds()
    return None if found is None else found | frozenset(SENT_KIND.values())


def indexed(kind: str) -> bool:
    """Whether entries of ``kind`` are copied into the ByKind index."""
    if kind.split(".", 1)[0] not in BOOKKEEPING:
        return True
    queried = queried_kinds()
    return queried is None or kind in queried
