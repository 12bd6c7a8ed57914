"""Lead routers: which sales rep gets the next lead.

A router is content (``content/routers/<name>.yaml``, pushed as ``ROUTER#<name>``)::

    strategy: weighted            # round_robin | weighted | first_available
    reps:
      - {email: ana@example.com, name: Ana, weight: 2}
      - {email: bo@example.com, name: Bo, available: false}
      - {email: cy@example.com, name: Cy, max_open_leads: 50}

Turns are counted atomically in the contacts table (``ROUTER#<name>`` / ``COUNTER``, one
DynamoDB ``ADD`` returning the new value), so concurrent leads never share a turn: round robin
takes the turn modulo the available reps; weighted walks the turn modulo the total weight over
the reps; first_available takes the first rep in the list with room. A rep with
``max_open_leads`` has an open-leads count (``ROUTER#<name>`` / ``REP#<email>``) raised by a
conditional ``ADD`` only while under the limit; a full rep passes the lead to the next one.

A step routes a lead once per visit (``assign(..., visit=...)``): the turn, the rep's open-leads
slot and the visit's assignment (``ROUTER#<name>`` / ``LEAD#<visit key>``: rep and turn) are one
transaction, conditional on the counter as read and on the assignment's absence. A retry of the
visit finds its assignment and gets the same rep, without another turn or slot; a concurrent
lead that took the turn first (or a ``TransactionConflict``) makes us read the counter again.
"""

from __future__ import annotations

import random
import time
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automaps import aws, config
from automaps.store.content import ContentStore, to_item

KIND = "ROUTER"
_ASSIGN_ATTEMPTS = 40  # every one of 20 leads routed at once through one counter gets its turn


class Rep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str = Field(min_length=3)
    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=0, le=1000, description="share of leads under the weighted strategy")
    available: bool = True
    max_open_leads: int | None = Field(default=None, ge=1)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        from automaps.store.contacts import normalise_email

        return normalise_email(value)


class Router(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["round_robin", "weighted", "first_available"] = "round_robin"
    reps: list[Rep] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Router:
        emails = [rep.email for rep in self.reps]
        twice = sorted({email for email in emails if emails.count(email) > 1})
        if twice:
            raise ValueError(f"each rep may appear once; listed more than once: {', '.join(twice)}")
        if self.strategy == "weighted" and not any(rep.weight for rep in self.reps):
            raise ValueError("a weighted router needs at least one rep with a weight above 0")
        return self


class UnknownRouter(LookupError):
    pass


def validate(body: dict[str, Any]) -> Router:
    """The router in a content file (``automaps push`` calls this for content/routers/)."""
    return Router.model_validate(body)


def load(name: str) -> Router:
    body = ContentStore().get(KIND, name)
    if body is None:
        raise UnknownRouter(f"no lead router named {name!r} (content/routers/{name}.yaml, pushed by automaps push)")
    return Router.model_validate(body)


# ------------------------------------------------------------------ counters


def _key(name: str, sk: str) -> dict[str, Any]:
    return to_item({"pk": f"{KIND}#{name}", "sk": sk})


def next_turn(name: str) -> int:
    """The router's next turn, 1, 2, 3, ...: one atomic ADD, never the same value twice."""
    answer = aws.client("dynamodb").update_item(
        TableName=config.contacts_table(),
        Key=_key(name, "COUNTER"),
        UpdateExpression="ADD turns :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["turns"]["N"])


def take_slot(name: str, rep: Rep) -> bool:
    """Count one more open lead for ``rep``; False (and nothing counted) when the rep is full."""
    if rep.max_open_leads is None:
        return True
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(),
            Key=_key(name, f"REP#{rep.email}"),
            UpdateExpression="ADD open_leads :one",
            ConditionExpression="attribute_not_exists(open_leads) OR open_leads < :max",
            ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(rep.max_open_leads)}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def open_leads(name: str, rep_email: str) -> int:
    found = (
        aws.client("dynamodb")
        .get_item(TableName=config.contacts_table(), Key=_key(name, f"REP#{rep_email}"), ConsistentRead=True)
        .get("Item")
    )
    return int(found["open_leads"]["N"]) if found else 0


# ------------------------------------------------------------------ choosing


def candidates(router: Router, turn: int) -> list[Rep]:
    """The available reps in the order to offer them the lead of ``turn``."""
    ready = [rep for rep in router.reps if rep.available]
    if router.strategy == "first_available" or not ready:
        return ready
    if router.strategy == "weighted":
        weighted = [rep for rep in ready if rep.weight > 0]
        if not weighted:
            return []
        slot = (turn - 1) % sum(rep.weight for rep in weighted)
        for index, rep in enumerate(weighted):
            if slot < rep.weight:
                return weighted[index:] + weighted[:index]
            slot -= rep.weight
    start = (turn - 1) % len(ready)
    return ready[start:] + ready[:start]


def assign(name: str, router: Router, visit: str | None = None) -> tuple[Rep | None, int]:
    """The rep who gets the next lead (None when every available rep is full) and the turn. Given
    the step ``visit``, once per visit: a retry gets the rep (and turn) the visit was given."""
    if visit is not None:
        return _assign_once(name, router, visit)
    turn = 0 if router.strategy == "first_available" else next_turn(name)
    for rep in candidates(router, turn):
        if take_slot(name, rep):
            return rep, turn
    return None, turn


def assignment(name: str, router: Router, visit: str) -> tuple[Rep, int] | None:
    """The rep and turn the visit was given, if it was routed."""
    found = (
        aws.client("dynamodb")
        .get_item(TableName=config.contacts_table(), Key=_key(name, f"LEAD#{visit}"), ConsistentRead=True)
        .get("Item")
    )
    if not found:
        return None
    email, turn = found["rep"]["S"], int(found["turn"]["N"])
    rep = next((r for r in router.reps if r.email == email), None)
    return (rep or Rep(email=email, name=found.get("rep_name", {}).get("S") or email)), turn


def _assign_once(name: str, router: Router, visit: str) -> tuple[Rep | None, int]:
    from automaps.store.contacts import WriteConflict, is_conflict

    db, table = aws.client("dynamodb"), config.contacts_table()
    counted = router.strategy != "first_available"
    for attempt in range(_ASSIGN_ATTEMPTS):
        given = assignment(name, router, visit)
        if given is not None:
            return given
        current = turns(name) if counted else 0
        turn = current + 1 if counted else 0
        for rep in candidates(router, turn):
            items: list[dict[str, Any]] = []
            if counted:
                items.append(
                    {
                        "Update": {
                            "TableName": table,
                            "Key": _key(name, "COUNTER"),
                            "UpdateExpression": "SET turns = :turn",
                            "ConditionExpression": "attribute_not_exists(turns) OR turns = :current",
                            "ExpressionAttributeValues": {":turn": {"N": str(turn)}, ":current": {"N": str(current)}},
                        }
                    }
                )
            if rep.max_open_leads is not None:
                items.append(
                    {
                        "Update": {
                            "TableName": table,
                            "Key": _key(name, f"REP#{rep.email}"),
                            "UpdateExpression": "ADD open_leads :one",
                            "ConditionExpression": "attribute_not_exists(open_leads) OR open_leads < :max",
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":max": {"N": str(rep.max_open_leads)}},
                        }
                    }
                )
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": {
                            **_key(name, f"LEAD#{visit}"),
                            "rep": {"S": rep.email},
                            "rep_name": {"S": rep.name},
                            "turn": {"N": str(turn)},
                        },
                    }
                }
            )
            try:
                db.transact_write_items(TransactItems=items)
                return rep, turn
            except ClientError as error:
                codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException" or len(codes) != len(
                    items
                ):
                    raise
                if (
                    is_conflict(error)
                    or (counted and codes[0] == "ConditionalCheckFailed")
                    or codes[-1] == "ConditionalCheckFailed"
                ):
                    break  # another lead took this turn, another writer had an item, or this visit was routed
                if rep.max_open_leads is not None and codes[-2] == "ConditionalCheckFailed":
                    continue  # the rep is full: offer the lead of this turn to the next one
                raise
        else:
            return None, turn  # every available rep is full
        time.sleep(random.uniform(0, min(0.25, 0.005 * 2**attempt)))
    raise WriteConflict(f"the turns of lead router {name!r} kept changing; gave up after {_ASSIGN_ATTEMPTS} attempts")


def turns(name: str) -> int:
    """How many turns the router has given (its counter)."""
    found = (
        aws.client("dynamodb")
        .get_item(TableName=config.contacts_table(), Key=_key(name, "COUNTER"), ConsistentRead=True)
        .get("Item")
    )
    return int(found["turns"]["N"]) if found and "turns" in found else 0
