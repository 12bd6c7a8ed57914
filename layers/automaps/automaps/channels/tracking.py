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
    if not isinstance(body, dict) or not isinstance(body.get("d"), dict) \
            or not isinstance(body.get("iat"), int):
        raise BadToken("token payload is not valid")
    return body


# ------------------------------------------------------------------ unsubscribe links

@dataclass(frozen=True)
class UnsubscribeRequest:
    contact_id: str
    channel: str


def unsubscribe_token(contact_id: str, channel: str = "email") -> str:
    return sign(UNSUBSCRIBE, {"contact_id": contact_id, "channel": channel})


def unsubscribe_url(contact_id: str, channel: str = "email") -> str:
    """``{PUBLIC_API_URL}/unsubscribe?t=<token>``: GET shows the page, POST is RFC 8058 one-click."""
    return f"{config.public_api_url()}/unsubscribe?t={unsubscribe_token(contact_id, channel)}"


def read_unsubscribe(token: str) -> UnsubscribeRequest:
    """Who asked to unsubscribe from what; raises BadToken for anything not genuinely ours."""
    data = verify(UNSUBSCRIBE, token)
    contact_id, channel = data.get("contact_id"), data.get("channel")
    if not isinstance(contact_id, str) or not isinstance(channel, str):
        raise BadToken("unsubscribe token does not name a contact and channel")
    return UnsubscribeRequest(contact_id=contact_id, channel=channel)


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
