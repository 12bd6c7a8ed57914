"""send_webhook: call an outside URL with the contact's data, optionally signed, and save chosen
fields of the answer on the contact.

The URL, header values and every string of the body are rendered with merge fields. The call
goes through :mod:`automaps.providers.safe_http`, which refuses private, loopback, link-local,
metadata and other non-public addresses after DNS resolution and on every redirect.

Signature (when a secret is given, by a ``webhook`` connection or ``secret_arn``): the header
``X-Automaps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. Every
call also carries ``X-Automaps-Delivery``, the same for the retries of one step visit, so a
receiver can drop duplicates.

Answers: 2xx is done (``webhook.sent``); 408, 429 and 5xx, connect timeouts and refused
connections are transient (the state's Retry calls again); any other status is a recorded
failure. A request sent whose answer was lost (read timeout, reset, the total deadline) is not
sent again: the step's outcome is unknown (``step.outcome_unknown``; a GET is retried). The
delivery is an effect of the visit (``ctx.once``): a retry never calls twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automaps import clock
from automaps.journeys.steps import PermanentError, StepContext, TransientError
from automaps.store import connections

SIGNATURE_HEADER = "X-Automaps-Signature"
DELIVERY_HEADER = "X-Automaps-Delivery"
USER_AGENT = "automaps-webhook/1"
MAX_TIMEOUT_SECONDS = 30
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 header field name
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", SIGNATURE_HEADER.lower(), DELIVERY_HEADER.lower()}
)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def _header_names(headers: dict[str, str]) -> dict[str, str]:
    for name in headers:
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"the header {name!r} is set by automaps; remove it from headers")
    return headers


class WebhookConnection(BaseModel):
    """``content/connections/<name>.yaml`` with ``type: webhook``: a signing secret and headers
    shared by the steps that name it. The secret's name must start with the stack's name and a
    slash (``<stack>/...``), which is what the function may read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"]
    secret_arn: str | None = Field(default=None, description="Secrets Manager secret used to sign")
    secret_key: str | None = Field(default=None, description="member of a JSON secret holding the key")
    signature_header: str = SIGNATURE_HEADER
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _header_names(value)


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/lead",
                    "json": {"email": "{{ contact.email }}", "source": "automaps"},
                    "save": {"crm_id": "id"},
                }
            ]
        },
    )

    url: str = Field(min_length=1, description="http(s) URL; merge fields allowed")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(default="POST", description="the HTTP method")
    headers: dict[str, str] = Field(default_factory=dict, description="values may use merge fields")
    json_body: dict[str, Any] | list[Any] | None = Field(
        default=None, alias="json", description="a JSON template: its strings are rendered"
    )
    form: dict[str, str] | None = Field(default=None, description="urlencoded fields; values rendered")
    connection: str | None = Field(default=None, description="a 'webhook' connection (signing secret, headers)")
    secret_arn: str | None = Field(default=None, description="Secrets Manager secret to sign with")
    timeout_seconds: float = Field(
        default=10, gt=0, le=MAX_TIMEOUT_SECONDS, description="how long to wait for the answer, in seconds"
    )
    save: dict[str, str] = Field(
        default_factory=dict, description="contact field -> JMESPath expression into the JSON answer"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip().lower().startswith(("http://", "https://", "{{")):
            raise ValueError("the url must start with http:// or https://")
        return value.strip()

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _header_names(value)

    @field_validator("save")
    @classmethod
    def _save(cls, value: dict[str, str]) -> dict[str, str]:
        import jmespath
        from jmespath.exceptions import JMESPathError

        for name, expression in value.items():
            if not _FIELD.match(name):
                raise ValueError(f"{name!r} is not a contact field name (letters, digits, underscores)")
            if name == "email":
                raise ValueError("a webhook answer may not change the contact's email; save it to another field")
            try:
                jmespath.compile(expression)
            except JMESPathError as error:
                raise ValueError(f"save.{name}: {expression!r} is not a JMESPath expression ({error})") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.json_body is not None and self.form is not None:
            raise ValueError("give either json or form as the body, not both")
        if self.method == "GET" and (self.json_body is not None or self.form is not None):
            raise ValueError("a GET request has no body: remove json/form or use POST")
        if self.connection and self.secret_arn:
            raise ValueError("give the signing secret either by connection or by secret_arn, not both")
        return self


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    from automaps.providers import safe_http

    connection = _connection(settings)
    url = ctx.render(settings.url, where=f"the url of step {ctx.event.step_id!r}")
    try:
        target = safe_http.parse(url)
    except safe_http.BadUrl as error:
        raise PermanentError(f"bad webhook url: {error}") from None
    body, content_type = _body(ctx, settings)
    headers = {"User-Agent": USER_AGENT, DELIVERY_HEADER: ctx.event.idempotency_key[:32]}
    if content_type:
        headers["Content-Type"] = content_type
    if settings.json_body is not None or settings.save:
        headers["Accept"] = "application/json"
    headers.update(connection.headers if connection else {})
    headers.update({name: _header_value(ctx, name, value) for name, value in settings.headers.items()})
    secret_arn = settings.secret_arn or (connection.secret_arn if connection else None)
    if secret_arn:
        header = connection.signature_header if connection else SIGNATURE_HEADER
        headers[header] = sign(_secret(secret_arn, connection.secret_key if connection else None), body or b"")

    where = {"method": settings.method, "host": target.host, "path": target.path.split("?")[0]}

    def deliver() -> dict[str, Any]:
        answer = _call(settings, url, headers, body, where)
        sent: dict[str, Any] = {**where, "status": answer.status, "signed": bool(secret_arn)}
        if answer.redirects:
            sent["redirects"] = len(answer.redirects)
        if settings.save:
            try:
                saved, missing = _extract(answer, settings.save)
            except PermanentError as error:
                sent |= {"saved": [], "unreadable": error.reason}
                return sent
            sent |= {"saved": sorted(saved), "values": saved}
            if missing:
                sent["not_in_answer"] = missing
        return sent

    # once per visit (X-Automaps-Delivery lets the receiver tell the same delivery too)
    answer = ctx.once(
        "webhook",
        deliver,
        kind="webhook.sent",
        detail=lambda sent: {k: v for k, v in sent.items() if k not in ("values", "unreadable")},
    )
    sent = {k: v for k, v in answer.items() if k not in ("values", "unreadable")}
    if answer.get("unreadable"):
        raise PermanentError(answer["unreadable"], {"status": answer["status"]})
    if answer.get("values"):
        _save(ctx, answer["values"])
    return sent


# ------------------------------------------------------------------ building the request


def _connection(settings: Settings) -> WebhookConnection | None:
    if not settings.connection:
        return None
    try:
        found = connections.load(settings.connection, "webhook")
    except connections.UnknownConnection as error:
        raise PermanentError(str(error)) from None
    assert isinstance(found, WebhookConnection)
    return found


def _render_tree(ctx: StepContext, value: Any, path: str) -> Any:
    if isinstance(value, str):
        return ctx.render(value, where=f"{path} of step {ctx.event.step_id!r}") if "{" in value else value
    if isinstance(value, dict):
        return {key: _render_tree(ctx, item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_render_tree(ctx, item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _body(ctx: StepContext, settings: Settings) -> tuple[bytes | None, str | None]:
    if settings.json_body is not None:
        rendered = _render_tree(ctx, settings.json_body, "json")
        return json.dumps(rendered, separators=(",", ":"), ensure_ascii=False).encode(), "application/json"
    if settings.form is not None:
        from urllib.parse import urlencode

        rendered = _render_tree(ctx, settings.form, "form")
        return urlencode(rendered).encode(), "application/x-www-form-urlencoded"
    return None, None


def _header_value(ctx: StepContext, name: str, value: str) -> str:
    rendered = ctx.render(value, where=f"header {name} of step {ctx.event.step_id!r}") if "{" in value else value
    if any(ch in rendered for ch in "\r\n\0"):
        raise PermanentError(f"the header {name} would contain a line break")
    return rendered


def _secret(arn: str, key: str | None) -> str:
    from automaps import secrets as connection_secrets

    try:
        return connection_secrets.get(arn, key)
    except connection_secrets.SecretUnavailable as error:
        raise PermanentError(f"cannot sign the webhook: {error}") from None


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>." + body>``."""
    stamp = int(clock.now().timestamp()) if at is None else at
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


# ------------------------------------------------------------------ the call and its answer


def _call(settings: Settings, url: str, headers: dict[str, str], body: bytes | None, where: dict[str, Any]) -> Any:
    import urllib3

    from automaps.providers import safe_http

    try:
        answer = safe_http.request(settings.method, url, headers=headers, body=body, timeout=settings.timeout_seconds)
    except safe_http.BlockedAddress as error:
        raise PermanentError(f"webhook not sent: {error}", where) from None
    except safe_http.BadUrl as error:
        raise PermanentError(f"bad webhook url: {error}", where) from None
    except safe_http.TooManyRedirects as error:
        raise PermanentError(f"webhook redirected too often: {error}", where) from None
    except urllib3.exceptions.HTTPError as error:
        from automaps.providers.http import transport_error

        raise transport_error(error, f"the webhook to {where['host']}", settings.method) from None
    if 200 <= answer.status < 300:
        return answer
    snippet = " ".join(answer.text()[:200].split())
    reason = f"the webhook answered {answer.status}{': ' + snippet if snippet else ''}"
    if answer.status in _TRANSIENT_STATUSES or answer.status >= 500:
        raise TransientError(reason)
    raise PermanentError(reason, {**where, "status": answer.status})


def _extract(answer: Any, save: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    import jmespath

    try:
        document = json.loads(answer.body or b"null")
    except ValueError:
        raise PermanentError(
            "the webhook was delivered but its answer is not JSON; nothing was saved", {"status": answer.status}
        ) from None
    saved: dict[str, Any] = {}
    missing: list[str] = []
    for name, expression in save.items():
        value = jmespath.search(expression, document)
        if value is None:
            missing.append(name)
        else:
            saved[name] = value
    return saved, missing


def _save(ctx: StepContext, values: dict[str, Any]) -> None:
    """After the call has happened, a failure to save must not call the webhook again."""
    from botocore.exceptions import BotoCoreError, ClientError

    from automaps.store.contacts import WriteConflict

    try:
        ctx.store.update_fields(ctx.contact.id, values)
    except (ClientError, BotoCoreError, WriteConflict, ValueError) as error:
        raise PermanentError(
            f"the webhook was delivered but the fields could not be saved: {type(error).__name__}"
        ) from None
