"""The local runtime the journey specifications run on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)   # a Monday, 09:00 in New York


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the backend from template.yaml on moto, at START on a virtual clock that moves only
    when the test runs it (without the template's hourly schedules, which tests/segments'
    sweep journey turns on: months of virtual time would invoke it thousands of times)."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as running:
        yield running
