"""Notifying the team (staff, partners): recipients and delivering once per recipient.

A team notification goes to several recipients, one message each. If the provider throttles the
third message, the step's Retry runs the whole step again: the first two must not be sent a
second time. :func:`notify_each` sends each one as its own effect of the visit
(``ctx.once("team:<digest of the address>", ...)``, automaps.journeys.effects): a durable marker written
before the send and updated with the message id, so a retry skips who already got it, and a
recipient whose answer was lost is reported as unknown, never messaged twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from automaps.journeys.steps import StepContext

MAX_RECIPIENTS = 50


class Recipient(BaseModel):
    """One address or number, with an optional name (``{"email": ..., "name": "Sam (shipping)"}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(min_length=1, max_length=320)
    name: str | None = Field(default=None, max_length=100)


def as_recipients(value: Any) -> Any:
    """What a ``to`` setting may be written as: one string, or a list of strings and
    ``{address, name}`` mappings; strings become ``{address: ...}``."""
    if isinstance(value, str):
        value = [value]
    return (
        [{"address": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value
    )


def effect_name(recipient: str) -> str:
    """The effect of one recipient of a visit (no address in clear)."""
    return f"team:{hashlib.sha256(recipient.encode()).hexdigest()[:24]}"


@dataclass
class Notified:
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    unknown: list[dict[str, str]] = field(default_factory=list)


def notify_each(
    ctx: StepContext,
    recipients: list[Recipient],
    send: Callable[[str], str],
    notified: Callable[[Recipient, str], dict[str, Any]],
    mask: Callable[[str], str],
) -> Notified:
    """``send(address)`` (a message id) once per recipient of this visit; each recorded as
    ``team.notified`` (``notified(recipient, message_id)``) by the effect itself."""
    from automaps.errors import OutcomeUnknown, PermanentError

    result = Notified()
    for recipient in recipients:

        def deliver(to: str = recipient.address) -> dict[str, Any]:
            return {"message_id": send(to)}

        def detail(answer: dict[str, Any], who: Recipient = recipient) -> dict[str, Any]:
            return {k: v for k, v in notified(who, answer["message_id"]).items() if v is not None}

        try:
            answer = ctx.once(effect_name(recipient.address), deliver, kind="team.notified", detail=detail)
        except PermanentError as error:
            result.refused.append({"to": mask(recipient.address), "reason": error.reason})
            continue
        except OutcomeUnknown as unknown:
            result.unknown.append({"to": mask(recipient.address), "reason": unknown.reason})
            continue
        result.sent.append(detail(answer))
    return result


def outcome(result: Notified, recipients: int, provider: str) -> dict[str, Any]:
    """The step's detail; raises when no recipient was notified (refused, or unknown)."""
    from automaps.errors import OutcomeUnknown, PermanentError

    detail: dict[str, Any] = {"notified": [s["to"] for s in result.sent]}
    if result.refused:
        detail["refused"] = result.refused
    if result.unknown:
        detail["unknown"] = result.unknown
    if result.refused and len(result.refused) == recipients:
        raise PermanentError(
            f"{provider} refused every recipient: {result.refused[0]['reason']}", {"refused": result.refused}
        )
    if result.unknown:
        raise OutcomeUnknown(
            "team",
            f"{len(result.unknown)} of {recipients} notifications may have gone out "
            f"but their answer was lost ({result.unknown[0]['reason']}); not resent",
        )
    return detail
