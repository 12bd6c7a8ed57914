"""Tasks for team members (``assign_task``), stored in the contacts table, listed by assignee.

Items (under the contact, so a contact's tasks are one query away)::

    pk CONTACT#<contact id>   sk TASK#<task id>
       task_id, contact_id, assignee, title, description, priority, status, due_at, created_at,
       completed_at, completed_by, note, map_id, step_id,
       gsi1pk ASSIGNEE#<assignee>      gsi1sk <status>#<time>#<task id>

The ``GSI1`` index (``gsi1pk``/``gsi1sk``, a general-purpose index other item kinds may share
with their own ``gsi1pk`` prefixes) answers "open tasks of sam@example.com, soonest due first"
with one Query: ``gsi1pk = ASSIGNEE#sam@example.com AND begins_with(gsi1sk, "open#")``. An open
task sorts by its due time, a done task by its completion time.

A task id names its contact (``<contact id>.t<20 hex>``), so completing a task by id is a
GetItem, not a search. Completing is idempotent: the status change and the ``task.completed``
history entry are one transaction, conditional on the task being open; a transaction cancelled
by a conflict is read again and retried (``COMPLETE_ATTEMPTS``), then a ``WriteConflict`` (the
admin API answers 409).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from automaps import aws, clock, config
from automaps.store.contacts import (
    Effect,
    HistoryEntry,
    WriteConflict,
    _backoff,
    _cancellation_codes,
    _history_item,
    effect_refused,
    effect_writes,
    is_conflict,
    mask_email,
)
from automaps.store.content import from_item, to_item

INDEX = "GSI1"
TASK_PREFIX = "TASK#"
ASSIGNEE_PREFIX = "ASSIGNEE#"
STATUSES = ("open", "done")
_TASK_ID = re.compile(r"^(?P<contact>[A-Za-z0-9_-]{1,100})\.t[0-9a-f]{20}$")
MAX_PAGE = 500
COMPLETE_ATTEMPTS = 5  # reads and conditional writes of one completion racing other writers
_RETRIED_CANCELLATIONS = frozenset({"None", "ConditionalCheckFailed", "TransactionConflict"})


class TaskNotFound(LookupError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task {task_id!r}")


class BadCursor(ValueError):
    pass


class Task(BaseModel):
    task_id: str
    contact_id: str
    assignee: str
    title: str
    description: str = ""
    priority: Literal["low", "normal", "high"] = "normal"
    status: Literal["open", "done"] = "open"
    due_at: datetime
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    note: str | None = None
    map_id: str | None = None
    step_id: str | None = None

    def public(self) -> dict[str, Any]:
        """As the admin API shows it (times as ``...Z``)."""
        plain = self.model_dump(mode="json", exclude_none=True)
        for key in ("due_at", "created_at", "completed_at"):
            if getattr(self, key) is not None:
                plain[key] = clock.iso(getattr(self, key))
        return plain


def task_id_for(contact_id: str, visit_key: str) -> str:
    """The task of one visit of an assign_task step: the same on every retry of that visit."""
    return f"{contact_id}.t{visit_key[:20]}"


def contact_of(task_id: str) -> str:
    found = _TASK_ID.match(task_id or "")
    if not found:
        raise TaskNotFound(task_id)
    return found.group("contact")


def _sortable(at: datetime) -> str:
    return clock.iso(at.replace(microsecond=0))


def _key(contact_id: str, task_id: str) -> dict[str, Any]:
    return to_item({"pk": f"CONTACT#{contact_id}", "sk": f"{TASK_PREFIX}{task_id}"})


def _index_keys(task: Task) -> dict[str, str]:
    when = task.completed_at if task.status == "done" and task.completed_at else task.due_at
    return {"gsi1pk": f"{ASSIGNEE_PREFIX}{task.assignee}", "gsi1sk": f"{task.status}#{_sortable(when)}#{task.task_id}"}


def _item(task: Task) -> dict[str, Any]:
    plain = {k: v for k, v in task.model_dump(mode="json").items() if v is not None and v != ""}
    for key in ("due_at", "created_at", "completed_at"):
        if getattr(task, key) is not None:
            plain[key] = clock.iso(getattr(task, key))
    return to_item(
        {"pk": f"CONTACT#{task.contact_id}", "sk": f"{TASK_PREFIX}{task.task_id}", **plain, **_index_keys(task)}
    )


def _task(item: dict[str, Any]) -> Task:
    return Task.model_validate({k: v for k, v in from_item(item).items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")})


BAD_CURSOR = "the 'next' cursor is not one this API gave out"
TASK_KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """A page's LastEvaluatedKey as the API's opaque ``next`` cursor (None at the end)."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_item(key), sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, names: Collection[str] = TASK_KEYS) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor stands for (its attribute names must be ``names``)."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise BadCursor(BAD_CURSOR) from error
    if not isinstance(plain, dict) or set(plain) != set(names) or not all(isinstance(v, str) for v in plain.values()):
        raise BadCursor(BAD_CURSOR)
    return to_item(plain)


class TaskStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def create(self, task: Task, effect: Effect | None = None, detail: dict[str, Any] | None = None) -> bool:
        """Store a new task; False when a task with this id already exists. With ``effect``, the
        task is recorded (``detail``) in the same transaction."""
        put = {"TableName": self.table, "Item": _item(task), "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            if effect is None:
                self._db.put_item(**put)
            else:
                self._db.transact_write_items(
                    TransactItems=[
                        {"Put": put},
                        *effect_writes(self.table, task.contact_id, effect.visit, effect.entry(detail or {})),
                    ]
                )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if is_conflict(error):
                raise WriteConflict(f"task {task.task_id} met a concurrent write") from None
            if code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException"
                and [r.get("Code") for r in error.response.get("CancellationReasons", [])][:1]
                == ["ConditionalCheckFailed"]
            ):
                return False
            if code == "TransactionCanceledException":
                effect_refused(error, 2)
            raise
        return True

    def get(self, task_id: str) -> Task | None:
        try:
            contact_id = contact_of(task_id)
        except TaskNotFound:
            return None
        found = self._db.get_item(TableName=self.table, Key=_key(contact_id, task_id), ConsistentRead=True).get("Item")
        return _task(found) if found else None

    def of_contact(self, contact_id: str) -> list[Task]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":prefix": TASK_PREFIX}),
        )
        return [_task(item) for page in pages for item in page["Items"]]

    def by_assignee(
        self,
        assignee: str,
        status: Literal["open", "done", "all"] = "open",
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        """One page of the assignee's tasks: open ones soonest due first, done ones latest completed
        first, ``all``: done ones (oldest first), then open ones. Returns the tasks and the cursor
        of the next page (or None)."""
        values = {":pk": f"{ASSIGNEE_PREFIX}{assignee.strip().lower()}"}
        condition = "gsi1pk = :pk"
        if status != "all":
            values[":status"] = f"{status}#"
            condition += " AND begins_with(gsi1sk, :status)"
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "Limit": max(1, min(limit, MAX_PAGE)),
            "ScanIndexForward": status != "done",
        }
        if cursor:
            params["ExclusiveStartKey"] = decode_cursor(cursor)
        page = self._db.query(**params)
        return [_task(item) for item in page["Items"]], encode_cursor(page.get("LastEvaluatedKey"))

    def complete(self, task_id: str, by: str | None = None, note: str | None = None) -> tuple[Task, bool]:
        """Mark the task done and record ``task.completed`` on its contact's history, once.
        Returns the task and whether this call completed it (False: it already was). A write
        cancelled by a conflict (another writer had the task or the contact's item at that moment)
        or by the task changing since it was read is read again and retried, up to
        ``COMPLETE_ATTEMPTS`` times; then :class:`WriteConflict` (nothing was written)."""
        for attempt in range(COMPLETE_ATTEMPTS):
            task = self.get(task_id)
            if task is None:
                raise TaskNotFound(task_id)
            if task.status == "done":
                return task, False  # completed before, or by a concurrent call
            done = self._complete_once(task, by, note)
            if done is not None:
                return done, True
            _backoff(attempt)
        raise WriteConflict(
            f"task {task_id} kept changing under concurrent writes; gave up after {COMPLETE_ATTEMPTS} attempts"
        )

    def _complete_once(self, task: Task, by: str | None, note: str | None) -> Task | None:
        """One conditional transaction: the task done (if still open) and its history entry. None
        when it was cancelled by a conflict or a changed task (the caller reads again)."""
        now = clock.now()
        done = task.model_copy(update={"status": "done", "completed_at": now, "completed_by": by, "note": note})
        entry = HistoryEntry(
            at=now,
            kind="task.completed",
            map_id=task.map_id,
            step_id=task.step_id,
            detail={
                k: v
                for k, v in {
                    "task_id": task.task_id,
                    "title": task.title,
                    "assignee": mask_email(task.assignee),
                    "due_at": clock.iso(task.due_at),
                    "late": now > task.due_at,
                    "note": note,
                }.items()
                if v is not None
            },
        )
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _item(done),
                            "ConditionExpression": "#status = :open",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": to_item({":open": "open"}),
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": _history_item(task.contact_id, entry)}},
                ]
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if is_conflict(error) or (
                code == "TransactionCanceledException" and set(_cancellation_codes(error)) <= _RETRIED_CANCELLATIONS
            ):
                return None  # a conflict, or the task is no longer open: read it again
            raise
        return done
