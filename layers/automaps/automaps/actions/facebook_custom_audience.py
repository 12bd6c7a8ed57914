"""facebook_custom_audience: add the contact to (or remove them from) a Facebook custom audience
with the Marketing API's audience-users call, matching on SHA-256 hashes of the normalised
email (trimmed, lowercased) and phone (digits only, with the country code).

``POST|DELETE {api_base}/{api_version}/{audience_id}/users`` with the form fields ``payload``
(``{"schema": ["EMAIL_SHA256", "PHONE_SHA256"], "data": [[<email hash>, <phone hash>]]}``) and
``access_token`` (from the ``facebook`` connection's secret). Graph errors: HTTP 5xx, 429 and the
rate-limit and temporary codes (1, 2, 4, 17, 32, 341, 613) are retried; the rest are recorded
failures (an expired token, a wrong audience id, missing permissions).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import PermanentError, Skip, StepContext, TransientError
from automaps.store import connections
from automaps.store.contacts import mask_email

SCHEMA = ["EMAIL_SHA256", "PHONE_SHA256"]
TIMEOUT_SECONDS = 10
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})


class FacebookConnection(BaseModel):
    """``content/connections/<name>.yaml`` with ``type: facebook``. The secret (named
    ``<stack>/...``) holds the access token, as a plain string or a JSON member ``secret_key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["facebook"]
    secret_arn: str = Field(min_length=1)
    secret_key: str = "access_token"
    api_base: str = "https://graph.facebook.com"
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    default_country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="region of phone numbers written without a country code"
    )

    @field_validator("api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("api_base must be an https:// URL (http only for a local stand-in)")
        return value.rstrip("/")


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"operation": "add", "audience_id": "23851234567890123"}]},
    )

    operation: Literal["add", "remove"] = Field(
        default="add", description="add the contact to the audience, or remove them"
    )
    audience_id: str = Field(pattern=r"^\d+$", description="the custom audience's numeric id")
    connection: str = Field(default="facebook", min_length=1, description="a 'facebook' connection")


# ------------------------------------------------------------------ normalising


def normalise_email(email: str | None) -> str | None:
    value = (email or "").strip().lower()
    return value if "@" in value else None


def normalise_phone(phone: str | None, default_country: str | None = None) -> str | None:
    """Digits only, with the country code (``+1 (415) 555-0134`` -> ``14155550134``)."""
    raw = (phone or "").strip()
    if not raw:
        return None
    if raw.startswith(("+", "00")):
        digits = re.sub(r"\D", "", raw)
        digits = digits[2:] if raw.startswith("00") else digits
        return digits if len(digits) >= 8 else None
    if not default_country:
        return None
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, default_country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def sha256(value: str | None) -> str:
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


# ------------------------------------------------------------------ the action


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    connection = _connection(settings.connection)
    email = normalise_email(ctx.contact.email)
    phone = normalise_phone(ctx.contact.phone, connection.default_country)
    if not email and not phone:
        raise Skip("the contact has no email address or phone number to match on")
    payload = {"schema": SCHEMA, "data": [[sha256(email), sha256(phone)]]}
    token = _token(connection)
    method = "POST" if settings.operation == "add" else "DELETE"
    url = f"{connection.api_base}/{connection.api_version}/{settings.audience_id}/users"

    def update() -> dict[str, Any]:
        answer = _call(method, url, {"payload": json.dumps(payload, separators=(",", ":")), "access_token": token})
        updated = {
            "operation": settings.operation,
            "audience_id": settings.audience_id,
            "matched_on": [name for name, value in (("email", email), ("phone", phone)) if value],
            "num_received": answer.get("num_received"),
            "num_invalid_entries": answer.get("num_invalid_entries"),
        }
        if email:
            updated["email"] = mask_email(email)
        return updated

    return ctx.once("audience", update, kind="audience.updated")


def _connection(name: str) -> FacebookConnection:
    try:
        found = connections.load(name, "facebook")
    except connections.UnknownConnection as error:
        raise PermanentError(str(error)) from None
    assert isinstance(found, FacebookConnection)
    return found


def _token(connection: FacebookConnection) -> str:
    from automaps import secrets as connection_secrets

    try:
        return connection_secrets.get(connection.secret_arn, connection.secret_key)
    except connection_secrets.SecretUnavailable as error:
        raise PermanentError(f"no Facebook access token: {error}") from None


def _call(method: str, url: str, fields: dict[str, str]) -> dict[str, Any]:
    import time

    import urllib3

    from automaps.providers.http import read_within, transport_error

    deadline = time.monotonic() + TIMEOUT_SECONDS
    try:
        response = urllib3.request(
            method,
            url,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=urllib3.Timeout(total=TIMEOUT_SECONDS),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        data = read_within(response, deadline)
    except urllib3.exceptions.HTTPError as failure:
        raise transport_error(failure, "Facebook", method) from None
    answer = response
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        body = {}
    if 200 <= answer.status < 300 and "error" not in body:
        return body if isinstance(body, dict) else {}
    found = body.get("error") if isinstance(body, dict) else None
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = error.get("code")
    reason = f"Facebook answered {answer.status}"
    if code is not None:
        subcode = error.get("error_subcode")
        reason += f" (code {code}{f'/{subcode}' if subcode else ''})"
    if error.get("message"):
        reason += f": {error['message']}"
    if answer.status >= 500 or answer.status == 429 or code in _TRANSIENT_CODES or error.get("is_transient"):
        raise TransientError(reason)
    raise PermanentError(reason, {"status": answer.status, "code": code})
