"""Connections: named, per-deployment settings of an outside service (an SMTP server, a payment
provider, a WordPress site, ...), stored as data in the content table (``content/connections/``).

A connection's body has a ``type``; the model that validates each type is registered in
``TYPES`` as ``"module:Class"`` and imported only when needed. Secrets (passwords, API keys)
never live here: a connection names a Secrets Manager secret (``secret_arn``) instead.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from automaps.store.content import ContentStore

TYPES: dict[str, str] = {
    "stripe": "automaps.providers.payments:StripeConnection",
    "wordpress": "automaps.providers.wordpress:WordPressConnection",
    "webhook": "automaps.actions.send_webhook:WebhookConnection",
    "facebook": "automaps.actions.facebook_custom_audience:FacebookConnection",
    "smtp": "automaps.channels.smtp:SmtpConnection",
    "connect": "automaps.channels.voice:ConnectConnection",
}


class UnknownConnection(LookupError):
    pass


def model_for(type_: str) -> type[BaseModel]:
    try:
        module_name, class_name = TYPES[type_].split(":")
    except KeyError:
        raise UnknownConnection(f"unknown connection type {type_!r}; known: {', '.join(sorted(TYPES))}") from None
    return getattr(importlib.import_module(module_name), class_name)


def validate(body: dict[str, Any]) -> BaseModel:
    """The connection's settings, validated by its type's model (raises ValueError/LookupError)."""
    if not isinstance(body, dict) or "type" not in body:
        raise ValueError("a connection needs a 'type'")
    return model_for(str(body["type"])).model_validate(body)


def load(name: str, type_: str) -> BaseModel:
    """The named connection, which must be of ``type_``."""
    body = ContentStore().get("CONNECTION", name)
    if body is None:
        raise UnknownConnection(f"no connection named {name!r} (content/connections/{name}.yaml)")
    if body.get("type") != type_:
        raise UnknownConnection(f"connection {name!r} is of type {body.get('type')!r}, not {type_!r}")
    return validate(body)
