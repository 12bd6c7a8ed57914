"""A 09:00 wake-up of a whole timezone (issue 10's benchmark): 100,000 contacts in New York whose
wait "2 days at 09:00" ends at the same moment, each then sending one email through SES.

The model, on a virtual clock (no real time passes, no AWS):

* **wake-ups** come from the real wait resolution: ``automaps.maps.resolve.resolve`` gives 09:00
  New York and ``automaps.journeys.journey.spread_of`` (the function resolve_wait calls) moves each
  contact by its hashed offset in the map's spread window (0: none);
* **Step Functions transitions** pass a token bucket of 5,000 refilled at 1,500 a second (us-east-1's
  StateTransition quota for Standard workflows; a throttled transition waits for a token). A send
  costs 1 transition (its Task; a Lambda retry 1 more); a deferral 3 more (the Task's Catch to Pass
  "M deferred", the Wait "M deferred until", the Task's second visit);
* **Lambda** runs each attempt for ``SEND_SECONDS`` (0.25 s assumed: load the contact, the
  idempotency record, the hold and lane reads and writes, the effect marker, SES SendEmail, the
  history entry); an attempt that finds 1,000 invocations running (the account's default concurrency)
  is throttled and retried as the compiled Retry says (2 s, backoff 2, full jitter, 5 retries; the
  sixth throttle fails the step), with a seeded random jitter;
* **the send rate** is the real slot logic (``automaps.channels.rates.pace``) against an in-memory
  stand-in of its DynamoDB items (the exact requests rates.py makes; one caller at a time, so no
  conditional write ever fails here: under real concurrency a contended lane costs a re-read and a
  retried write, see docs/architecture.md), which also counts the request units: the deferral's
  return visit claims the slot it was given.

Reported for each rate and spread window: peak Lambda concurrency (the most invocations running at
once), peak sends a second against the rate, the time from 09:00 to the last send, deferrals and
what they cost in transitions (at $0.025 per 1,000), throttled and failed invocations.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

TIMEZONE = "America/New_York"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # Monday 03:00 New York: "2 days at 09:00" is Wednesday 09:00
WAIT = {"days": 2, "at": "09:00"}
SEND_SECONDS = 0.25
LAMBDA_CONCURRENCY = 1_000
TRANSITIONS_BUCKET, TRANSITIONS_REFILL = 5_000, 1_500.0
TRANSITION_PRICE = 0.025 / 1_000
SEND_TRANSITIONS, DEFERRAL_TRANSITIONS = 1, 3
RETRY_INTERVAL, RETRY_BACKOFF, RETRIES = 2.0, 2.0, 5
SCENARIOS = ((14, 0), (14, 900), (14, 10_800), (200, 0), (200, 900))
"""(SES send rate a second, spread window in seconds): 14 is SES's usual starting production rate;
200 an account that asked for more. 900 s is a 15-minute spread; 3 hours spreads 100,000 wake-ups
at 9 a second, two thirds of 14 (100,000 / 14 is 2 hours of sends)."""


def run(contacts: int = 100_000) -> dict[str, Any]:
    """Each scenario's numbers, and how long the model took."""
    began = time.monotonic()
    wakes = {window: _wake_ups(contacts, window) for window in sorted({window for _, window in SCENARIOS})}
    rows = [_scenario(wakes[window], rate, window) for rate, window in SCENARIOS]
    return {
        "contacts": contacts,
        "timezone": TIMEZONE,
        "wait": "2 days at 09:00",
        "send_seconds": SEND_SECONDS,
        "lambda_concurrency": LAMBDA_CONCURRENCY,
        "transitions_bucket": [TRANSITIONS_BUCKET, TRANSITIONS_REFILL],
        "scenarios": rows,
        "model_seconds": round(time.monotonic() - began, 1),
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        (
            f"09:00 wake-up: {result['contacts']:,} contacts in {result['timezone']}, wait {result['wait']}, "
            f"one SES email each; a send invocation {result['send_seconds']} s, Lambda concurrency "
            f"{result['lambda_concurrency']:,}, transitions bucket {result['transitions_bucket'][0]:,} "
            f"refill {result['transitions_bucket'][1]:,.0f}/s (model {result['model_seconds']} s)"
        ),
        (
            f"{'rate/s':>6} {'spread':>7} {'peak Lambdas':>12} {'peak sends/s':>12} {'last send':>10} "
            f"{'deferrals':>10} {'transitions':>12} {'cost $':>7} {'throttled':>9} {'failed':>6} {'RCU+WCU/send':>12}"
        ),
    ]
    for row in result["scenarios"]:
        lines.append(
            f"{row['rate']:>6} {_minutes(row['spread_seconds']):>7} {row['peak_concurrency']:>12,} "
            f"{row['peak_sends_per_second']:>12,} {_minutes(row['last_send_seconds']):>10} "
            f"{row['deferrals']:>10,} {row['transitions']:>12,} {row['cost_usd']:>7.2f} "
            f"{row['throttled']:>9,} {row['failed']:>6,} "
            f"{row['read_units_per_send']:>5.2f}+{row['write_units_per_send']:<6.2f}"
        )
    over = sum(row["seconds_over_rate"] for row in result["scenarios"])
    lines.append(
        "last send: from 09:00 to the last email; deferrals: sends the rate moved to a later second "
        "(3 transitions each; a return delayed past its second is deferred again); transitions: every "
        f"send's 1, the deferrals' and the Lambda retries'; seconds with more sends than the rate: {over}."
    )
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


# ------------------------------------------------------------------ one scenario


def _scenario(wakes: list[float], rate: int, window: int) -> dict[str, Any]:
    from automaps.channels import rates

    nine = min(wakes)
    table = _Table()
    saved = rates._db, rates._table
    rates._db, rates._table = (lambda: table), (lambda: _Table.NAME)  # type: ignore[assignment]
    try:
        return _simulate(wakes, nine, rate, window, table)
    finally:
        rates._db, rates._table = saved  # type: ignore[assignment]


def _wake_ups(contacts: int, window: int) -> list[float]:
    """Each contact's wake-up (epoch seconds) from the real resolution and spread."""
    from automaps.journeys.journey import WaitRequest, spread_of
    from automaps.maps.resolve import resolve
    from automaps.timing import WaitSpec

    spec = WaitSpec.model_validate(WAIT)
    moment = resolve(spec, {}, TIMEZONE, TIMEZONE, NOW).at
    found = []
    for n in range(contacts):
        request = WaitRequest(
            contact_id=f"c_{n:07d}", map_id="newsletter", step_id="two-days-at-nine", wait=WAIT, spread=window
        )
        found.append(spread_of(request, spec, moment, TIMEZONE, NOW).timestamp())
    return found


def _simulate(wakes: list[float], nine: float, rate: int, window: int, table: _Table) -> dict[str, Any]:
    from automaps.channels import rates

    jitter = random.Random(10)
    bucket = _Bucket(TRANSITIONS_BUCKET, TRANSITIONS_REFILL, nine)
    running: list[float] = []  # end times of the invocations running
    peak = throttled = failed = deferrals = transitions = 0
    sends: Counter[int] = Counter()
    last = nine
    # (time, order, contact, attempt, visit): a Task attempt that is due
    due: list[tuple[float, int, int, int, int]] = [(at, n, n, 0, 0) for n, at in enumerate(wakes)]
    heapq.heapify(due)
    order = len(wakes)
    while due:
        at, _, contact, attempt, visit = heapq.heappop(due)
        at = bucket.take(at)  # the Task's transition (or its retry's)
        transitions += 1
        while running and running[0] <= at:
            heapq.heappop(running)
        if len(running) >= LAMBDA_CONCURRENCY:  # Lambda.TooManyRequestsException: the Task's Retry
            throttled += 1
            if attempt >= RETRIES:
                failed += 1
                continue
            backoff = RETRY_INTERVAL * RETRY_BACKOFF**attempt
            order += 1
            heapq.heappush(due, (at + jitter.uniform(0, backoff), order, contact, attempt + 1, visit))
            continue
        heapq.heappush(running, at + SEND_SECONDS)
        peak = max(peak, len(running))
        when = datetime.fromtimestamp(at, tz=UTC)
        holder = rates.holder(f"exec-{contact}", "reminder")
        slot = rates.pace("ses", rate, holder, f"visit-{contact}-{visit}", when)
        if slot.now:
            second = int(at)
            sends[second] += 1
            last = max(last, at + SEND_SECONDS)
            continue
        deferrals += 1
        transitions += 2  # the Catch's Pass "M deferred" and Wait "M deferred until"; its end visits the Task again
        order += 1
        heapq.heappush(due, (slot.second.timestamp(), order, contact, 0, visit + 1))
    send_count = sum(sends.values())
    return {
        "rate": rate,
        "spread_seconds": window,
        "sent": send_count,
        "peak_concurrency": peak,
        "peak_sends_per_second": max(sends.values()) if sends else 0,
        "seconds_over_rate": sum(1 for count in sends.values() if count > rate),
        "last_send_seconds": round(last - nine, 1),
        "deferrals": deferrals,
        "transitions": transitions,
        "transitions_per_contact": round(transitions / len(wakes), 2),
        "cost_usd": round(transitions * TRANSITION_PRICE, 2),
        "deferral_cost_usd": round(deferrals * DEFERRAL_TRANSITIONS * TRANSITION_PRICE, 2),
        "throttled": throttled,
        "failed": failed,
        "read_units_per_send": round(table.read_units / max(send_count, 1), 2),
        "write_units_per_send": round(table.write_units / max(send_count, 1), 2),
    }


class _Bucket:
    """Step Functions' transitions token bucket: a transition waits for a token."""

    def __init__(self, size: int, refill: float, start: float) -> None:
        self.size, self.refill, self.tokens, self.at = float(size), refill, float(size), start

    def take(self, at: float) -> float:
        at = max(at, self.at)
        self.tokens = min(self.size, self.tokens + (at - self.at) * self.refill)
        self.at = at
        if self.tokens < 1:
            wait = (1 - self.tokens) / self.refill
            self.at, self.tokens = at + wait, 1.0
            at += wait
        self.tokens -= 1
        return at


class _Table:
    """The DynamoDB requests automaps.channels.rates makes, on a dict: the exact expressions it
    writes (anything else raises), with the request units DynamoDB would bill (items < 1 KB: a
    strongly consistent read 1 unit, a write 1 unit, a failed conditional write too)."""

    NAME = "bench-idempotency"

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.read_units = 0.0
        self.write_units = 0.0

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool = False) -> dict[str, Any]:
        self.read_units += 1 if ConsistentRead else 0.5
        found = self.items.get(Key["id"]["S"])
        return {"Item": dict(found)} if found else {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, request)] = RequestItems.items()
        self.read_units += len(request["Keys"]) * (1 if request.get("ConsistentRead") else 0.5)
        found = [dict(self.items[key["id"]["S"]]) for key in request["Keys"] if key["id"]["S"] in self.items]
        return {"Responses": {table: found}}

    def put_item(self, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:
        self.write_units += 1
        self.items[Item["id"]["S"]] = dict(Item)
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.write_units += 1
        key = request["Key"]["id"]["S"]
        item = self.items.get(key)
        values = request.get("ExpressionAttributeValues", {})
        condition = request.get("ConditionExpression")
        if condition is not None and not self._holds(condition, item, values):
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}, "UpdateItem")
        item = self.items.setdefault(key, {"id": {"S": key}})
        expression = request["UpdateExpression"]
        if expression == "SET used_by = :visit":
            item["used_by"] = values[":visit"]
        elif expression == "SET m = :next, expiration = :ttl":
            item["m"], item["expiration"] = values[":next"], values[":ttl"]
        elif expression == "ADD m :one SET expiration = :ttl":
            item["m"] = {"N": str(int(item.get("m", {"N": "0"})["N"]) + int(values[":one"]["N"]))}
            item["expiration"] = values[":ttl"]
        else:
            raise NotImplementedError(f"the bench's table does not know {expression!r}")
        return {"Attributes": {"m": item["m"]}} if request.get("ReturnValues") == "UPDATED_NEW" else {}

    @staticmethod
    def _holds(condition: str, item: dict[str, Any] | None, values: dict[str, Any]) -> bool:
        m = int(item["m"]["N"]) if item and "m" in item else None
        if condition == "attribute_exists(id) AND (attribute_not_exists(used_by) OR used_by = :visit)":
            return item is not None and item.get("used_by", values[":visit"]) == values[":visit"]
        if condition == "attribute_not_exists(m)":
            return m is None
        if condition == "m = :seen":
            return m == int(values[":seen"]["N"])
        if condition == "attribute_not_exists(m) OR m < :first":
            return m is None or m < int(values[":first"]["N"])
        raise NotImplementedError(f"the bench's table does not know {condition!r}")


if __name__ == "__main__":  # python -m bench.wakeup [contacts]
    import sys

    print(report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
