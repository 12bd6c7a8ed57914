"""The deploy rehearsal: template.yaml packaged, transformed by samtranslator offline and created
as a stack in moto's CloudFormation (automaps_local.rehearsal). Reuse ``rehearsal`` (the stack
"automaps", created from the repository's template) for any --stack-name path."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from automaps_local.rehearsal import RehearsalStack, rehearsed
from tests.conftest import ROOT

STACK = "automaps"
PARAMETERS = {"EmailFrom": "news@example.com", "AlertEmail": "ops@example.com"}


@pytest.fixture
def rehearsal() -> Iterator[RehearsalStack]:
    """GIVEN our template deployed as the stack "automaps" (moto's CloudFormation), EmailFrom
    news@example.com, AlertEmail ops@example.com; nothing else set up (no SES identity, no push)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        with rehearsed(STACK, ROOT, PARAMETERS) as stack:
            yield stack


STACK_ENVIRONMENT = ("CONTACTS_TABLE", "CONTENT_TABLE", "SIGNING_SECRET_ARN", "EMAIL_FROM", "PUBLIC_API_URL")


@pytest.fixture
def stack_environment_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--stack-name` (use_stack) points the environment at the stack's tables: unset while the
    test runs, and as it was after it."""
    for name in STACK_ENVIRONMENT:
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
