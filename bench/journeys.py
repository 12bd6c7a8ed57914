"""Journeys through the example maps on the local runtime (moto, virtual clock, in-process Lambdas).

For each map, N contacts submit its form at the same virtual instant and run to the end. Counted
from the execution histories: state transitions (states entered) and Lambda invocations (tasks
scheduled), per map step and per journey. Timed: local journeys per second, wall clock.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

# what each example map's form receives; {n} makes every contact distinct
SUBMISSIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "welcome-leads": ("newsletter", {"email": "lead{n}@example.com", "first_name": "Lee", "age": 50,
                                     "phone": "+14155550134", "timezone": "Europe/Paris"}),
    "webinar-reminder": ("webinar", {"email": "guest{n}@example.com", "first_name": "Wes",
                                     "phone": "+442079460958", "webinar_at": "2026-11-26T18:00:00Z"}),
    "membership-cancel": ("cancel-membership", {"email": "member{n}@example.com", "reason": "price"}),
}


def step_of(state: str, labels: set[str]) -> str:
    """The map step a state belongs to: states are named after their step ('engaged check')."""
    if state in labels:
        return state
    matches = [label for label in labels if state.startswith(label + " ")]
    return max(matches, key=len) if matches else "(exit)"


def step_labels(definition: dict[str, Any]) -> set[str]:
    labels = set()
    for state in definition["States"].values():
        payload = state.get("Parameters", {}).get("Payload", {})
        if "step_id" in payload and payload["step_id"] != "Completed":
            labels.add(payload["step_id"])
    return labels


def count(history: list[dict[str, Any]], labels: set[str]) -> dict[str, Counter]:
    """step -> Counter(transitions, invocations) for one execution."""
    per_step: dict[str, Counter] = defaultdict(Counter)
    current = "(start)"
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            current = step_of(entered["name"], labels)
            per_step[current]["transitions"] += 1
        elif event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"):
            per_step[current]["invocations"] += 1
    return per_step


def run(contacts: int = 20) -> dict[str, Any]:
    from werkzeug.test import Client

    from automaps_local.clock import VirtualClock
    from automaps_local.http import LocalApi
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import push_content

    results: dict[str, Any] = {}
    for map_id, (form, body) in SUBMISSIONS.items():
        clock = VirtualClock(START, auto_advance=False)
        with LocalRuntime(ROOT / "template.yaml", clock=clock,
                          environment={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as rt:
            push_content(rt)
            api = Client(LocalApi(rt))
            _warm_up(rt, api, form, body)
            warm = {e["arn"] for e in rt.executions(map_id)}
            began = time.perf_counter()
            with clock.hold():
                for n in range(contacts):
                    filled = {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}
                    assert api.post(f"/forms/{form}", json=filled).status_code == 202
            rt.run_until_settled(timeout=600)
            elapsed = time.perf_counter() - began
            results[map_id] = _summarise(rt, map_id, contacts, elapsed, exclude=warm)
    return results


def _warm_up(rt: Any, api: Any, form: str, body: dict[str, Any]) -> None:
    """One journey first, so imports and first-use costs are not in the timing."""
    filled = {k: v.format(n="warmup") if isinstance(v, str) else v for k, v in body.items()}
    api.post(f"/forms/{form}", json=filled)
    rt.run_until_settled(timeout=120)


def _summarise(rt: Any, map_id: str, contacts: int, elapsed: float, exclude: set[str]) -> dict[str, Any]:
    definition = json.loads((ROOT / "statemachines" / f"{map_id}.asl.json").read_text())
    labels = step_labels(definition)
    executions = [e for e in rt.executions(map_id) if e["arn"] not in exclude]
    totals: dict[str, Counter] = defaultdict(Counter)
    statuses = Counter(e["status"] for e in executions)
    for execution in executions:
        for step, counts in count(rt.history(execution["arn"]), labels).items():
            totals[step].update(counts)
    journeys = len(executions)
    return {
        "journeys": journeys, "statuses": dict(statuses), "seconds": elapsed,
        "journeys_per_second": contacts / elapsed,
        "per_step": {step: {k: v / journeys for k, v in counts.items()} for step, counts in totals.items()},
        "per_journey": {k: sum(c[k] for c in totals.values()) / journeys for k in ("transitions", "invocations")},
    }


def report(results: dict[str, Any]) -> str:
    lines = []
    for map_id, r in results.items():
        lines.append(f"\n{map_id}: {r['journeys']} journeys {r['statuses']} in {r['seconds']:.2f} s = "
                     f"{r['journeys_per_second']:.1f} journeys/s; per journey "
                     f"{r['per_journey']['transitions']:.1f} transitions, {r['per_journey']['invocations']:.1f} "
                     "Lambda invocations")
        lines.append(f"  {'step':<28} {'transitions':>11} {'invocations':>11}")
        for step, c in r["per_step"].items():
            lines.append(f"  {step:<28} {c.get('transitions', 0):>11.2f} {c.get('invocations', 0):>11.2f}")
    return "\n".join(lines)
