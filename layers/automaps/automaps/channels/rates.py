"""Channel send rates, honoured by pacing: SES's maximum send rate (messages a second per account
and region, ``GetSendQuota``'s MaxSendRate) and an SMS sending identity's messages per second.

A send beyond the rate is not tried (and throttled, and retried): it takes a **slot**, a second in
which it may go out, and is deferred to that second through the mechanism quiet hours and caps use
(automaps.channels.limits: outcome ``deferred``, ``step.deferred`` with the reason, then
``Deferred`` raised: the send Task's Catch waits and visits the same Task again). The rate is shared by every
Lambda that sends, so the slots live in DynamoDB (the idempotency table: short-lived items with a
TTL, no stream), never in one hot item:

* **the slot sequence.** Time is cut into seconds; second ``k`` (epoch) owns the slot numbers
  ``g`` with ``floor(g / R) == k`` (``R`` the rate: ``R`` slots a second; a rate below 1 gives a
  slot every ``1/R`` seconds; a fractional rate above 1 counts as its whole part);
* **lanes.** The slot numbers are dealt to ``L`` lanes (``L = min(16, ceil(R))``): lane ``i``
  owns ``g = m * L + i``. One item per lane (``rate#<channel>@<rate>#lane#<i>``) holds ``m``, the next
  multiple it hands out (an idle lane's next slot is now: the first multiple at or after the
  current second's first slot). Every slot number is handed out once, by a conditional write, so
  no second ever gets more than its slots however many Lambdas ask at once, and the writes of a
  burst spread over ``L`` items;
* **two choices.** A visit reads two lanes (one strongly consistent BatchGetItem) and takes the
  sooner one's next multiple with ``SET m = :take + 1 IF m = :seen``, so lanes fill evenly even
  for ten contacts; a lane contended 6 times in a row is taken regardless: ``SET m`` if it is
  idle, else ``ADD m 1``, whose answer is the ticket;
* **a hold per visit.** The slot taken is kept in a hold item keyed on the execution and the
  state (``rate#hold#<digest>``): a retried attempt of the same visit finds it and gets the same
  answer (no second slot); the visit after the deferral's Wait (a new visit of the same state)
  claims it and sends at once, without competing with the arrivals of that second. The deferral
  ends at the start of the slot's second, so a Wait that ends up to a second late still sends in
  it; a visit back after its second (its Task throttled and retried, quiet hours in between) or a
  hold claimed by an earlier visit (a loop) takes a new slot, since the second it would land in
  may be full. A slot taken by a crashed attempt before its hold was written, or given up by a
  late visit, stays unused: the channel then sends under its rate, never over it.

Costs per paced send (see docs/architecture.md): a send at once, 1 strongly consistent GetItem
(the hold), 1 BatchGetItem of two lanes (none with one lane), 1 lane write (more under
contention, at most 6 conditional and 2 unconditional) and the hold's PutItem; a deferred send adds, on its return, the hold's GetItem and one
UpdateItem (the claim), and the deferral's Step Functions transitions (Choice, Wait, the Task's
second visit: 4 more transitions).

The rates are deployment settings (``EMAIL_SEND_RATE``, ``SMS_SEND_RATE``: automaps.config);
0 or unset: no pacing. A changed rate starts new lanes from now: the sends already deferred keep
their seconds, so until that backlog is sent the old and the new rate add up.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from automaps import aws, config

logger = Logger()

PREFIX = "rate#"
MAX_LANES = 16
"""Lane items per channel: a burst of reservations spreads its writes over this many items."""
HOLD_TTL = 2 * 86400
"""Seconds a hold outlives its second (DynamoDB's TTL deletes it)."""
TRIES = 6
"""Conditional takes of the sooner lane before a visit takes its lane's next ticket regardless."""
LANE_TTL = 30 * 86400
"""Seconds a lane item outlives its last write: longer than any backlog (1,000,000 texts at 1 a
second take 11.6 days), so a lane whose next slot is still ahead is never deleted."""


@dataclass(frozen=True)
class Slot:
    """Where a visit's send goes: ``second`` (the start of the second its slot is in) and whether
    that is now (``now``: send at once) or later (deferred until ``second``)."""

    second: datetime
    now: bool
    lane: int | None = None
    """The lane the slot came from (None: an existing hold's)."""


def effective_rate(rate: float) -> Fraction:
    """The rate the slots follow: a rate of 1 or more counts as its whole part (14.5 a second
    sends 14 in every second); a rate below 1 as itself (0.5: one send every 2 seconds)."""
    if rate >= 1:
        return Fraction(math.floor(rate))
    return Fraction(str(rate)).limit_denominator(1000)


def lanes_for(rate: Fraction) -> int:
    """How many lane items a rate's slots are dealt to (1 for a rate of 1 or less, up to 16)."""
    return max(1, min(MAX_LANES, math.ceil(rate)))


def second_of(slot: int, rate: Fraction) -> int:
    """The epoch second slot number ``slot`` belongs to."""
    return math.floor(slot / rate)


def first_slot(second: int, rate: Fraction) -> int:
    """The first slot number of epoch ``second``."""
    return math.ceil(second * rate)


def first_multiple(lane: int, lanes: int, slot: int) -> int:
    """The smallest ``m`` with ``m * lanes + lane >= slot``: lane ``lane``'s first slot from ``slot``."""
    return max(0, -((lane - slot) // lanes))


def holder(execution_id: str, state_name: str) -> str:
    """The hold's key for the visits of one state of one execution (the deferring visit and the
    visit after its Wait share it)."""
    return hashlib.sha256(f"{execution_id}|{state_name}".encode()).hexdigest()[:32]


def pace(channel: str, rate: float, holder_key: str, visit: str, now: datetime) -> Slot:
    """The slot of this visit's send on ``channel`` at ``rate`` a second (see the module)."""
    exact = effective_rate(rate)
    now_second = math.floor(now.timestamp())
    hold = _get_hold(holder_key)
    if hold is not None:
        second, used = int(hold["second"]["N"]), hold.get("used_by", {}).get("S")
        if used == visit:  # a retry of the visit that sends: the effect markers make it once
            return Slot(_at(second), now=True)
        if used is None and second > now_second:  # a retry of the deferring visit (or an early wake): same answer
            return Slot(_at(second), now=False)
        if used is None and second == now_second and _claim(holder_key, visit):  # back in its second: send
            return Slot(_at(second), now=True)
        # claimed by an earlier visit (a loop), or back after its second (a throttled or late
        # return): its second may be full by now, so it takes a new slot; the held one goes unused
    slot, lane = _reserve(f"{channel}@{exact}", exact, holder_key, now_second)  # a new rate: new lanes
    second = second_of(slot, exact)
    at_once = second <= now_second
    _put_hold(holder_key, second, visit, used=at_once)
    return Slot(_at(second), now=at_once, lane=lane)


# ------------------------------------------------------------------ DynamoDB


def _table() -> str:
    return config.idempotency_table()


def _db() -> Any:
    return aws.client("dynamodb")


def _hold_id(holder_key: str) -> dict[str, Any]:
    return {"id": {"S": f"{PREFIX}hold#{holder_key}"}}


def _lane_id(channel: str, lane: int) -> dict[str, Any]:
    return {"id": {"S": f"{PREFIX}{channel}#lane#{lane:02d}"}}


def _get_hold(holder_key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        _db().get_item(TableName=_table(), Key=_hold_id(holder_key), ConsistentRead=True).get("Item")
    )
    return found


def _put_hold(holder_key: str, second: int, visit: str, *, used: bool) -> None:
    item: dict[str, Any] = {
        **_hold_id(holder_key),
        "second": {"N": str(second)},
        "visit": {"S": visit},
        "expiration": {"N": str(second + HOLD_TTL)},
    }
    if used:
        item["used_by"] = {"S": visit}
    _db().put_item(TableName=_table(), Item=item)


def _claim(holder_key: str, visit: str) -> bool:
    try:
        _db().update_item(
            TableName=_table(),
            Key=_hold_id(holder_key),
            UpdateExpression="SET used_by = :visit",
            ConditionExpression="attribute_exists(id) AND (attribute_not_exists(used_by) OR used_by = :visit)",
            ExpressionAttributeValues={":visit": {"S": visit}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _reserve(channel: str, rate: Fraction, holder_key: str, now_second: int) -> tuple[int, int]:
    """Take the next free slot number from now: (slot, lane)."""
    lanes = lanes_for(rate)
    start = first_slot(now_second, rate)
    lane = 0
    for _ in range(TRIES if lanes > 1 else 0):  # the sooner of two lanes, taken only if still as read
        lane, seen = _sooner_lane(channel, lanes, holder_key, start)
        take = max(seen or 0, first_multiple(lane, lanes, start))
        if _take_as_seen(channel, lane, seen, take, now_second):
            return take * lanes + lane, lane
    return _take(channel, lane, lanes, start, now_second), lane


def _take_as_seen(channel: str, lane: int, seen: int | None, take: int, now_second: int) -> bool:
    """Hand out multiple ``take`` of ``lane`` if the lane still stands at ``seen`` (None: no item)."""
    condition = "attribute_not_exists(m)" if seen is None else "m = :seen"
    values = {":next": {"N": str(take + 1)}, ":ttl": {"N": str(now_second + LANE_TTL)}}
    if seen is not None:
        values[":seen"] = {"N": str(seen)}
    try:
        _db().update_item(
            TableName=_table(),
            Key=_lane_id(channel, lane),
            UpdateExpression="SET m = :next, expiration = :ttl",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _take(channel: str, lane: int, lanes: int, start: int, now_second: int) -> int:
    """Hand out ``lane``'s next multiple whatever it stands at (one lane, or a lane contended past
    :data:`TRIES`): an idle lane moves up to now, a busy one gives its next ticket. Returns the slot."""
    first = first_multiple(lane, lanes, start)
    ttl = {":ttl": {"N": str(now_second + LANE_TTL)}}
    try:  # an idle lane (its next slot already past) moves up to now and hands out its first slot
        _db().update_item(
            TableName=_table(),
            Key=_lane_id(channel, lane),
            UpdateExpression="SET m = :next, expiration = :ttl",
            ConditionExpression="attribute_not_exists(m) OR m < :first",
            ExpressionAttributeValues={":next": {"N": str(first + 1)}, ":first": {"N": str(first)}, **ttl},
        )
        return first * lanes + lane
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    answer = _db().update_item(  # a busy lane: the next ticket (m only grows: never before now)
        TableName=_table(),
        Key=_lane_id(channel, lane),
        UpdateExpression="ADD m :one SET expiration = :ttl",
        ExpressionAttributeValues={":one": {"N": "1"}, **ttl},
        ReturnValues="UPDATED_NEW",
    )
    return (int(answer["Attributes"]["m"]["N"]) - 1) * lanes + lane


def _sooner_lane(channel: str, lanes: int, holder_key: str, start: int) -> tuple[int, int | None]:
    """The sooner of two lanes picked by the holder's digest, and the multiple it stands at (None:
    no item yet), from one strongly consistent read of both."""
    digest = int(holder_key[:8], 16)
    one = digest % lanes
    two = (one + 1 + (digest >> 8) % (lanes - 1)) % lanes
    keys = [_lane_id(channel, one), _lane_id(channel, two)]
    answer = _db().batch_get_item(RequestItems={_table(): {"Keys": keys, "ConsistentRead": True}})
    stands = {item["id"]["S"]: int(item["m"]["N"]) for item in answer.get("Responses", {}).get(_table(), [])}

    def seen(lane: int) -> int | None:
        return stands.get(_lane_id(channel, lane)["id"]["S"])

    def soonest(lane: int) -> int:
        return max(seen(lane) or 0, first_multiple(lane, lanes, start)) * lanes + lane

    lane = min((one, two), key=soonest)
    return lane, seen(lane)


def _at(second: int) -> datetime:
    return datetime.fromtimestamp(second, tz=UTC)


def rate_words(rate: float) -> str:
    """``14 a second`` / ``1 every 2 seconds``."""
    exact = effective_rate(rate)
    if exact >= 1:
        return f"{int(exact)} a second"
    every = 1 / exact
    return f"1 every {float(every):g} seconds"
