"""Conditions: the model users write under `if`, `switch` and `only_if`, and their evaluation.

``model`` holds the condition models (imported by the map model and the compiler, which need no
AWS); ``facts`` reads what a condition needs of one contact; ``evaluate`` decides and reports
the inputs it looked at. ``evaluate`` and ``Facts`` are imported lazily here, so the map model
and compiler never import the stores.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter

from automaps.conditions.model import (
    COMBINATORS,
    LEAVES,
    AllOf,
    AnyOf,
    Condition,
    FieldCondition,
    HasTag,
    NotCondition,
    dump,
    kind_of,
    leaves,
)

__all__ = [
    "COMBINATORS",
    "LEAVES",
    "AllOf",
    "AnyOf",
    "Condition",
    "Facts",
    "FieldCondition",
    "HasTag",
    "NotCondition",
    "adapter",
    "dump",
    "evaluate",
    "kind_of",
    "leaves",
]


@cache
def adapter() -> TypeAdapter[Any]:
    """Validates a condition's JSON (as a state machine carries it) into its model; built once."""
    return TypeAdapter(Condition)


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from automaps.conditions.evaluate import evaluate

        return evaluate
    if name == "Facts":
        from automaps.conditions.facts import Facts

        return Facts
    raise AttributeError(name)
