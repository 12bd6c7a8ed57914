"""Notifying the team (staff, partners): recipients and delivering once per recipient.

A team notification goes to several recipients, one message each. If the provider throttles the
third message, the step's Retry runs the whole step again: the first two must not be sent a
second time. :func:`deliver_once` keeps a marker per (visit of the step, recipient) in the
idempotency table, written after the message went out and expiring with the step's own
idempotency record (``automaps.steps.IDEMPOTENCY_TTL_SECONDS``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from automaps import aws, config
from automaps.content import to_item

logger = Logger()

T = TypeVar("T")
MARKER_PREFIX = "automaps.team"
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
    return [{"address": item} if isinstance(item, str) else item for item in value] \
        if isinstance(value, list) else value


def marker_id(visit_key: str, recipient: str) -> str:
    """The idempotency-table id of the marker for one recipient of one visit (no address in clear)."""
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:24]
    return f"{MARKER_PREFIX}#{visit_key}#{digest}"


def already_delivered(visit_key: str, recipient: str) -> bool:
    found = aws.client("dynamodb").get_item(TableName=config.idempotency_table(), ConsistentRead=True,
                                            Key=to_item({"id": marker_id(visit_key, recipient)})).get("Item")
    return bool(found)


def deliver_once(visit_key: str, recipient: str, send: Callable[[], T]) -> T | None:
    """``send()`` unless this visit already delivered to ``recipient`` (then None).

    The marker is written after the send: a failure to write it is logged, not raised (raising
    would make the step run again and send twice for sure)."""
    if already_delivered(visit_key, recipient):
        return None
    result = send()
    from automaps.steps import IDEMPOTENCY_TTL_SECONDS

    try:
        aws.client("dynamodb").put_item(TableName=config.idempotency_table(), Item=to_item({
            "id": marker_id(visit_key, recipient), "expiration": int(time.time()) + IDEMPOTENCY_TTL_SECONDS}))
    except (ClientError, BotoCoreError) as error:
        logger.error("delivery marker could not be written after the message went out",
                     extra={"error": f"{type(error).__name__}: {error}"})
    return result
