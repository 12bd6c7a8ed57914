"""Reading what the local system did: messages sent, contacts and their history.

* Email: moto's SES v2 ``send_email`` hands every message to the SES (v1) backend, which keeps
  it in ``ses_backends[account][region].sent_messages``: a ``RawMessage`` (``raw_data``, the
  MIME text) for ``Content.Raw``, a ``Message`` (subject, one body) for ``Content.Simple``.
* SMS: ``sns_backends[account][region].sms_messages`` maps message id -> (phone number, text).
* Contacts: read straight from the contacts table, in the layout of docs/architecture.md.

Neither SES nor SNS records when a message was sent, so the runtime stamps each new message with
the virtual time of the invocation that sent it (``Outbox.stamp``).
"""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import datetime
from decimal import Decimal
from email.utils import getaddresses
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from automaps import aws, config

_deserializer = TypeDeserializer()


class Outbox:
    """Emails and SMS sent through moto, with the virtual time each was first seen."""

    def __init__(self, account: str, region: str, now: Any) -> None:
        self.account, self.region, self._now = account, region, now
        self._stamps: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def _ses(self) -> Any:
        from moto.ses.models import ses_backends

        return ses_backends[self.account][self.region]

    def _sns(self) -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[self.account][self.region]

    def stamp(self) -> None:
        """Give every message not seen before the current virtual time."""
        with self._lock:
            at = self._now()
            for message in list(self._ses().sent_messages):
                self._stamps.setdefault(_message_id(message), at)
            for message_id in list(self._sns().sms_messages):
                self._stamps.setdefault(message_id, at)

    def emails(self) -> list[dict[str, Any]]:
        """Every email, with ``template`` (the content template it was rendered from, None for
        one sent without: a test email with an inline body) and ``map_id``/``step_id``/
        ``contact_id`` where the send carried them, read from the message tags SES kept."""
        self.stamp()
        return [
            dict(_email(message), **_trace(_message_id(message)), at=iso(self._stamps.get(_message_id(message))))
            for message in list(self._ses().sent_messages)
        ]

    def sms(self) -> list[dict[str, Any]]:
        self.stamp()
        return [
            {"id": message_id, "to": phone, "text": text, "at": iso(self._stamps.get(message_id))}
            for message_id, (phone, text) in list(self._sns().sms_messages.items())
        ]

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"emails": self.emails(), "sms": self.sms()}


_TRACE_TAGS = ("template", "map_id", "step_id", "contact_id")


def _trace(message_id: str) -> dict[str, str | None]:
    """What the send's SES message tags (automaps.channels.email.ses_tags) say about the email."""
    from automaps.channels.email import read_tag_value
    from automaps_local.moto_patches import ses_message

    tags = (ses_message(message_id) or {}).get("tags", {})
    return {name: read_tag_value(tags[name]) if tags.get(name) else None for name in _TRACE_TAGS}


def _message_id(message: Any) -> str:
    return getattr(message, "id", None) or ",".join(getattr(message, "ids", []))


def _email(message: Any) -> dict[str, Any]:
    if hasattr(message, "raw_data"):
        return _raw_email(message)
    destinations = getattr(message, "destinations", {}) or {}
    return {
        "id": _message_id(message),
        "from": message.source,
        "to": destinations.get("ToAddresses", []),
        "cc": destinations.get("CcAddresses", []),
        "bcc": destinations.get("BccAddresses", []),
        "subject": getattr(message, "subject", None),
        "text": None,
        "html": getattr(message, "body", None),
        "headers": {},
    }


def _raw_email(message: Any) -> dict[str, Any]:
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    text = html = None
    for part in parsed.walk() if parsed.is_multipart() else [parsed]:
        if part.get_content_maintype() == "multipart" or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content()
    addresses = [address for _, address in getaddresses([str(v) for v in parsed.get_all("To", [])])]
    return {
        "id": _message_id(message),
        "from": parsed.get("From") or message.source,
        "to": addresses or list(message.destinations),
        "cc": [],
        "bcc": [],
        "subject": parsed.get("Subject"),
        "text": text,
        "html": html,
        "headers": {key: str(value) for key, value in parsed.items()},
    }


def first_link(html: str) -> str | None:
    """The first web link (``<a href="http...">``) of an HTML body."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            href = dict(attrs).get("href") or ""
            if tag == "a" and href.lower().startswith(("http://", "https://")) and not found:
                found.append(href)

    Links().feed(html)
    return found[0] if found else None


# ---------------------------------------------------------------------- contacts
def plain(value: Any) -> Any:
    """DynamoDB values as JSON-friendly Python: Decimal -> int/float, sets -> sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _items(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [plain({k: _deserializer.deserialize(v) for k, v in item.items()}) for item in response.get("Items", [])]


def contact_id_for(email_address: str) -> str | None:
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=config.contacts_table(),
            Key={"pk": {"S": f"EMAIL#{email_address.strip().lower()}"}, "sk": {"S": "EMAIL"}},
        )
        .get("Item")
    )
    return item["contact_id"]["S"] if item else None


def contact(contact_id: str) -> dict[str, Any] | None:
    """The profile, tags, history (oldest first), notes and enrollments of one contact."""
    items, kwargs = (
        [],
        {
            "TableName": config.contacts_table(),
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"CONTACT#{contact_id}"}},
        },
    )
    while True:
        response = aws.client("dynamodb").query(**kwargs)
        items += _items(response)
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    profile = next((i for i in items if i["sk"] == "PROFILE"), None)
    if profile is None:
        return None
    return {
        "contact_id": contact_id,
        "profile": profile,
        "tags": sorted(profile.get("tags", [])),
        "history": [_history(i) for i in items if i["sk"].startswith("H#")],
        "notes": [i for i in items if i["sk"].startswith("NOTE#")],
        "enrollments": [i for i in items if i["sk"].startswith("ENROLL#")],
    }


def _history(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": item.get("at"),
        "kind": item.get("kind"),
        "map_id": item.get("map_id"),
        "step_id": item.get("step_id"),
        "detail": item.get("detail", {}),
        "sk": item["sk"],
        "contact_id": item["pk"].removeprefix("CONTACT#"),
    }


def history_since(seen: set[str]) -> list[dict[str, Any]]:
    """History entries of every contact not in ``seen`` (keys ``pk|sk``, updated), oldest first."""
    kwargs: dict[str, Any] = {
        "TableName": config.contacts_table(),
        "FilterExpression": "begins_with(sk, :h)",
        "ExpressionAttributeValues": {":h": {"S": "H#"}},
    }
    fresh = []
    while True:
        response = aws.client("dynamodb").scan(**kwargs)
        for item in _items(response):
            key = f"{item['pk']}|{item['sk']}"
            if key not in seen:
                seen.add(key)
                fresh.append(_history(item))
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return sorted(fresh, key=lambda entry: entry["sk"])


def iso(at: datetime | None) -> str | None:
    from automaps import clock

    return clock.iso(at) if at else None
