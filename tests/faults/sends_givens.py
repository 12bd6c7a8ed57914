"""Faults injected from outside the code under test, for the exactly-once specifications of sends:
botocore event hooks on the shared clients (the request reached moto, then its answer is lost),
real servers misbehaving (aiosmtpd, a local HTTP server), a Lambda stopped mid-flight."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from automaps import aws as aws_clients
from automaps.content import from_item
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.providers.server import FakeProvider, Received
from tests.smtp_server import Handler


class LambdaTimedOut(BaseException):
    """The Lambda service stops the function at its timeout: nothing of ours catches it."""


@contextlib.contextmanager
def hooked(service: str, event: str, hook: Any) -> Iterator[None]:
    """``hook`` on the shared client's ``event`` (e.g. ``after-call.sesv2.SendEmail``) while the block runs."""
    events = aws_clients.client(service).meta.events
    events.register(event, hook, unique_id=f"fault-{event}")
    try:
        yield
    finally:
        events.unregister(event, unique_id=f"fault-{event}")


def answer_lost(**_: Any) -> None:
    """after-call: the service took the request and answered; the answer never arrived."""
    raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")


def lambda_stops(**_: Any) -> None:
    raise LambdaTimedOut("Task timed out after 30.00 seconds")


def throttled(operation: str) -> Any:
    def hook(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)
    return hook


def effect_markers(contact_id: str) -> list[dict[str, Any]]:
    """The contact's effect markers (automaps.effects), as stored."""
    from automaps import config

    items = aws_clients.client("dynamodb").query(
        TableName=config.contacts_table(), KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues={":pk": {"S": f"CONTACT#{contact_id}"}, ":e": {"S": "EFFECT#"}})["Items"]
    return [from_item(item) for item in items]


class QuitRefused(Handler):
    """An SMTP server that takes the message (250 to DATA), then answers QUIT with 421."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return "421 4.3.2 service shutting down"


class DropsAfterData(Handler):
    """An SMTP server that stores the message at the end of DATA and drops the connection
    before its 250 goes out."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        server.transport.abort()
        return "250 2.0.0 queued"


class Receiver(FakeProvider):
    """A webhook receiver: takes every request and answers 200 ``{"ok": true}``."""

    def handle(self, request: Received) -> tuple[int, Any]:
        return 200, {"ok": True}
