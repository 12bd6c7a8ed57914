"""Signed tokens for links we put in messages and pages: unsubscribe, visitor identity, opens and clicks.

A token is ``<payload>.<signature>``, both base64url without padding. The payload is compact
JSON ``{"p": purpose, "iat": issued-at (epoch seconds), "d": data}``; the signature is
HMAC-SHA256 over the encoded payload with a key derived from the stack's signing secret *and*
the purpose, so a token minted for one purpose never verifies for another.

The signing secret comes from Secrets Manager (``SIGNING_SECRET_ARN``) through Powertools'
parameters utility (automaps.secrets), fetched on first use and cached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from automaps import clock, config, secrets

UNSUBSCRIBE = "unsubscribe"
VISITOR = "visitor"
VISITOR_PARAM = "am_c"
"""Query parameter a tracked click adds to its destination so the page snippet knows the visitor."""


class BadToken(ValueError):
    """A token that is malformed, tampered with, forged, expired or for another purpose."""


# ------------------------------------------------------------------ key


def _key(purpose: str) -> bytes:
    secret = secrets.get(config.signing_secret_arn()).encode()
    return hmac.new(secret, f"automaps/{purpose}".encode(), hashlib.sha256).digest()


# ------------------------------------------------------------------ encoding


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadToken("token is not valid base64url") from None


def _signature(purpose: str, payload: str) -> bytes:
    return hmac.new(_key(purpose), payload.encode("ascii"), hashlib.sha256).digest()


# ------------------------------------------------------------------ sign / verify


def sign(purpose: str, data: dict[str, Any]) -> str:
    """A URL-safe token carrying ``data`` for ``purpose``, stamped with the issue time."""
    body = {"p": purpose, "iat": int(clock.now().timestamp()), "d": data}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_signature(purpose, payload))}"


def verify(purpose: str, token: str, *, max_age: timedelta | None = None) -> dict[str, Any]:
    """The data signed into ``token``; raises BadToken unless it is genuine and for ``purpose``."""
    payload, dot, signature = (token or "").partition(".")
    if not (dot and payload and signature and token.isascii()):
        raise BadToken("token is malformed")
    if not hmac.compare_digest(signature, _b64(_signature(purpose, payload))):
        raise BadToken(f"token signature is not valid for {purpose}")
    body = _decode(payload)
    if body.get("p") != purpose:  # only reachable with a leaked key: belt and braces
        raise BadToken(f"token is not for {purpose}")
    if max_age is not None and clock.now().timestamp() - body["iat"] > max_age.total_seconds():
        raise BadToken("token has expired")
    return body["d"]


def _decode(payload: str) -> dict[str, Any]:
    try:
        body = json.loads(_unb64(payload))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadToken("token payload is not valid") from None
    if not isinstance(body, dict) or not isinstance(body.get("d"), dict) or not isinstance(body.get("iat"), int):
        raise BadToken("token payload is not valid")
    return body


# ------------------------------------------------------------------ unsubscribe links


@dataclass(frozen=True)
class UnsubscribeRequest:
    contact_id: str
    channel: str
    map_id: str | None = None
    """The map and step whose message carried the link (the step's ``unsubscribed`` count)."""
    step_id: str | None = None


def unsubscribe_token(
    contact_id: str, channel: str = "email", *, map_id: str | None = None, step_id: str | None = None
) -> str:
    sent_by = {"map": map_id, "step": step_id} if map_id and step_id else {}
    return sign(UNSUBSCRIBE, {"contact_id": contact_id, "channel": channel, **sent_by})


def unsubscribe_url(
    contact_id: str, channel: str = "email", *, map_id: str | None = None, step_id: str | None = None
) -> str:
    """``{PUBLIC_API_URL}/unsubscribe?t=<token>``: GET shows the page, POST is RFC 8058 one-click.
    The token names the map and step that sent the message, when given."""
    token = unsubscribe_token(contact_id, channel, map_id=map_id, step_id=step_id)
    return f"{config.public_api_url()}/unsubscribe?t={token}"


def read_unsubscribe(token: str) -> UnsubscribeRequest:
    """Who asked to unsubscribe from what; raises BadToken for anything not genuinely ours."""
    data = verify(UNSUBSCRIBE, token)
    contact_id, channel = data.get("contact_id"), data.get("channel")
    if not isinstance(contact_id, str) or not isinstance(channel, str):
        raise BadToken("unsubscribe token does not name a contact and channel")
    map_id, step_id = data.get("map"), data.get("step")
    if not (isinstance(map_id, str) and isinstance(step_id, str)):
        map_id = step_id = None
    return UnsubscribeRequest(contact_id=contact_id, channel=channel, map_id=map_id, step_id=step_id)


# ------------------------------------------------------------------ visitor identity (page tracking)


def visitor_token(contact_id: str) -> str:
    """Who is visiting: set as a cookie by the page snippet, or carried in ``?am_c=`` from a tracked click."""
    return sign(VISITOR, {"c": contact_id})


def read_visitor(token: str, *, max_age: timedelta | None = timedelta(days=400)) -> str:
    """The contact a visitor token names; raises BadToken for anything not genuinely ours."""
    contact_id = verify(VISITOR, token, max_age=max_age).get("c")
    if not isinstance(contact_id, str) or not contact_id:
        raise BadToken("visitor token does not name a contact")
    return contact_id


# ------------------------------------------------------------------ email opens and clicks (SMTP connections)
# The tracking pixel and click redirect we add to emails sent through an SMTP connection (SES does
# its own). A token names the email (contact, map, step, template, message id, connection) and, for
# a click, the destination: the redirect goes only where a token we signed says.

OPEN = "email-open"
CLICK = "email-click"
TRACKING_PREFIX = "/t/"
"""Path prefix of the open pixel (``/t/o/<token>``) and click redirect (``/t/c/<token>``)."""


@dataclass(frozen=True)
class TrackedEmail:
    """Which email an open or click belongs to."""

    contact_id: str
    map_id: str | None
    step_id: str | None
    template: str
    message_id: str
    connection: str

    def _data(self) -> dict[str, Any]:
        return {
            "c": self.contact_id,
            "m": self.map_id,
            "s": self.step_id,
            "t": self.template,
            "i": self.message_id,
            "n": self.connection,
        }

    @classmethod
    def _from(cls, data: dict[str, Any]) -> TrackedEmail:
        values = {
            "contact_id": data.get("c"),
            "map_id": data.get("m"),
            "step_id": data.get("s"),
            "template": data.get("t"),
            "message_id": data.get("i"),
            "connection": data.get("n"),
        }
        required = ("contact_id", "template", "message_id", "connection")
        if any(not isinstance(values[key], str) or not values[key] for key in required) or any(
            values[key] is not None and not isinstance(values[key], str) for key in ("map_id", "step_id")
        ):
            raise BadToken("tracking token does not name an email")
        return cls(**values)  # type: ignore[arg-type]  # checked just above


def open_url(email: TrackedEmail) -> str:
    """``{PUBLIC_API_URL}/t/o/<token>``: the 1x1 pixel that records ``email.opened``."""
    return f"{config.public_api_url()}{TRACKING_PREFIX}o/{sign(OPEN, email._data())}"


def click_url(email: TrackedEmail, url: str) -> str:
    """``{PUBLIC_API_URL}/t/c/<token>``: records ``email.clicked`` and redirects to ``url``."""
    return f"{config.public_api_url()}{TRACKING_PREFIX}c/{sign(CLICK, {**email._data(), 'u': url})}"


def read_open(token: str) -> TrackedEmail:
    """The email an open pixel token names; raises BadToken for anything not genuinely ours."""
    return TrackedEmail._from(verify(OPEN, token))


def read_click(token: str) -> tuple[TrackedEmail, str]:
    """The email and destination a click token names; raises BadToken for anything not genuinely
    ours, or for a destination that is not an http(s) URL."""
    data = verify(CLICK, token)
    url = data.get("u")
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        raise BadToken("click token does not name a web address")
    return TrackedEmail._from(data), url
