"""Local throughput as the contacts table grows: journeys per second at 20, 200 and 2,000 contacts.

For each size N, a fresh local runtime (moto, virtual clock, in-process Lambdas): N contacts
submit the newsletter form (``POST /forms/newsletter`` through LocalApi) at the same virtual
instant and run through maps/welcome-leads.yaml to its end (the welcome email, two days' wait,
the engaged check, the nudge email four hours later). Timed on the wall clock, from the first
post to the last execution finished: journeys/s = N / seconds; also split into the posts (the
intake: form, consumer, router, StartExecution) and the run after them. The warm-up journey is
not counted. Every execution must have SUCCEEDED, or the bench fails. Also given: the process's
CPU seconds (journeys per CPU second do not depend on what else the machine runs) and the
1-minute load average at the end.

The target (issue 12): throughput stays flat, every size within 10% of the smallest one's
journeys/s. Costs that grow with the table would break it: a moto transaction deep-copying whole
tables, ``ByKind`` queries reading every item of the table, a Scan of the map registry per post,
a pydantic model built per post. ``bench/baselines/throughput-before-issue12.json`` holds the
numbers measured before those were fixed.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SIZES = (20, 200, 2_000)
FLAT_WITHIN = 0.10
"""The target: every size's journeys/s within 10% of the smallest size's."""
MAP, FORM = "welcome-leads", "newsletter"
BODY = {
    "email": "lead{n}@example.com",
    "first_name": "Lee",
    "age": 50,
    "phone": "+14155550134",
    "timezone": "Europe/Paris",
}
BASELINE = ROOT / "bench" / "baselines" / "throughput-before-issue12.json"


def run(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    return {"sizes": {str(n): journeys(n) for n in sizes}, "target": {"flat_within": FLAT_WITHIN}}


def journeys(contacts: int) -> dict[str, Any]:
    """``contacts`` journeys through welcome-leads on a fresh runtime: seconds and journeys/s."""
    from werkzeug.test import Client

    from automaps_local.clock import VirtualClock
    from automaps_local.http import LocalApi
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import push_content

    clock = VirtualClock(START, auto_advance=False)
    environment = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with LocalRuntime(ROOT / "template.yaml", clock=clock, environment=environment) as rt:
        push_content(rt)
        api = Client(LocalApi(rt))
        _submit(rt, api, ["warmup"])  # imports and first-use costs are not in the timing
        rt.run_until_settled(timeout=600)
        began, cpu = time.perf_counter(), time.process_time()
        _submit(rt, api, [str(n) for n in range(contacts)])
        posted = time.perf_counter()
        settled = rt.run_until_settled(timeout=3600)
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        load = os.getloadavg()[0]
        statuses: dict[str, int] = {}
        for execution in rt.executions(MAP):
            statuses[execution["status"]] = statuses.get(execution["status"], 0) + 1
    if not settled or statuses != {"SUCCEEDED": contacts + 1}:
        raise RuntimeError(f"{contacts} journeys did not all succeed: settled={settled}, {statuses}")
    seconds = ended - began
    return {
        "contacts": contacts,
        "seconds": seconds,
        "post_seconds": posted - began,
        "run_seconds": ended - posted,
        "journeys_per_second": contacts / seconds,
        "posts_per_second": contacts / (posted - began),
        "cpu_seconds": cpu,
        "journeys_per_cpu_second": contacts / cpu,
        "load_average": load,
    }


def _submit(rt: Any, api: Any, names: list[str]) -> None:
    with rt.clock.hold():
        for n in names:
            body = {k: v.format(n=n) if isinstance(v, str) else v for k, v in BODY.items()}
            answer = api.post(f"/forms/{FORM}", json=body)
            if answer.status_code != 202:
                raise RuntimeError(f"POST /forms/{FORM} answered {answer.status_code}: {answer.get_data(as_text=True)}")


def flat(result: dict[str, Any], rate: str = "journeys_per_second") -> tuple[bool, float]:
    """(every size within FLAT_WITHIN of the smallest size's rate, the worst ratio); ``rate``:
    journeys per wall second (the target) or per CPU second (what the machine's load leaves out)."""
    rates = [size[rate] for _, size in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])) if rate in size]
    worst = min(value / rates[0] for value in rates)
    return worst >= 1 - FLAT_WITHIN, worst


def report(result: dict[str, Any]) -> str:
    before = json.loads(BASELINE.read_text())["sizes"] if BASELINE.exists() else {}
    lines = [
        "\nThroughput: welcome-leads journeys per second on the local runtime, by contacts in the table",
        f"  {'contacts':>8}  {'seconds':>8}  {'posts/s':>8}  {'journeys/s':>10}  {'before':>8}  {'per CPU s':>9}  {'load':>5}",
    ]
    for key, size in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])):
        earlier = before.get(key, {}).get("journeys_per_second")
        was = f"{earlier:8.2f}" if earlier else f"{'-':>8}"
        lines.append(
            f"  {size['contacts']:>8,}  {size['seconds']:8.1f}  {size['posts_per_second']:8.2f}"
            f"  {size['journeys_per_second']:10.2f}  {was}"
            f"  {size.get('journeys_per_cpu_second', 0):9.2f}  {size.get('load_average', 0):5.1f}"
        )
    ok, worst = flat(result)
    verdict = "met" if ok else "NOT met"
    lines.append(
        f"  target: flat within {FLAT_WITHIN:.0%} of the smallest size: {verdict}"
        f" (the slowest size runs at {worst:.0%} of it)"
    )
    if all("journeys_per_cpu_second" in size for size in result["sizes"].values()):
        ok, worst = flat(result, "journeys_per_cpu_second")
        lines.append(
            f"  per CPU second (whatever else the machine runs): {'flat' if ok else 'NOT flat'}"
            f" (the slowest size at {worst:.0%} of the smallest)"
        )
    return "\n".join(lines)
