"""Journeys through the example maps on the local runtime (moto, virtual clock, in-process Lambdas).

For each map, N contacts submit its form at the same virtual instant and run to the end. Counted
from the execution histories: state transitions (states entered) and Lambda invocations (tasks
scheduled), per map step and per journey. Metered with botocore hooks (bench.costs, which says how
units are computed): DynamoDB read and write request units and requests by operation, SQS
requests, and the Lambda invocations outside executions (the form post, the intake consumer,
rules), per step where a step's handler made them, else per journey under their origin; then the
$ per 1,000 journeys. Timed: local journeys per second, wall clock. The warm-up journey is not
counted.

Every map in maps/ is measured: welcome-leads, webinar-reminder and membership-cancel from their
forms; lead-nurture from the prospects list, each contact buying on day 2 (the goal pulls them out
of the week's wait into customer-onboarding, whose end returns them for the review request), which
measures customer-onboarding too. A journey is one contact's way through a map, whatever the
number of runs it took (lead-nurture: three). :func:`cost_lines` gives one line per map, next to
the numbers of ``bench/baselines/journeys-before-issue11.json`` (issue 11 starting point) when present.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
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


NURTURE = ("lead-nurture", "customer-onboarding")
"""The lead-nurture scenario's maps: the first one's journeys hand every contact to the second."""
BOUGHT_AFTER = timedelta(days=2)
NURTURE_UNTIL = timedelta(days=12)  # past onboarding's three days and the return to the review request


def run(contacts: int = 20) -> dict[str, Any]:
    from werkzeug.test import Client

    from automaps_local.clock import VirtualClock
    from automaps_local.http import LocalApi
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import push_content
    from automaps_local.stack import ACCOUNT, REGION

    results: dict[str, Any] = {}
    scenarios: list[tuple[str, ...]] = [(map_id,) for map_id in SUBMISSIONS] + [NURTURE]
    for maps in scenarios:
        clock = VirtualClock(START, auto_advance=False)
        with LocalRuntime(ROOT / "template.yaml", clock=clock,
                          environment={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as rt:
            meter = costs.Meter(rt, ACCOUNT, REGION).install()
            push_content(rt)
            api = Client(LocalApi(rt))
            journey = _nurture if maps == NURTURE else _form(api, *SUBMISSIONS[maps[0]])
            journey(rt, ["warmup"])  # one journey first, so imports and first-use costs are not in the timing
            meter.clear()
            warm = {e["arn"] for map_id in maps for e in rt.executions(map_id)}
            began = time.perf_counter()
            journey(rt, [str(n) for n in range(contacts)])
            elapsed = time.perf_counter() - began
            for i, map_id in enumerate(maps):  # what happens outside the executions goes to the first map
                results[map_id] = _summarise(rt, map_id, contacts, elapsed, exclude=warm, metered=meter.counts,
                                             outside=i == 0)
    return results


def _form(api: Any, form: str, body: dict[str, Any]) -> Any:
    """Contacts submit the map's form at the same virtual instant and run to the end."""
    def journey(rt: Any, names: list[str]) -> None:
        with rt.clock.hold():
            for n in names:
                filled = {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}
                assert api.post(f"/forms/{form}", json=filled).status_code == 202
        rt.run_until_settled(timeout=600)
    return journey


def _nurture(rt: Any, names: list[str]) -> None:
    """Leads join the prospects list (an import: the list.added entry enters them through the
    router) at the same virtual instant; each buys on day 2, in the week's wait."""
    from automaps.store.contacts import ContactStore, Effect
    from automaps.store.lists import ListStore

    store, began = ContactStore(), rt.clock.now()
    ids = []
    with rt.clock.hold():
        for n in names:
            contact, _ = store.upsert_by_email(f"prospect{n}@example.com",
                                               {"first_name": "Ada", "timezone": "America/New_York"}, tags=["lead"])
            ListStore().add("list", "prospects", contact.id, effect=Effect(visit=f"import-{contact.id}", kind="list.added"))
            ids.append(contact.id)
    _until(rt, began + BOUGHT_AFTER)
    with rt.clock.hold():
        for contact_id in ids:
            store.record(contact_id, "purchase.made", {"product": "course-101", "order_id": f"A-{contact_id}"})
    _until(rt, began + NURTURE_UNTIL)


def _until(rt: Any, moment: datetime) -> None:
    rt.run_until_settled(until=moment, timeout=600)
    if rt.clock.now() < moment:
        rt.clock.advance((moment - rt.clock.now()).total_seconds())


def _definition(map_id: str) -> dict[str, Any]:
    return json.loads((ROOT / "statemachines" / f"{map_id}.asl.json").read_text())


METERED = ("ddb_read_units", "ddb_write_units", "ddb_index_write_units", "ddb_requests", "sqs_requests")


def _summarise(rt: Any, map_id: str, contacts: int, elapsed: float, exclude: set[str],
               metered: dict[str, Counter], outside: bool = True) -> dict[str, Any]:
    own = step_labels(_definition(map_id))
    executions = [e for e in rt.executions(map_id) if e["arn"] not in exclude]
    totals: dict[str, Counter] = defaultdict(Counter)
    statuses = Counter(e["status"] for e in executions)
    for execution in executions:
        for step, counts in count(rt.history(execution["arn"]), own).items():
            totals[step].update(counts)
    handlers: Counter = Counter()  # exclusive handler seconds and invocations, every origin
    mine: dict[str, Counter] = {}
    for label, counts in metered.items():
        if label.startswith("step:"):
            of_map, _, step_id = label.removeprefix("step:").partition("#")
            if of_map != map_id:
                continue  # another map's step
            step = step_of(step_id, own)
        elif outside:
            step = label
        else:
            continue  # outside the executions: counted with the scenario's first map
        mine[label] = counts
        totals[step].update({k: v for k, v in counts.items() if k in METERED or k.startswith(("ddb.", "sqs."))})
        if not label.startswith("step:"):  # invocations inside executions come from the histories
            totals[step]["invocations_outside"] += counts["invocations"]
        handlers.update({k: v for k, v in counts.items() if k in ("invocations", "handler_seconds")})
    journeys = contacts  # a contact's journey may take several runs (a goal, a return)
    per_journey = {k: sum(c[k] for c in totals.values()) / journeys
                   for k in ("transitions", "invocations", "invocations_outside", *METERED)}
    operations: Counter = Counter()
    for counts in mine.values():
        operations.update({k: v for k, v in counts.items() if k.startswith(("ddb.", "sqs.", "fn."))})
    return {
        "journeys": journeys, "runs": len(executions), "statuses": dict(statuses), "seconds": elapsed,
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
                     f"outside, DynamoDB {j['ddb_read_units']:.1f} RRU / {j['ddb_write_units']:.1f} WRU "
                     f"(+ {j.get('ddb_index_write_units', 0):.1f} index WRU) in "
                     f"{j['ddb_requests']:.1f} requests, {j['sqs_requests']:.1f} SQS requests")
        dynamodb = usd["dynamodb_writes"] + usd["dynamodb_reads"] + usd.get("dynamodb_index_writes", 0)
        lines.append(f"  $ per 1,000 journeys: {usd['total']:.4f} = transitions {usd['transitions']:.4f} + Lambda "
                     f"{usd['lambda_requests'] + usd['lambda_duration']:.4f} (50 ms each; measured handler mean "
                     f"{r['handler_ms_mean']:.0f} ms) + DynamoDB {dynamodb:.4f} + SQS {usd['sqs']:.4f}")
        lines.append(f"  {'step':<28} {'transitions':>11} {'invocations':>11} {'RRU':>7} {'WRU':>7} {'idx WRU':>7} "
                     f"{'DDB req':>7} {'SQS req':>7}")
        for step, c in r["per_step"].items():
            invocations = c.get("invocations", 0) + c.get("invocations_outside", 0)
            lines.append(f"  {step:<28} {c.get('transitions', 0):>11.2f} {invocations:>11.2f} "
                         f"{c.get('ddb_read_units', 0):>7.2f} {c.get('ddb_write_units', 0):>7.2f} "
                         f"{c.get('ddb_index_write_units', 0):>7.2f} "
                         f"{c.get('ddb_requests', 0):>7.2f} {c.get('sqs_requests', 0):>7.2f}")
        requests = ", ".join(f"{k.split('.', 1)[1]} {v:.2f}" for k, v in r["requests_per_journey"].items()
                             if k.startswith(("ddb.", "sqs.")))
        lines.append(f"  requests per journey: {requests}")
    lines.extend(cost_lines(results, _before()))
    return "\n".join(lines)


BEFORE = ROOT / "bench" / "baselines" / "journeys-before-issue11.json"
"""The journeys measured before issue 11's cost work (the same bench, the same meter)."""
LINE_KEYS = ("transitions", "invocations", "invocations_outside", "ddb_read_units", "ddb_write_units",
             "ddb_index_write_units")


def _before() -> dict[str, Any]:
    return json.loads(BEFORE.read_text()) if BEFORE.exists() else {}


def cost_line(r: dict[str, Any]) -> dict[str, float]:
    """One map's cost per journey: transitions, Lambda invocations (in the executions and outside),
    DynamoDB read, write and index write units, and $ per 1,000 journeys."""
    line = {key: float(r["per_journey"].get(key, 0.0)) for key in LINE_KEYS}
    return line | {"dollars_per_1000": float(r["dollars_per_1000_journeys"]["total"])}


def _of(line: dict[str, float] | None, key: str) -> float | None:
    return line[key] if line is not None else None


def cost_lines(results: dict[str, Any], before: dict[str, Any] | None = None) -> list[str]:
    """The cost line of every map measured, with its line before (``before``: earlier results) when known."""
    before = before or {}
    lines = [f"\ncost per journey, per map (before -> now): {'transitions':>15} {'Lambda in+out':>17} "
             f"{'RRU':>13} {'WRU':>13} {'index WRU':>13} {'$ / 1,000':>17}"]
    for map_id, r in results.items():
        now = cost_line(r)
        then = cost_line(before[map_id]) if map_id in before else None

        def cell(value: float, earlier: float | None, width: int, digits: int = 1) -> str:
            text = f"{value:.{digits}f}" if earlier is None else f"{earlier:.{digits}f} -> {value:.{digits}f}"
            return f"{text:>{width}}"

        lambdas = now["invocations"] + now["invocations_outside"]
        lambdas_then = then["invocations"] + then["invocations_outside"] if then else None
        lines.append(
            f"  {map_id:<40} {cell(now['transitions'], _of(then, 'transitions'), 15)} "
            f"{cell(lambdas, lambdas_then, 17)} "
            f"{cell(now['ddb_read_units'], _of(then, 'ddb_read_units'), 13)} "
            f"{cell(now['ddb_write_units'], _of(then, 'ddb_write_units'), 13)} "
            f"{cell(now['ddb_index_write_units'], _of(then, 'ddb_index_write_units'), 13)} "
            f"{cell(now['dollars_per_1000'], _of(then, 'dollars_per_1000'), 17, 4)}"
        )
    return lines
