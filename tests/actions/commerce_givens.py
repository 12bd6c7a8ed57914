"""Givens shared by the commerce and access specifications (products, purchases, offers, course
subscriptions, membership access): DynamoDB refusing or throttling the contact's writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from automaps import aws as aws_clients


@contextmanager
def dynamodb_answers(code: str, status: int, operation: str = "TransactWriteItems", times: int = 1
                     ) -> Iterator[list[str]]:
    """GIVEN DynamoDB answers the next ``times`` calls of ``operation`` with the error ``code``
    (what moto cannot be made to do: throttling, a 500); yields the codes it answered with."""
    answered: list[str] = []

    def refuse(**_: object) -> None:  # botocore before-call hook
        if len(answered) < times:
            answered.append(code)
            raise ClientError({"Error": {"Code": code, "Message": "refused by the test"},
                               "ResponseMetadata": {"HTTPStatusCode": status}}, operation)

    events = aws_clients.client("dynamodb").meta.events
    events.register(f"before-call.dynamodb.{operation}", refuse, unique_id="commerce-refuse")
    try:
        yield answered
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", unique_id="commerce-refuse")
