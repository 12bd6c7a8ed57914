"""In-memory stand-ins for the three services the intake consumer calls, fast enough for 100,000
enrollments (moto spends ~10 ms on one conditional UpdateItem and scans every stored message on a
ReceiveMessage). They answer the same requests as boto3's clients, in the same wire format, with
the same errors (``ClientError`` with AWS's codes), and are installed as ``automaps.aws``'s shared
clients, so the code under test (the consumer, the entry gate, the stores) runs unchanged.

* :class:`DynamoDB`: GetItem, PutItem, UpdateItem, DeleteItem on tables keyed ``pk`` / ``sk``;
  ``ConditionExpression`` (comparisons, ``AND`` / ``OR`` / ``NOT``, parentheses, ``IN``,
  ``attribute_exists``, ``attribute_not_exists``, ``begins_with``) and ``UpdateExpression``
  (``SET`` with ``+`` / ``-`` and ``if_not_exists``, ``REMOVE``, ``ADD`` of numbers), top-level
  attributes and ``#name`` / ``:value`` placeholders; every operand read from the item as it was
  before the request (as DynamoDB does). Anything else raises ``NotImplementedError``: a request
  the stand-in cannot answer exactly is refused, never guessed. Every request is one atomic step
  (the bench runs one thread at a time). It also meters request units per table and partition.
* :class:`SQS`: one standard queue and its dead-letter queue: visibility timeouts, receive counts
  (``ApproximateReceiveCount``), ``ChangeMessageVisibility`` on the latest receipt handle, the
  redrive after ``maxReceiveCount`` receives, on the injected clock.
* :class:`StepFunctions`: StartExecution (a name already started with the same input answers the
  same ARN, as for a running standard execution; another input is ``ExecutionAlreadyExists``),
  DescribeExecution; a ``before_start`` hook (the quota stand-in) may refuse.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from botocore.exceptions import ClientError

from bench.costs import item_size, read_units, write_units


class Clock(Protocol):
    t: float


def refusal(operation: str, code: str, message: str = "", status: int = 400, **extra: Any) -> ClientError:
    """The error boto3 raises for an AWS error answer."""
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    response.update(extra)
    return ClientError(response, operation)


# ---------------------------------------------------------------------- expressions
_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>(),+\-]|[#:]?[A-Za-z_][A-Za-z0-9_]*)")
_KEYWORDS = {"AND", "OR", "NOT", "IN", "BETWEEN"}
_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "begins_with", "if_not_exists", "size", "contains"}


def _tokens(text: str) -> list[str]:
    found, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match:
            raise NotImplementedError(f"expression not understood at {text[at:]!r}")
        found.append(match.group(1))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.i = _tokens(text), 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise NotImplementedError(f"expected {expected!r}, found {token!r}")
        self.i += 1
        return token

    # condition := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
    def condition(self) -> tuple:
        node = self.conjunction()
        while (self.peek() or "").upper() == "OR":
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> tuple:
        node = self.negation()
        while (self.peek() or "").upper() == "AND":
            self.take()
            node = ("and", node, self.negation())
        return node

    def negation(self) -> tuple:
        if (self.peek() or "").upper() == "NOT":
            self.take()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> tuple:
        if self.peek() == "(":
            self.take("(")
            node = self.condition()
            self.take(")")
            return node
        left = self.operand()
        if left[0] == "call" and left[1] in ("attribute_exists", "attribute_not_exists", "begins_with", "contains"):
            return left
        op = self.take()
        if op in ("=", "<>", "<", "<=", ">", ">="):
            return ("cmp", op, left, self.operand())
        if op.upper() == "IN":
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                options.append(self.operand())
            self.take(")")
            return ("in", left, options)
        raise NotImplementedError(f"operator {op!r}")

    def operand(self) -> tuple:
        token = self.take()
        if token in _FUNCTIONS and self.peek() == "(":
            self.take("(")
            args = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.operand())
            self.take(")")
            if token in ("size", "contains"):
                raise NotImplementedError(f"function {token}")
            return ("call", token, args)
        if token.startswith(":"):
            return ("value", token)
        if token.upper() in _KEYWORDS or token in "(),=<>+-":
            raise NotImplementedError(f"unexpected {token!r}")
        return ("path", token)

    def value_expression(self) -> tuple:
        left = self.operand()
        if self.peek() in ("+", "-"):
            op = self.take()
            return ("arith", op, left, self.operand())
        return left


@lru_cache(maxsize=512)
def parse_condition(text: str) -> tuple:
    parser = _Parser(text)
    node = parser.condition()
    if parser.peek() is not None:
        raise NotImplementedError(f"condition not understood after {parser.tokens[: parser.i]}")
    return node


@lru_cache(maxsize=512)
def parse_update(text: str) -> list[tuple]:
    """[("set", path, expr) | ("remove", path) | ("add", path, operand)] in order."""
    parser, clause = _Parser(text), None
    actions: list[tuple] = []
    while parser.peek() is not None:
        token = parser.peek() or ""
        if token.upper() in ("SET", "REMOVE", "ADD", "DELETE"):
            clause = parser.take().upper()
            if clause == "DELETE":
                raise NotImplementedError("DELETE clause")
        elif token == ",":
            parser.take(",")
        elif clause == "SET":
            path = parser.operand()
            parser.take("=")
            actions.append(("set", path, parser.value_expression()))
        elif clause == "REMOVE":
            actions.append(("remove", parser.operand()))
        elif clause == "ADD":
            path = parser.operand()
            actions.append(("add", path, parser.operand()))
        else:
            raise NotImplementedError(f"update expression not understood at {token!r}")
    return actions


class _Missing(Exception):
    pass


class _Evaluation:
    def __init__(self, item: dict[str, Any] | None, names: dict[str, str], values: dict[str, Any]) -> None:
        self.item, self.names, self.values = item or {}, names, values

    def name(self, node: tuple) -> str:
        if node[0] != "path":
            raise NotImplementedError(f"not an attribute: {node}")
        token = node[1]
        return self.names[token] if token.startswith("#") else token

    def value(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "value":
            return self.values[node[1]]
        if kind == "path":
            found = self.item.get(self.name(node))
            if found is None:
                raise _Missing(self.name(node))
            return found
        if kind == "call" and node[1] == "if_not_exists":
            found = self.item.get(self.name(node[2][0]))
            return found if found is not None else self.value(node[2][1])
        if kind == "arith":
            left, right = _number(self.value(node[2])), _number(self.value(node[3]))
            return {"N": str(left + right if node[1] == "+" else left - right)}
        raise NotImplementedError(f"operand {node}")

    def holds(self, node: tuple) -> bool:
        kind = node[0]
        if kind == "and":
            return self.holds(node[1]) and self.holds(node[2])
        if kind == "or":
            return self.holds(node[1]) or self.holds(node[2])
        if kind == "not":
            return not self.holds(node[1])
        if kind == "call":
            function, args = node[1], node[2]
            if function == "attribute_exists":
                return self.name(args[0]) in self.item
            if function == "attribute_not_exists":
                return self.name(args[0]) not in self.item
            if function == "begins_with":
                try:
                    subject, prefix = self.value(args[0]), self.value(args[1])
                except _Missing:
                    return False
                return "S" in subject and "S" in prefix and subject["S"].startswith(prefix["S"])
        if kind == "cmp":
            try:
                left, right = self.value(node[2]), self.value(node[3])
            except _Missing:
                return False
            return _compare(node[1], left, right)
        if kind == "in":
            try:
                left = self.value(node[1])
            except _Missing:
                return False
            return any(_compare("=", left, self.value(option)) for option in node[2])
        raise NotImplementedError(f"condition {node}")


def _number(value: dict[str, Any]) -> Decimal:
    if "N" not in value:
        raise refusal(
            "UpdateItem", "ValidationException", "An operand in the update expression has an incorrect data type"
        )
    return Decimal(value["N"])


def _compare(op: str, left: dict[str, Any], right: dict[str, Any]) -> bool:
    [(lkind, lvalue)], [(rkind, rvalue)] = left.items(), right.items()
    if lkind != rkind:
        return op == "<>"
    if lkind == "N":
        lvalue, rvalue = Decimal(lvalue), Decimal(rvalue)
    elif lkind not in ("S", "B"):
        if op in ("=", "<>"):
            return (lvalue == rvalue) == (op == "=")
        raise NotImplementedError(f"comparing {lkind}")
    return {
        "=": lvalue == rvalue,
        "<>": lvalue != rvalue,
        "<": lvalue < rvalue,
        "<=": lvalue <= rvalue,
        ">": lvalue > rvalue,
        ">=": lvalue >= rvalue,
    }[op]


# ---------------------------------------------------------------------- DynamoDB
@dataclass
class Units:
    """Request units, as on-demand bills them (bench.costs' rules), by table and by partition key."""

    read: float = 0.0
    write: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    writes_by_partition: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


class DynamoDB:
    def __init__(self, clock: Clock | None = None, latency: float = 0.0, sleep: Callable[[float], None] | None = None):
        self.tables: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
        self._sort_keys: dict[tuple[str, str], list[str]] = defaultdict(list)  # (table, pk) -> sks, sorted
        self.units = Units()
        self.latency, self._sleep = latency, sleep

    def _wait(self) -> None:
        if self.latency and self._sleep is not None:
            self._sleep(self.latency)

    @staticmethod
    def _key(key: dict[str, Any]) -> tuple[str, str]:
        if set(key) - {"pk", "sk"} or "pk" not in key:
            raise NotImplementedError(f"keys other than pk/sk: {sorted(key)}")
        return key["pk"]["S"], key.get("sk", {}).get("S", "")

    def _check(self, operation: str, item: dict[str, Any] | None, params: dict[str, Any]) -> None:
        condition = params.get("ConditionExpression")
        if not condition:
            return
        evaluation = _Evaluation(
            item, params.get("ExpressionAttributeNames", {}), params.get("ExpressionAttributeValues", {})
        )
        if not evaluation.holds(parse_condition(condition)):
            extra: dict[str, Any] = {}
            if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and item:
                extra["Item"] = dict(item)
            raise refusal(operation, "ConditionalCheckFailedException", "The conditional request failed", **extra)

    def _written(
        self, operation: str, key: tuple[str, str], before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        units: float = write_units(max(item_size(before), item_size(after)))
        self.units.write += units
        self.units.writes_by_partition[key[0]] += units
        self.units.requests[operation] += 1

    def get_item(
        self, *, TableName: str, Key: dict[str, Any], ConsistentRead: bool = False, **rest: Any
    ) -> dict[str, Any]:
        if rest:
            raise NotImplementedError(f"GetItem with {sorted(rest)}")
        self._wait()
        found = self.tables[TableName].get(self._key(Key))
        self.units.read += read_units(item_size(found), ConsistentRead)
        self.units.requests["GetItem"] += 1
        return {"Item": dict(found)} if found is not None else {}

    def put_item(self, *, TableName: str, Item: dict[str, Any], **params: Any) -> dict[str, Any]:
        self._unsupported("PutItem", params)
        self._wait()
        key = self._key({k: v for k, v in Item.items() if k in ("pk", "sk")})
        before = self.tables[TableName].get(key)
        try:
            self._check("PutItem", before, params)
        finally:
            self._written("PutItem", key, before, Item)
        self._store(TableName, key, dict(Item))
        return {}

    def delete_item(self, *, TableName: str, Key: dict[str, Any], **params: Any) -> dict[str, Any]:
        self._unsupported("DeleteItem", params)
        self._wait()
        key = self._key(Key)
        before = self.tables[TableName].get(key)
        try:
            self._check("DeleteItem", before, params)
        finally:
            self._written("DeleteItem", key, before, None)
        self._drop(TableName, key)
        return {}

    def update_item(
        self, *, TableName: str, Key: dict[str, Any], UpdateExpression: str, **params: Any
    ) -> dict[str, Any]:
        self._unsupported("UpdateItem", params)
        self._wait()
        key = self._key(Key)
        before = self.tables[TableName].get(key)
        try:
            self._check("UpdateItem", before, params)
            after = self._updated(before, Key, UpdateExpression, params)
        except ClientError:
            self._written("UpdateItem", key, before, None)
            raise
        self._written("UpdateItem", key, before, after)
        self._store(TableName, key, after)
        return {}

    def _updated(
        self, before: dict[str, Any] | None, key: dict[str, Any], expression: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        evaluation = _Evaluation(
            before, params.get("ExpressionAttributeNames", {}), params.get("ExpressionAttributeValues", {})
        )
        after = {**(before or {}), **key}
        try:
            for action in parse_update(expression):
                name = evaluation.name(action[1])
                if action[0] == "set":
                    after[name] = evaluation.value(action[2])
                elif action[0] == "remove":
                    after.pop(name, None)
                else:
                    added = evaluation.value(action[2])
                    old = (before or {}).get(name)
                    if "N" not in added:
                        raise NotImplementedError("ADD of a set")
                    after[name] = {"N": str((_number(old) if old else Decimal(0)) + _number(added))}
        except _Missing as missing:
            raise refusal(
                "UpdateItem",
                "ValidationException",
                f"The provided expression refers to an attribute that does not exist in the item: {missing}",
            ) from None
        return after

    def _store(self, table: str, key: tuple[str, str], item: dict[str, Any]) -> None:
        if key not in self.tables[table]:
            sort_keys = self._sort_keys[(table, key[0])]
            if not sort_keys or key[1] > sort_keys[-1]:
                sort_keys.append(key[1])
            else:
                bisect.insort(sort_keys, key[1])
        self.tables[table][key] = item

    def _drop(self, table: str, key: tuple[str, str]) -> None:
        if self.tables[table].pop(key, None) is not None:
            sort_keys = self._sort_keys[(table, key[0])]
            del sort_keys[bisect.bisect_left(sort_keys, key[1])]

    _KEY_CONDITION = re.compile(
        r"^\s*pk\s*=\s*(:\w+)\s*(?:AND\s+begins_with\s*\(\s*sk\s*,\s*(:\w+)\s*\))?\s*$", re.IGNORECASE
    )

    def query(
        self,
        *,
        TableName: str,
        KeyConditionExpression: str,
        ExpressionAttributeValues: dict[str, Any],
        ConsistentRead: bool = False,
        Limit: int | None = None,
        ExclusiveStartKey: dict[str, Any] | None = None,
        ProjectionExpression: str | None = None,
        **rest: Any,
    ) -> dict[str, Any]:
        """``pk = :pk [AND begins_with(sk, :prefix)]``, forward, with Limit, ExclusiveStartKey and
        a ProjectionExpression of top-level names; billed on the whole items read."""
        match = self._KEY_CONDITION.match(KeyConditionExpression)
        if match is None or rest:
            raise NotImplementedError(f"Query {KeyConditionExpression!r} with {sorted(rest)}")
        self._wait()
        pk = ExpressionAttributeValues[match.group(1)]["S"]
        prefix = ExpressionAttributeValues[match.group(2)]["S"] if match.group(2) else ""
        sort_keys, table = self._sort_keys.get((TableName, pk), []), self.tables[TableName]
        at = bisect.bisect_left(sort_keys, prefix)
        if ExclusiveStartKey:
            at = max(at, bisect.bisect_right(sort_keys, ExclusiveStartKey["sk"]["S"]))
        found: list[dict[str, Any]] = []
        while at < len(sort_keys) and sort_keys[at].startswith(prefix) and (Limit is None or len(found) < Limit):
            found.append(table[(pk, sort_keys[at])])
            at += 1
        self.units.read += read_units(sum(item_size(i) for i in found), ConsistentRead)
        self.units.requests["Query"] += 1
        answer: dict[str, Any] = {"Count": len(found), "ScannedCount": len(found)}
        if ProjectionExpression:
            names = [n.strip() for n in ProjectionExpression.split(",")]
            if any(not re.fullmatch(r"\w+", n) for n in names):
                raise NotImplementedError(f"ProjectionExpression {ProjectionExpression!r}")
            found = [{n: i[n] for n in names if n in i} for i in found]
        answer["Items"] = [dict(i) for i in found]
        if Limit is not None and len(found) == Limit and found:
            answer["LastEvaluatedKey"] = {"pk": {"S": pk}, "sk": {"S": sort_keys[at - 1]}}
        return answer

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]], **rest: Any) -> dict[str, Any]:
        """Put, Update, Delete and ConditionCheck, all or nothing; a failed condition cancels the
        transaction with its CancellationReasons. Billed twice each, cancelled or not."""
        if rest:
            raise NotImplementedError(f"TransactWriteItems with {sorted(rest)}")
        self._wait()
        planned: list[tuple[str, tuple[str, str], dict[str, Any] | None]] = []
        reasons, failed = [], False
        for entry in TransactItems:
            [(kind, part)] = entry.items()
            params = {k: v for k, v in part.items() if k not in ("TableName", "Key", "Item", "UpdateExpression")}
            self._unsupported(f"TransactWriteItems {kind}", params)
            table = part["TableName"]
            key = self._key(
                part["Key"] if "Key" in part else {k: v for k, v in part["Item"].items() if k in ("pk", "sk")}
            )
            before = self.tables[table].get(key)
            after: dict[str, Any] | None = before
            try:
                self._check("TransactWriteItems", before, params)
                if kind == "Put":
                    after = dict(part["Item"])
                elif kind == "Update":
                    after = self._updated(before, part["Key"], part["UpdateExpression"], params)
                elif kind == "Delete":
                    after = None
                elif kind != "ConditionCheck":
                    raise NotImplementedError(f"TransactWriteItems {kind}")
                reasons.append({"Code": "None"})
            except ClientError as error:
                failed = True
                code = error.response["Error"]["Code"].removesuffix("Exception")
                reasons.append({"Code": code, "Message": error.response["Error"]["Message"]})
            units = write_units(max(item_size(before), item_size(after)), True)
            self.units.write += units
            self.units.writes_by_partition[key[0]] += units
            planned.append((table, key, after) if kind != "ConditionCheck" else (table, key, before))
        self.units.requests["TransactWriteItems"] += 1
        if failed:
            raise refusal(
                "TransactWriteItems",
                "TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons for specific reasons",
                CancellationReasons=reasons,
            )
        for table, key, after in planned:
            if after is None:
                self._drop(table, key)
            else:
                self._store(table, key, after)
        return {}

    @staticmethod
    def _unsupported(operation: str, params: dict[str, Any]) -> None:
        known = {
            "ConditionExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
            "ReturnValuesOnConditionCheckFailure",
        }
        if set(params) - known or params.get("ReturnValues", "NONE") != "NONE":
            raise NotImplementedError(f"{operation} with {sorted(set(params) - known)}")

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"the in-memory DynamoDB has no {name}")


# ---------------------------------------------------------------------- SQS
@dataclass
class _Message:
    id: str
    body: str
    sent_at: float
    receipt: str = ""
    visible_at: float = 0.0
    receives: int = 0
    first_received_at: float | None = None
    version: int = 0


class SQS:
    """The EnrollQueue (``queue_url``) and its dead-letter queue (``dead_letter_url``)."""

    def __init__(
        self,
        clock: Clock,
        queue_url: str,
        dead_letter_url: str,
        visibility_timeout: float = 180,
        max_receives: int = 10,
        latency: float = 0.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.clock, self.queue_url, self.dead_letter_url = clock, queue_url, dead_letter_url
        self.visibility_timeout, self.max_receives = visibility_timeout, max_receives
        self.messages: dict[str, _Message] = {}
        self.by_receipt: dict[str, str] = {}
        self.dead: list[_Message] = []
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self.requests: Counter[str] = Counter()
        self.latency, self._sleep = latency, sleep

    def _wait(self) -> None:
        if self.latency and self._sleep is not None:
            self._sleep(self.latency)

    def _queue(self, url: str) -> None:
        if url != self.queue_url:
            raise NotImplementedError(f"queue {url}")

    def _schedule(self, message: _Message) -> None:
        message.version += 1
        heapq.heappush(self._heap, (message.visible_at, next(self._seq), message.id, message.version))

    def send_message(self, *, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        self._queue(QueueUrl)
        self.requests["SendMessage"] += 1
        return {"MessageId": self._add(MessageBody)}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._queue(QueueUrl)
        self.requests["SendMessageBatch"] += 1
        return {
            "Successful": [{"Id": e["Id"], "MessageId": self._add(e["MessageBody"])} for e in Entries],
            "Failed": [],
        }

    def _add(self, body: str) -> str:
        message_id = f"m-{next(self._seq):09d}"
        message = self.messages[message_id] = _Message(message_id, body, self.clock.t, visible_at=self.clock.t)
        self._schedule(message)
        return message_id

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int = 1, **ignored: Any) -> dict[str, Any]:
        self._queue(QueueUrl)
        self._wait()
        self.requests["ReceiveMessage"] += 1
        now, found = self.clock.t, list[_Message]()
        while self._heap and self._heap[0][0] <= now and len(found) < MaxNumberOfMessages:
            _, _, message_id, version = heapq.heappop(self._heap)
            message = self.messages.get(message_id)
            if message is None or message.version != version:
                continue
            if message.receives >= self.max_receives:  # the redrive policy: to the dead-letter queue
                self.dead.append(self.messages.pop(message_id))
                continue
            message.receives += 1
            message.first_received_at = message.first_received_at if message.first_received_at is not None else now
            self.by_receipt.pop(message.receipt, None)
            message.receipt = f"{message_id}/{message.receives}"
            self.by_receipt[message.receipt] = message_id
            message.visible_at = now + self.visibility_timeout
            self._schedule(message)
            found.append(message)
        return {"Messages": [self._wire(m) for m in found]} if found else {}

    def _wire(self, message: _Message) -> dict[str, Any]:
        return {
            "MessageId": message.id,
            "ReceiptHandle": message.receipt,
            "Body": message.body,
            "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
            "Attributes": {
                "ApproximateReceiveCount": str(message.receives),
                "SentTimestamp": str(int(message.sent_at * 1000)),
                "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000)),
                "SenderId": "bench",
            },
        }

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> dict[str, Any]:
        self._queue(QueueUrl)
        self._wait()
        self.requests["ChangeMessageVisibility"] += 1
        message_id = self.by_receipt.get(ReceiptHandle)
        if message_id is None or message_id not in self.messages:
            raise refusal("ChangeMessageVisibility", "ReceiptHandleIsInvalid", "The receipt handle has expired")
        message = self.messages[message_id]
        message.visible_at = self.clock.t + VisibilityTimeout
        self._schedule(message)
        return {}

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._queue(QueueUrl)
        self._wait()
        self.requests["DeleteMessageBatch"] += 1
        for entry in Entries:
            message_id = self.by_receipt.pop(entry["ReceiptHandle"], None)
            if message_id is not None:
                self.messages.pop(message_id, None)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def stored(self) -> int:
        return len(self.messages)

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"the in-memory SQS has no {name}")


# ---------------------------------------------------------------------- Step Functions
class StepFunctions:
    def __init__(
        self,
        before_start: Callable[[], None] | None = None,
        after_start: Callable[[str], None] | None = None,
        latency: float = 0.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.executions: dict[str, str] = {}  # ARN -> input
        self.answers: Counter[str] = Counter()  # execution name -> successful StartExecution answers
        self.before_start, self.after_start = before_start, after_start
        self.latency, self._sleep = latency, sleep

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        if self.latency and self._sleep is not None:
            self._sleep(self.latency)
        if self.before_start is not None:
            self.before_start()
        arn = stateMachineArn.replace(":stateMachine:", ":execution:") + f":{name}"
        found = self.executions.get(arn)
        if found is not None and found != input:
            raise refusal("StartExecution", "ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        self.executions[arn] = input
        self.answers[name] += 1
        if self.after_start is not None:
            self.after_start(name)
        return {"executionArn": arn, "startDate": None}

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        if executionArn not in self.executions:
            raise refusal("DescribeExecution", "ExecutionDoesNotExist", f"Execution Does Not Exist: '{executionArn}'")
        return {"executionArn": executionArn, "status": "RUNNING", "input": self.executions[executionArn]}

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"the in-memory Step Functions has no {name}")
