"""The fuzz tests' tally: how many requests each public endpoint was sent and how many answered
5xx, printed at the end of the run (the figures the issue's closing note cites)."""

from __future__ import annotations

from collections import Counter
from typing import Any

REQUESTS: Counter[str] = Counter()
SERVER_ERRORS: Counter[str] = Counter()
REJECTED: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REQUESTS:
        return
    terminalreporter.section("fuzz: generated requests per public endpoint")
    for endpoint in sorted(REQUESTS):
        terminalreporter.write_line(f"{endpoint:28} {REQUESTS[endpoint]:6} requests, {REJECTED[endpoint]:6} answered 4xx "
                                    f"(store unchanged), {SERVER_ERRORS[endpoint]} answered 5xx")
    terminalreporter.write_line(f"{'total':28} {sum(REQUESTS.values()):6} requests, "
                                f"{sum(SERVER_ERRORS.values())} answered 5xx")
