"""Secrets (the link-signing key, connections' passwords and API tokens), read from Secrets Manager through
Powertools' SecretsProvider on the shared client and cached for :data:`MAX_AGE` seconds.

A secret is either a plain string or a JSON object; :func:`get` returns the string, or the
object's ``key`` member. Values are never logged.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from automaps import aws

MAX_AGE = 300

_lock = threading.Lock()
_provider: tuple[Any, Any] | None = None


class SecretUnavailable(LookupError):
    """The secret is missing or has no usable value: the connection must be fixed."""


def _secrets_provider() -> Any:
    global _provider
    client = aws.client("secretsmanager")
    with _lock:
        if _provider is None or _provider[0] is not client:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            _provider = (client, SecretsProvider(boto3_client=client))
        return _provider[1]


def get(arn: str, key: str | None = None) -> str:
    """The secret's value; with ``key``, that member of a JSON secret (a plain string is taken
    as it is). Raises SecretUnavailable when it does not exist (other AWS errors propagate)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import ClientError

    try:
        value = _secrets_provider().get(arn, max_age=MAX_AGE)
    except GetParameterError as error:
        cause = error.__cause__ or error.__context__  # Powertools wraps the SDK's error
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            if code not in (
                "ResourceNotFoundException",
                "AccessDeniedException",
                "InvalidRequestException",
                "DecryptionFailure",
                "ValidationException",
            ):
                raise cause from None  # throttling and 5xx: the step runner makes them transient
        elif cause is not None and not isinstance(cause, (KeyError, ValueError)):
            raise cause from None
        raise SecretUnavailable(f"the secret {arn} could not be read") from None
    if isinstance(value, bytes):
        value = value.decode()
    text = str(value)
    if key is not None and text.lstrip().startswith("{"):
        try:
            member = json.loads(text).get(key)
        except (ValueError, AttributeError):
            member = None
        if not isinstance(member, str) or not member:
            raise SecretUnavailable(f"the secret {arn} has no {key!r} member")
        return member
    if not text:
        raise SecretUnavailable(f"the secret {arn} is empty")
    return text
