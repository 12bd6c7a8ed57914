"""Errors of merge-field rendering that the step runner handles, without importing Jinja2, and
the one way bad input's validation errors are told to whoever posted it (:func:`field_errors`).

``automaps.rendering`` raises them (and re-exports them); handlers that never render a template
do not pay for importing the template engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class MissingField(Exception):
    """Merge fields with no value and no ``default(...)``; nothing must be sent."""

    def __init__(self, names: Iterable[str], where: str = "") -> None:
        self.names: list[str] = list(dict.fromkeys(names))
        self.where = where
        place = f" in {where}" if where else ""
        super().__init__(f"missing merge field{'s' if len(self.names) > 1 else ''}{place}: {', '.join(self.names)}")


class TemplateProblem(ValueError):
    """A template that cannot be rendered whatever the contact: the author has to fix it."""


def field_errors(
    error: ValidationError, *, root: str, messages: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """A validation error as ``[{"field": "a.b", "error": "is required"}, ...]`` for people who
    posted bad input: the field's dotted path (``root`` for the whole input), and pydantic's message
    without its "Value error, " prefix, or ``messages[<error type>]`` when given."""
    wanted = {"missing": "is required", **(messages or {})}
    return [
        {
            "field": ".".join(str(part) for part in err["loc"]) or root,
            "error": wanted.get(err["type"]) or str(err["msg"]).removeprefix("Value error, "),
        }
        for err in error.errors()
    ]


# ---------------------------------------------------------------- step outcomes
# Raised by actions, channels and providers, handled by the step runner (automaps.journeys.steps).


class Skip(Exception):
    """The action decides not to act (no phone number, unsubscribed, ...)."""

    def __init__(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


class PermanentError(Exception):
    """Retrying will not help (a 4xx, a bad address): recorded as failed, the contact moves on."""

    def __init__(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


class TransientError(Exception):
    """Worth retrying (5xx, throttling). Leaves the Lambda under this exact class name, which the
    Task state's ``Retry`` matches on."""


class OutcomeUnknown(Exception):
    """The request may have been accepted (sent, then the answer was lost): it must not be sent
    again. Recorded as ``step.outcome_unknown`` with the effect and the reason."""

    def __init__(self, effect: str, reason: str) -> None:
        super().__init__(reason)
        self.effect = effect
        self.reason = reason


class Superseded(Exception):
    """This run of the map no longer holds the contact: a goal moved them on, another map paused
    or removed them, or they left. Leaves the Lambda under this exact class name, which every
    Task's first Catch sends to the Succeed state "Left" (nothing further of this run happens)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Deferred(Exception):
    """A send held back (quiet hours, a frequency cap, the channel's send rate) until the moment
    its message is: leaves the Lambda under this exact class name, which the send Task's Catch
    sends through "<step> deferred" to a Wait until then and back to the same Task (a new visit).
    Only raised when the Task asks for it (``deferral: catch``): the normal path then costs no
    state, a deferral the same three transitions as a Choice would."""

    def __init__(self, until: str) -> None:
        super().__init__(until)
        self.until = until
