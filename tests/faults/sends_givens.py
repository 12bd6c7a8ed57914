"""Faults injected from outside the code under test, for the exactly-once specifications of sends:
botocore event hooks on the shared clients (the request reached moto, then its answer is lost),
real servers misbehaving (aiosmtpd, a local HTTP server), a Lambda stopped mid-flight."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, Self

from botocore.exceptions import ClientError, ReadTimeoutError

from automaps import aws as aws_clients
from automaps.store.content import from_item
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
    """The contact's effect markers (automaps.journeys.effects), as stored."""
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


# ------------------------------------------------------------------ at the SDK's transport, inside its retry loop


def idempotency_expired() -> None:
    """GIVEN Powertools' idempotency records of the visits are gone (expired, or never saved):
    only the effect markers stand between a retry and a second effect."""
    from automaps import config

    db = aws_clients.client("dynamodb")
    for item in db.scan(TableName=config.idempotency_table())["Items"]:
        db.delete_item(TableName=config.idempotency_table(), Key={"id": item["id"]})


def _body(request: Any) -> bytes:
    body = request.body or b""
    return body.encode() if isinstance(body, str) else bytes(body)


def operation_is(request: Any, *, path: str | None = None, action: str | None = None) -> bool:
    """Which request a transport hook sees: a REST path (``/v2/email/outbound-emails``) or a
    query-protocol ``Action`` (SNS ``Publish``)."""
    if path is not None:
        return request.url.split("?", 1)[0].endswith(path)
    return f"Action={action}&".encode() in _body(request) + b"&"


@contextlib.contextmanager
def lost_in_transit(client: Any, matches: Any, times: int = 1) -> Iterator[list[str]]:
    """The service (moto) takes the next ``times`` requests that ``matches(request)`` and answers;
    those answers never arrive (a read timeout). Hooked on ``before-send`` after moto's own
    handler, that is inside botocore's retry loop: a client that retried by itself would send the
    request again. Yields the URLs whose answer was lost."""
    lost: list[str] = []

    def hook(request: Any, **_: Any) -> None:
        if len(lost) < times and matches(request):
            lost.append(request.url)
            raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register_last("before-send", hook, unique_id="fault-lost-in-transit")
    try:
        yield lost
    finally:
        client.meta.events.unregister("before-send", unique_id="fault-lost-in-transit")


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


class FakeService:
    """One operation of an AWS API moto lacks (Amazon Connect, End User Messaging, Bedrock),
    answered at botocore's transport (``before-send``): botocore serialises every request and
    parses every answer with the service's real model, and its retry loop runs as in production.

    ``answer(request body)`` is the JSON the service answers; every request is kept in
    ``received`` as the service got it. ``lose_next(n)``: the service acts on the next ``n``
    requests and their answers are lost (a read timeout)."""

    def __init__(self, client: Any, operation: str, answer: Any) -> None:
        self.client, self.answer = client, answer
        service = client.meta.service_model.service_id.hyphenize()
        self.event = f"before-send.{service}.{operation}"
        self.received: list[dict[str, Any]] = []
        self._lose = 0

    def lose_next(self, n: int = 1) -> None:
        self._lose = n

    def __enter__(self) -> Self:
        self.client.meta.events.register(self.event, self._handle, unique_id=f"fake-{self.event}")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister(self.event, unique_id=f"fake-{self.event}")

    def _handle(self, request: Any, **_: Any) -> Any:
        import json

        from botocore.awsrequest import AWSResponse

        body = json.loads(_body(request) or b"{}")
        self.received.append(body)
        answer = json.dumps(self.answer(body)).encode()
        if self._lose:
            self._lose -= 1
            raise ReadTimeoutError(endpoint_url=request.url)
        url, request.url = request.url, "https://answered.invalid/"  # moto's handler, called after: not its URL
        return AWSResponse(url, 200, {"Content-Type": "application/json",
                                              "x-amzn-RequestId": f"req-{len(self.received)}"}, _Raw(answer))
