"""The throughput benchmark (bench/throughput.py): a small run takes every contact through
welcome-leads to a successful end and times it, and the "flat within 10%" target is read from
the sizes' journeys per second (the real sizes run in `make bench`, not here)."""

from __future__ import annotations

from bench import throughput


def test_given_three_contacts_when_the_bench_runs_then_every_journey_succeeds_and_is_timed():
    # WHEN three contacts post the newsletter form and run through welcome-leads
    result = throughput.journeys(3)

    # THEN the run is timed, posts and run together, on the wall clock and in CPU seconds
    assert result["contacts"] == 3
    assert result["seconds"] >= result["post_seconds"] > 0 and result["run_seconds"] > 0
    assert result["journeys_per_second"] == 3 / result["seconds"]
    assert result["cpu_seconds"] > 0 and result["journeys_per_cpu_second"] == 3 / result["cpu_seconds"]


def _sizes(*rates: float) -> dict:
    return {"sizes": {str(n): {"journeys_per_second": rate} for n, rate in zip((20, 200, 2000), rates, strict=True)}}


def test_given_every_size_within_ten_percent_of_the_smallest_then_the_target_is_met():
    assert throughput.flat(_sizes(2.0, 1.85, 1.81)) == (True, 1.81 / 2.0)
    assert throughput.flat(_sizes(2.0, 2.4, 1.9))[0]  # faster is flat too


def test_given_a_size_slower_by_more_than_ten_percent_then_the_target_is_not_met():
    ok, worst = throughput.flat(_sizes(2.0, 1.9, 1.5))
    assert not ok and worst == 0.75
    assert "NOT met" in throughput.report(
        {"sizes": {key: {"contacts": int(key), "seconds": 1.0, "posts_per_second": 1.0, **size}
                   for key, size in _sizes(2.0, 1.9, 1.5)["sizes"].items()}}
    )
