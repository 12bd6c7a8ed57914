"""Content stored as data, changeable without a redeploy: email templates, forms, the map registry.

Items live in the content table under ``pk = <KIND>#<key>``, ``sk = <KIND>``, with the body as a
map. Consumers validate bodies with their own models (``rendering.EmailTemplate``,
``forms.FormDefinition``, ``enrollment.MapRecord``).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from automaps import aws, config

Kind = str
"""An upper-case item kind: TEMPLATE, FORM, MAP, CONNECTION, ROUTER, ..."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    """Python values -> DynamoDB attribute values (floats become Decimals via their text)."""
    from decimal import Decimal

    def convert(v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        return v

    return {k: _serializer.serialize(convert(v)) for k, v in value.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> Python values (whole Decimals become ints, others floats)."""
    from decimal import Decimal

    def convert(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        if isinstance(v, (list, set)):
            return [convert(x) for x in v]
        return v

    return {k: convert(_deserializer.deserialize(v)) for k, v in item.items()}


class ContentStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.content_table()

    def get(self, kind: Kind, key: str) -> dict[str, Any] | None:
        found = (
            aws.client("dynamodb")
            .get_item(TableName=self.table, Key=to_item({"pk": f"{kind}#{key}", "sk": kind}))
            .get("Item")
        )
        return from_item(found)["body"] if found else None

    def put(self, kind: Kind, key: str, body: dict[str, Any]) -> None:
        aws.client("dynamodb").put_item(
            TableName=self.table, Item=to_item({"pk": f"{kind}#{key}", "sk": kind, "body": body})
        )

    def list(self, kind: Kind) -> dict[str, dict[str, Any]]:
        """Every item of a kind, by key (a scan: for admin commands and small registries)."""
        pages = (
            aws.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.table, FilterExpression="sk = :kind", ExpressionAttributeValues={":kind": {"S": kind}}
            )
        )
        found: dict[str, dict[str, Any]] = {}
        for page in pages:
            for item in page["Items"]:
                plain = from_item(item)
                found[plain["pk"].split("#", 1)[1]] = plain["body"]
        return found
