"""Calling the contacts admin API's handler (functions/contacts_api) with API Gateway REST proxy
events built on events/contacts_api_search.json (an IAM-signed request: its identity is the caller)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contacts_api import app
from tests.conftest import FakeLambdaContext, load_event

FIXTURES = Path(__file__).parent / "fixtures"
CALLER = "arn:aws:sts::123456789012:assumed-role/automaps-sales/sam"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def call(method: str, path: str, query: dict[str, str] | None = None, body: str | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """``method path`` as API Gateway hands it to the function (the resource's {parameters} filled)."""
    event = load_event("contacts_api_search.json")
    route, _, raw_query = path.partition("?")
    if raw_query:
        query = {**dict(pair.split("=", 1) for pair in raw_query.split("&")), **(query or {})}
    resource = _resource(route)
    parameters = _parameters(resource, route)
    event = {**event, "httpMethod": method, "path": route, "resource": resource,
             "queryStringParameters": query or None,
             "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
             "pathParameters": parameters or None,
             "headers": {**event["headers"], **(headers or {})},
             "multiValueHeaders": {**event["multiValueHeaders"], **{k: [v] for k, v in (headers or {}).items()}},
             "body": body,
             "requestContext": {**event["requestContext"], "httpMethod": method, "resourcePath": resource,
                                "path": f"/v1{route}"}}
    response = app.lambda_handler(event, FakeLambdaContext())
    headers = {**(response.get("headers") or {}),
               **{k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v}}
    return Answer(response["statusCode"], headers, response.get("body") or "")


ROUTES = ["/contacts/import", "/contacts/export", "/contacts/{contact_id}/enrollments/{map_id}",
          "/contacts/{contact_id}/enrollments", "/contacts/{contact_id}/explain", "/contacts/{contact_id}/data",
          "/contacts/{contact_id}", "/contacts"]


def _pattern(resource: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$")


def _resource(route: str) -> str:
    return next(r for r in ROUTES if _pattern(r).match(route))


def _parameters(resource: str, route: str) -> dict[str, str]:
    found = _pattern(resource).match(route)
    return found.groupdict() if found else {}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()
