"""Journeys through the example maps on the local runtime (moto, virtual clock, in-process Lambdas).

For each map, N contacts submit its form at the same virtual instant and run to the end. Counted
from the execution histories: state transitions (states entered) and Lambda invocations (tasks
scheduled), per map step and per journey. Metered with botocore hooks (bench.costs, which says how
units are computed): DynamoDB read and write request units and requests by operation, SQS
requests, and the Lambda invocations outside executions (the form post, the intake consumer,
rules), per step where a step's handler made them, else per journey under their origin; then the
$ per 1,000 journeys. Timed: local journeys per second, wall clock. The warm-up journey is not
counted.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import costs

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
    from automaps_local.stack import ACCOUNT, REGION

    results: dict[str, Any] = {}
    for map_id, (form, body) in SUBMISSIONS.items():
        clock = VirtualClock(START, auto_advance=False)
        with LocalRuntime(ROOT / "template.yaml", clock=clock,
                          environment={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as rt:
            meter = costs.Meter(rt, ACCOUNT, REGION).install()
            push_content(rt)
            api = Client(LocalApi(rt))
            _warm_up(rt, api, form, body)
            meter.clear()
            warm = {e["arn"] for e in rt.executions(map_id)}
            began = time.perf_counter()
            with clock.hold():
                for n in range(contacts):
                    filled = {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}
                    assert api.post(f"/forms/{form}", json=filled).status_code == 202
            rt.run_until_settled(timeout=600)
            elapsed = time.perf_counter() - began
            results[map_id] = _summarise(rt, map_id, contacts, elapsed, exclude=warm, metered=meter.counts)
    return results


def _warm_up(rt: Any, api: Any, form: str, body: dict[str, Any]) -> None:
    """One journey first, so imports and first-use costs are not in the timing."""
    filled = {k: v.format(n="warmup") if isinstance(v, str) else v for k, v in body.items()}
    api.post(f"/forms/{form}", json=filled)
    rt.run_until_settled(timeout=120)


METERED = ("ddb_read_units", "ddb_write_units", "ddb_requests", "sqs_requests")


def _summarise(rt: Any, map_id: str, contacts: int, elapsed: float, exclude: set[str],
               metered: dict[str, Counter]) -> dict[str, Any]:
    definition = json.loads((ROOT / "statemachines" / f"{map_id}.asl.json").read_text())
    labels = step_labels(definition)
    executions = [e for e in rt.executions(map_id) if e["arn"] not in exclude]
    totals: dict[str, Counter] = defaultdict(Counter)
    statuses = Counter(e["status"] for e in executions)
    for execution in executions:
        for step, counts in count(rt.history(execution["arn"]), labels).items():
            totals[step].update(counts)
    handlers: Counter = Counter()  # exclusive handler seconds and invocations, every origin
    for label, counts in metered.items():
        step = step_of(label.removeprefix("step:"), labels) if label.startswith("step:") else label
        totals[step].update({k: v for k, v in counts.items() if k in METERED or k.startswith(("ddb.", "sqs."))})
        if not label.startswith("step:"):  # invocations inside executions come from the histories
            totals[step]["invocations_outside"] += counts["invocations"]
        handlers.update({k: v for k, v in counts.items() if k in ("invocations", "handler_seconds")})
    journeys = len(executions)
    per_journey = {k: sum(c[k] for c in totals.values()) / journeys
                   for k in ("transitions", "invocations", "invocations_outside", *METERED)}
    operations: Counter = Counter()
    for counts in metered.values():
        operations.update({k: v for k, v in counts.items() if k.startswith(("ddb.", "sqs.", "fn."))})
    return {
        "journeys": journeys, "statuses": dict(statuses), "seconds": elapsed,
        "journeys_per_second": contacts / elapsed,
        "per_step": {step: {k: v / journeys for k, v in counts.items()} for step, counts in totals.items()},
        "per_journey": per_journey,
        "requests_per_journey": {k: v / journeys for k, v in sorted(operations.items())},
        "handler_ms_mean": 1000 * handlers["handler_seconds"] / max(1, handlers["invocations"]),
        "dollars_per_1000_journeys": costs.dollars_per_1000(per_journey),
        "pricing": {**costs.PRICES, "lambda_memory_gb": costs.LAMBDA_MEMORY_GB,
                    "lambda_seconds_per_invocation": costs.LAMBDA_SECONDS},
    }


def report(results: dict[str, Any]) -> str:
    lines = []
    for map_id, r in results.items():
        j, usd = r["per_journey"], r["dollars_per_1000_journeys"]
        lines.append(f"\n{map_id}: {r['journeys']} journeys {r['statuses']} in {r['seconds']:.2f} s = "
                     f"{r['journeys_per_second']:.1f} journeys/s; per journey {j['transitions']:.1f} transitions, "
                     f"{j['invocations']:.1f} Lambda invocations in executions + {j['invocations_outside']:.1f} "
                     f"outside, DynamoDB {j['ddb_read_units']:.1f} RRU / {j['ddb_write_units']:.1f} WRU in "
                     f"{j['ddb_requests']:.1f} requests, {j['sqs_requests']:.1f} SQS requests")
        lines.append(f"  $ per 1,000 journeys: {usd['total']:.4f} = transitions {usd['transitions']:.4f} + Lambda "
                     f"{usd['lambda_requests'] + usd['lambda_duration']:.4f} (50 ms each; measured handler mean "
                     f"{r['handler_ms_mean']:.0f} ms) + DynamoDB {usd['dynamodb_writes'] + usd['dynamodb_reads']:.4f} "
                     f"+ SQS {usd['sqs']:.4f}")
        lines.append(f"  {'step':<28} {'transitions':>11} {'invocations':>11} {'RRU':>7} {'WRU':>7} "
                     f"{'DDB req':>7} {'SQS req':>7}")
        for step, c in r["per_step"].items():
            invocations = c.get("invocations", 0) + c.get("invocations_outside", 0)
            lines.append(f"  {step:<28} {c.get('transitions', 0):>11.2f} {invocations:>11.2f} "
                         f"{c.get('ddb_read_units', 0):>7.2f} {c.get('ddb_write_units', 0):>7.2f} "
                         f"{c.get('ddb_requests', 0):>7.2f} {c.get('sqs_requests', 0):>7.2f}")
        requests = ", ".join(f"{k.split('.', 1)[1]} {v:.2f}" for k, v in r["requests_per_journey"].items()
                             if k.startswith(("ddb.", "sqs.")))
        lines.append(f"  requests per journey: {requests}")
    return "\n".join(lines)
