"""What moving a contact costs: a goal jump, a pause and unpause, a return from another map.

Each scenario runs N contacts on the local runtime (moto, virtual clock, in-process Lambdas)
through the test maps of tests/e2e/maps, once with the move and once without (the same contacts
walking the same map), and counts per contact, over every execution of the maps involved: state
transitions and Lambda invocations (from the execution histories), Lambda invocations outside
executions (the router, the intake consumer), DynamoDB read/write units (bench.costs.Meter) and
Step Functions requests (StartExecution, StopExecution). The difference is what the move costs;
``resume`` counts the transitions of the two Choices a resumed run enters first ("Resume?",
"Resume"), which is the whole of the mechanism's own overhead in Step Functions.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import costs

ROOT = Path(__file__).resolve().parent.parent
MAPS = ROOT / "tests/e2e/maps"
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
RESUME_STATES = ("Resume?", "Resume")


def _tag(contact_id: str, name: str) -> None:
    from automaps.store.contacts import ContactStore, Effect

    ContactStore().change_tags(contact_id, add=[name], effect=Effect(visit=uuid.uuid4().hex, kind="tags.changed"))


def _buy(contact_id: str) -> None:
    from automaps.store.contacts import ContactStore

    ContactStore().record(contact_id, "purchase.made", {"product": "course", "order_id": uuid.uuid4().hex[:8]})


def _until(rt: Any, moment: datetime) -> None:
    rt.run_until_settled(until=moment, timeout=600)
    if rt.clock.now() < moment:
        rt.clock.advance((moment - rt.clock.now()).total_seconds())


# each scenario: (maps to deploy, map to enroll in, what happens to each contact, with the move?)
Scenario = tuple[tuple[str, ...], str, Callable[[Any, list[str]], None]]


def _goal_jump(rt: Any, contacts: list[str]) -> None:
    _until(rt, START + timedelta(days=1))
    for contact in contacts:
        _buy(contact)  # in the 7-day wait: jump to the goal


def _goal_walk(rt: Any, contacts: list[str]) -> None:
    _until(rt, START + timedelta(days=8))  # the contacts sit at the goal now (no run)
    for contact in contacts:
        _buy(contact)  # achieved at the goal: on from there


def _paused(rt: Any, contacts: list[str]) -> None:
    _until(rt, START + timedelta(days=1))
    for contact in contacts:
        _tag(contact, "hold")
    _until(rt, START + timedelta(days=3))
    for contact in contacts:
        _tag(contact, "resume")


def _nothing(rt: Any, contacts: list[str]) -> None:
    return None


SCENARIOS: dict[str, tuple[Scenario, Scenario]] = {
    "goal jump (buys in the 7-day wait) vs reaching the goal and buying there": (
        (("goal-journey",), "goal-journey", _goal_jump),
        (("goal-journey",), "goal-journey", _goal_walk),
    ),
    "pause on day 1 + unpause on day 3 vs no pause": (
        (("pause-target", "pauser", "unpauser"), "pause-target", _paused),
        (("pause-target", "pauser", "unpauser"), "pause-target", _nothing),
    ),
    "add_to_automation with return (and the return) vs the other map alone": (
        (("pause-target", "caller-journey"), "caller-journey", _nothing),
        (("pause-target", "caller-journey"), "pause-target", _nothing),
    ),
}


def _measure(scenario: Scenario, contacts: int) -> dict[str, float]:
    from automaps import aws
    from automaps.journeys import enrollment
    from automaps.store.contacts import ContactStore
    from automaps_local.clock import VirtualClock
    from automaps_local.runtime import LocalRuntime
    from automaps_local.stack import ACCOUNT, REGION

    deployed, entered, happen = scenario
    sfn: Counter = Counter()
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as rt:
        for name in deployed:
            rt.stack.deploy_map(MAPS / f"{name}.yaml")
        meter = costs.Meter(rt, ACCOUNT, REGION).install()
        aws.client("stepfunctions").meta.events.register(
            "after-call.states", lambda model, **_: sfn.update([model.name])
        )
        record = enrollment.map_record(entered)
        assert record is not None
        ids = []
        for n in range(contacts):
            contact, _ = ContactStore().upsert_by_email(f"mover{n}@example.com", {})
            enrollment.enroll(record, contact.id, {"type": "bench"}, f"bench-{n}")
            ids.append(contact.id)
        happen(rt, ids)
        rt.run_until_settled(timeout=600)
        totals: Counter = Counter()
        for map_id in deployed:
            for execution in rt.executions(map_id):
                for event in rt.history(execution["arn"]):
                    entered_state = event.get("stateEnteredEventDetails")
                    if entered_state:
                        totals["transitions"] += 1
                        if entered_state["name"] in RESUME_STATES:
                            totals["resume"] += 1
                    elif event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"):
                        totals["invocations"] += 1
        for label, counts in meter.counts.items():
            totals["ddb_read_units"] += counts["ddb_read_units"]
            totals["ddb_write_units"] += counts["ddb_write_units"]
            if not label.startswith("step:"):
                totals["invocations_outside"] += counts["invocations"]
        totals["sfn_requests"] = sfn["StartExecution"] + sfn["StopExecution"]
    return {key: value / contacts for key, value in totals.items()}


KEYS = ("transitions", "resume", "invocations", "invocations_outside", "ddb_read_units", "ddb_write_units",
        "sfn_requests")


def run(contacts: int = 10) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for title, (with_move, without) in SCENARIOS.items():
        moved, walked = _measure(with_move, contacts), _measure(without, contacts)
        results[title] = {
            "with": moved,
            "without": walked,
            "difference": {key: moved.get(key, 0) - walked.get(key, 0) for key in KEYS},
        }
    return results


def report(results: dict[str, Any]) -> str:
    lines = ["\nmoves, per contact (every execution of the maps involved):",
             f"  {'':<12}" + "".join(f"{key:>20}" for key in KEYS)]
    for title, r in results.items():
        lines.append(f"  {title}")
        for which in ("with", "without", "difference"):
            lines.append(f"  {which:<12}" + "".join(f"{r[which].get(key, 0):>20.2f}" for key in KEYS))
    return "\n".join(lines)

