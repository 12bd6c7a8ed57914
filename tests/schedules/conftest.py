"""The local runtime the schedule specifications run on (the journeys' fixture, and one at any start)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT
from tests.e2e.conftest import runtime  # noqa: F401  (the fixture)


@contextlib.contextmanager
def runtime_at(start: datetime) -> Iterator[LocalRuntime]:
    """GIVEN the backend on moto at ``start`` on a virtual clock that moves only when the test runs it."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(start, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        yield running
