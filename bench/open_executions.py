"""Open executions for a big audience in a multi-week drip, modelled from the compiled map and the
hand-off rule (issue 10's benchmark): N contacts enter uniformly over one day; each contact's run
is open from its entry until a wait longer than the map's ``waits.hand_off_after`` starts (that
wait is handed to EventBridge Scheduler: no execution until its end), then open again, and so on.
Waits up to the threshold stay in their executions. The peak of open executions and of pending
schedules is found by a sweep over every contact's open intervals; reported for the default
threshold (7 days) and for shorter ones, against Step Functions' 1,000,000 open executions.

The waits and their order come from the compiled definition (the ``Seconds`` Wait states and the
resolve Tasks' ``wait`` specs with their ``hand_off_after``), so the model follows the compiler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DRIP = ROOT / "bench/maps/drip-4-weeks.yaml"
DAY = 86_400
QUOTA = 1_000_000
SCHEDULES_QUOTA = 10_000_000  # EventBridge Scheduler schedules per region (default quota)
SECONDS_PER_TASK = 2  # how long a run spends on one Task state (an email send and its bookkeeping)


def waits(definition: dict[str, Any]) -> list[tuple[int, int]]:
    """(seconds, hand_off_after) of each top-level wait and each Task (``(SECONDS_PER_TASK, -1)``),
    in the order the run meets them."""
    states, found, name = definition["States"], [], definition["StartAt"]
    seen = set()
    while name in states and name not in seen:
        seen.add(name)
        state = states[name]
        if state["Type"] == "Wait" and "Seconds" in state:
            found.append((int(state["Seconds"]), 0))
        payload = state.get("Parameters", {}).get("Payload", {})
        if state["Type"] == "Task":
            found.append((SECONDS_PER_TASK, -1))
        if state["Type"] == "Task" and "wait" in payload:
            spec = payload["wait"]
            seconds = int(
                spec.get("days", 0) * DAY
                + spec.get("hours", 0) * 3600
                + spec.get("minutes", 0) * 60
                + spec.get("seconds", 0)
                + spec.get("weeks", 0) * 7 * DAY
            )
            found.append((seconds, int(payload.get("hand_off_after") or 0)))
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
        if name is None and state["Type"] == "Choice":
            break
    return found


def intervals(plan: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A contact's open-execution intervals and schedule intervals, from its entry (seconds)."""
    opened, t, runs, schedules = 0, 0, [], []
    for seconds, hand_off in plan:
        if hand_off > 0 and seconds > hand_off:
            runs.append((opened, t))
            schedules.append((t, t + seconds))
            t += seconds
            opened = t
        else:
            t += seconds
    runs.append((opened, t))
    return runs, schedules


def peak(spans: list[tuple[int, int]], contacts: int, window: int = DAY) -> float:
    """Peak overlap when ``contacts`` each have ``spans`` (relative to entry), entries uniform over
    ``window``: the density contacts/window times the longest total span covering any instant."""
    points = sorted({0, *(p for s, e in spans for p in (s, e, s + window, e + window))})
    best = 0.0
    for t in points:
        covered = sum(max(0, min(e, t) - max(s, t - window)) for s, e in spans)
        best = max(best, covered)
    return contacts * best / window


def run(contacts: int = 1_000_000) -> dict[str, Any]:
    from automaps.maps.compiler import compile_map
    from automaps.maps.loader import load_map

    base = load_map(DRIP)
    results = {}
    for label, threshold in (
        ("7 days (default)", {"days": 7}),
        ("3 days", {"days": 3}),
        ("1 day", {"days": 1}),
        ("never", None),
    ):
        drip = base.model_copy(update={"waits": base.waits.model_validate({"hand_off_after": threshold})})
        runs, schedules = intervals(waits(compile_map(drip)))
        open_peak = peak(runs, contacts)
        results[label] = {
            "peak_open_executions": round(open_peak),
            "share_of_quota": open_peak / QUOTA,
            "peak_schedules": round(peak(schedules, contacts)),
            "share_of_schedules_quota": peak(schedules, contacts) / SCHEDULES_QUOTA,
            "longest_execution_days": max(e - s for s, e in runs) / DAY,
        }
    return {"contacts": contacts, "map": base.id, "thresholds": results}


def report(result: dict[str, Any]) -> str:
    lines = [f"\nopen executions: {result['contacts']:,} contacts entering {result['map']} over one day"]
    for label, r in result["thresholds"].items():
        lines.append(
            f"  hand_off_after {label:<17} peak open executions {r['peak_open_executions']:>9,} "
            f"({r['share_of_quota']:.1%} of 1M), peak schedules {r['peak_schedules']:>9,} "
            f"({r['share_of_schedules_quota']:.0%} of 10M), "
            f"longest execution {r['longest_execution_days']:.1f} days"
        )
    return "\n".join(lines)
