"""What the HTTP functions answer, independent of the HTTP plumbing.

The layer's request handlers (web, admin, visits, ingest, engagement) return a :class:`Reply`;
the thin handlers in ``functions/`` turn it into a Powertools ``Response`` with :func:`respond`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: str | bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload, sort_keys=True))


def respond(reply: Reply) -> Any:
    """The Powertools event handler's ``Response`` for ``reply``."""
    from aws_lambda_powertools.event_handler import Response

    return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body, headers=reply.headers)
