"""What the provider adapters (payments, WordPress, ...) share: their connection, loaded and
checked; their secret, read by reference; the checks of their connection models' fields."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from automaps import secrets as connection_secrets
from automaps.errors import PermanentError

SECRET_ARN = re.compile(r"^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:(?P<name>.+)$")
CONNECTION_SECRET = re.compile(r"^[^/]+/connections/.+")  # <stack name>/connections/...: the only ones
# the adapters' functions may read (template.yaml)


def load_connection(name: str, types: Collection[str], what: str) -> Any:
    """The validated connection ``name``, which must be of one of ``types`` (``what`` names them
    in the error); a missing, mistyped or invalid connection is a PermanentError."""
    from automaps.store import connections
    from automaps.store.content import ContentStore

    body = ContentStore().get("CONNECTION", name)
    if body is None:
        raise PermanentError(
            f"no connection named {name!r} (content/connections/{name}.yaml, uploaded by `automaps push`)"
        )
    if body.get("type") not in types:
        raise PermanentError(
            f"connection {name!r} is of type {body.get('type')!r}, not {what} ({', '.join(sorted(types))})"
        )
    try:
        return connections.validate(body)
    except (ValueError, LookupError) as error:
        raise PermanentError(f"connection {name!r} is invalid: {error}") from None


def secret(arn: str, key: str) -> str:
    """The connection's secret: the whole value, or its ``key`` member when it is a JSON object.
    A missing or empty secret is a PermanentError naming it (never its value); throttling and
    5xx from Secrets Manager propagate, and the step runner makes them transient."""
    try:
        return connection_secrets.get(arn, key).strip()
    except connection_secrets.SecretUnavailable as error:
        raise PermanentError(str(error)) from None


def check_secret_arn(value: str) -> str:
    found = SECRET_ARN.match(value)
    if not found:
        raise ValueError(
            "secret_arn must be the ARN of a Secrets Manager secret "
            "(arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
        )
    if not CONNECTION_SECRET.match(found["name"]):
        raise ValueError(
            "the secret's name must be '<stack name>/connections/<anything>' (e.g. "
            "automaps/connections/stripe): the functions may read only those secrets"
        )
    return value


def check_base_url(value: str) -> str:
    """An https address (http only on a loopback address, for a local stand-in)."""
    from urllib.parse import urlsplit

    from automaps.providers.http import is_loopback

    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value):
        raise ValueError(f"{value!r} is not an http(s) address such as https://api.example.com")
    if value.startswith("http://") and not is_loopback(urlsplit(value).hostname):
        raise ValueError(
            f"{value!r} is not https: a key or password must not travel in cleartext; "
            "use https:// (http only for a local stand-in on 127.0.0.1)"
        )
    return value
