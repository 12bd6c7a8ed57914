"""The environment the benchmarks run their moto or in-memory AWS under."""

from __future__ import annotations

import os


def quiet_fake_aws() -> None:
    """The local runtime's fake credentials and region (``FAKE_AWS_ENV``), Powertools quiet;
    what the caller's environment already sets wins."""
    from automaps_local.runtime import FAKE_AWS_ENV

    for key, value in {**FAKE_AWS_ENV, "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}.items():
        os.environ.setdefault(key, value)
