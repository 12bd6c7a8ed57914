"""The public endpoints as a browser, a script, a bot or a course platform reaches them: an API
Gateway proxy event (from events/) into the function's real handler, on moto."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import yaml
from automaps import aws as aws_clients
from automaps import clock, config, secrets
from automaps.store.content import ContentStore
from automaps.intake.ingest import signature

from tests.conftest import ROOT, load_event


def deploy_forms() -> None:
    """GIVEN every form of content/forms is deployed."""
    for path in sorted((ROOT / "content/forms").glob("*.yaml")):
        form = yaml.safe_load(path.read_text())
        ContentStore().put("FORM", form["id"], form)


def _event(fixture: str, body: str | bytes | None, headers: dict[str, str] | None,
           base64_body: bool = False) -> dict[str, Any]:
    event = load_event(fixture)
    if headers is not None:
        event["headers"] = dict(headers)
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    if isinstance(body, bytes):  # API Gateway hands binary bodies over base64-encoded
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, base64_body
    return event


def _headers(fixture: str, content_type: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {k: v for k, v in load_event(fixture)["headers"].items() if k.lower() != "content-type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return {**headers, **(extra or {})}


class Endpoints:
    """Each public endpoint, called through ``functions/<name>/app.lambda_handler``."""

    def __init__(self, lambda_context: Any) -> None:
        self.context = lambda_context

    def form(self, body: str | bytes | None, content_type: str | None = "application/json", *,
             form_id: str = "newsletter", headers: dict[str, str] | None = None,
             base64_body: bool = False) -> dict[str, Any]:
        from functions.public_api import app

        event = _event("form_post_json.json", body, _headers("form_post_json.json", content_type, headers),
                       base64_body)
        event["path"], event["pathParameters"] = f"/forms/{form_id}", {"form_id": form_id}
        return app.lambda_handler(event, self.context)

    def visit(self, body: str | bytes | None, content_type: str | None = "text/plain;charset=UTF-8", *,
              headers: dict[str, str] | None = None, base64_body: bool = False) -> dict[str, Any]:
        from functions.page_visits import app

        event = _event("page_visit.json", body, _headers("page_visit.json", content_type, headers), base64_body)
        return app.lambda_handler(event, self.context)

    def ingest(self, body: str | bytes | None, content_type: str | None = "application/json", *,
               headers: dict[str, str] | None = None, base64_body: bool = False,
               signed: bool = True) -> dict[str, Any]:
        """Signed with the stack's secret over the bytes sent (unless ``signed`` is False)."""
        from functions.ingest_events import app

        sent = body if isinstance(body, bytes) else (body or "").encode("utf-8", "surrogatepass")
        if base64_body and isinstance(body, str):
            try:
                sent = base64.b64decode(body, validate=True)
            except ValueError:
                sent = body.encode("utf-8", "surrogatepass")
        extra = dict(headers or {})
        if signed:
            secret = secrets.get(os.environ["INGEST_SECRET_ARN"])
            extra["Automaps-Signature"] = signature(secret, sent, int(clock.now().timestamp()))
        event = _event("ingest_course_completed.json", body,
                       _headers("ingest_course_completed.json", content_type, extra), base64_body)
        return app.lambda_handler(event, self.context)

    def tracking(self, kind: str, token: str, *, query: dict[str, str] | None = None) -> dict[str, Any]:
        """GET /t/o/<token> (``kind="o"``) or /t/c/<token> (``"c"``)."""
        from functions.email_tracking import app

        event = load_event("email_tracking_click.json" if kind == "c" else "email_tracking_open.json")
        event["path"], event["pathParameters"] = f"/t/{kind}/{token}", {"token": token}
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        return app.lambda_handler(event, self.context)

    def unsubscribe(self, method: str, token: str | None, body: str | None = None) -> dict[str, Any]:
        from functions.public_api import app

        event = load_event("unsubscribe_one_click.json")
        event["httpMethod"], event["body"] = method, body
        query = None if token is None else {"t": token}
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {"t": [token]} if token is not None else None
        return app.lambda_handler(event, self.context)


def table_digest() -> str:
    """A digest of every item of the contacts table: equal digests, an unchanged store. Read from
    moto's backend (what a Scan would return, without serialising it through HTTP: the fuzz
    tests take it twice per request)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_REGION"]].get_table(config.contacts_table())
    items = sorted(json.dumps(item.to_json()["Attributes"], sort_keys=True) for item in table.all_items())
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def scanned_digest() -> str:
    """The same digest through the DynamoDB API (a consistent Scan), to check the one above."""
    db = aws_clients.client("dynamodb")
    items = []
    for page in db.get_paginator("scan").paginate(TableName=config.contacts_table(), ConsistentRead=True):
        items.extend(json.dumps(item, sort_keys=True) for item in page["Items"])
    return hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()


def as_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
