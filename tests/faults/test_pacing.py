"""Pacing StartExecution (issue 10, "Enrollment at scale"): the real intake consumer
(``enroll_queue.consume``) against the bench's Step Functions stand-in (bench/enrollment.py), which
enforces a token bucket on a virtual clock and answers ``ThrottlingException`` when it is empty.
The fault comes from outside: a ``before-call.sfn.StartExecution`` hook on the shared client."""

from __future__ import annotations

import pytest

from bench import enrollment as bench

pytestmark = pytest.mark.slow


def test_given_a_small_bucket_when_a_burst_of_requests_arrives_then_every_contact_starts_exactly_once():
    # GIVEN Step Functions holds 20 starts and refills 5 a second, while the consumer's 4 pollers
    # are configured for 40 a second (8 times the quota): the stand-in must throttle
    # WHEN 120 enrollment requests arrive at once
    result = bench.run(
        120, pollers=4, bucket=20, refill=5, environment={"ENROLL_STARTS_PER_SECOND": "40", "ENROLL_STARTS_BURST": "40"}
    )

    # THEN throttles happened, were answered by the back-off, and every contact started exactly once
    assert result["throttles"] > 0 and result["failed_messages"] >= result["throttles"]
    assert result["executions"] == 120
    assert result["lost"] == 0 and result["doubled"] == 0 and result["dead_letters"] == 0
    # and no start went faster than the quota allows
    assert result["virtual_seconds"] >= (120 - 20) / 5


def test_given_pacing_under_the_quota_when_a_burst_arrives_then_nothing_is_throttled_and_the_pace_holds():
    # GIVEN the same small quota (20, 5 a second) and pollers paced under it (4.5 a second, burst 16)
    # WHEN 120 enrollment requests arrive at once
    result = bench.run(
        120,
        pollers=4,
        bucket=20,
        refill=5,
        environment={"ENROLL_STARTS_PER_SECOND": "4.5", "ENROLL_STARTS_BURST": "16"},
    )

    # THEN no start was throttled, all started once, at the configured pace: the burst at once,
    # the rest at 4.5 a second ((120 - 16) / 4.5 = 23.1 s, the quota's floor being 20 s)
    assert result["throttles"] == 0 and result["failed_messages"] == 0
    assert result["executions"] == 120 and result["lost"] == 0 and result["doubled"] == 0
    assert (120 - 16) / 4.5 - 0.5 <= result["virtual_seconds"] <= (120 - 16) / 4.5 + 0.5
