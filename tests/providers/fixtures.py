"""Fixtures for actions that call outside providers: a fake provider on 127.0.0.1, its secret
in (moto) Secrets Manager and the connection naming both in the content store.

A test module makes its fixture from them: ``with stripe_account() as stripe: yield stripe``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from automaps import aws as aws_clients
from automaps.store.content import ContentStore
from tests.providers import fake_stripe, fake_wordpress
from tests.providers.server import serving


def a_secret(name: str, value: str) -> str:
    """GIVEN a secret in Secrets Manager; returns its ARN."""
    return aws_clients.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


def a_connection(name: str, body: dict) -> None:
    """GIVEN connection ``name`` was pushed (content/connections/<name>.yaml)."""
    ContentStore().put("CONNECTION", name, body)


@contextmanager
def stripe_account() -> Iterator[fake_stripe.FakeStripe]:
    """GIVEN (inside moto) a Stripe account (the fake) and connection ``stripe`` to it, its key in
    Secrets Manager."""
    with serving(fake_stripe.FakeStripe()) as fake:
        arn = a_secret("automaps/connections/stripe", json.dumps({"api_key": fake_stripe.API_KEY}))
        a_connection("stripe", {"type": "stripe", "api_base": fake.url, "secret_arn": arn})
        yield fake


@contextmanager
def wordpress_site() -> Iterator[fake_wordpress.FakeWordPress]:
    """GIVEN (inside moto) a WordPress site (the fake) and connection ``members`` to it, with an application
    password for user ``automaps`` in Secrets Manager."""
    with serving(fake_wordpress.FakeWordPress()) as fake:
        arn = a_secret("automaps/connections/members", fake_wordpress.APP_PASSWORD)
        a_connection("members", {"type": "wordpress", "url": fake.url, "username": fake_wordpress.USERNAME,
                                 "secret_arn": arn})
        yield fake
