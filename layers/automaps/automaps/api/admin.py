"""The admin API's answers (behind IAM auth), independent of the HTTP plumbing.

``functions/admin_api/app.py`` routes requests here and turns a :class:`Reply` into an API
Gateway response:

* ``GET /tasks?assignee=<email>&status=open|done|all&limit=&next=``: a page of the assignee's tasks
* ``POST /tasks/{task_id}/complete`` (optional JSON body ``{"note": "..."}``): completes the task
  once and records ``task.completed`` on the contact's history; completing it again answers 200
  with ``"already_completed": true`` and records nothing; 409 when concurrent writes kept
  cancelling the completion (retried first; nothing written), 429 when DynamoDB throttles
* ``GET /fulfillment/{list}?format=csv|json``: the fulfillment list's members with their field
  snapshots; CSV (the default) has a header row and is safe to open in a spreadsheet
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from automaps.replies import Reply, json_reply
from automaps.store import lists, tasks
from automaps.store.contacts import WriteConflict

THROTTLED = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


def _problem(status: int, message: str) -> Reply:
    return json_reply(status, {"message": message})


# ---------------------------------------------------------------- tasks


def list_tasks(query: dict[str, str]) -> Reply:
    assignee = (query.get("assignee") or "").strip()
    if "@" not in assignee:
        return _problem(400, "pass ?assignee=<the team member's email>")
    status = query.get("status") or "open"
    if status not in (*tasks.STATUSES, "all"):
        return _problem(400, "status must be open, done or all")
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        return _problem(400, f"limit must be a whole number from 1 to {tasks.MAX_PAGE}")
    if not 1 <= limit <= tasks.MAX_PAGE:
        return _problem(400, f"limit must be a whole number from 1 to {tasks.MAX_PAGE}")
    try:
        found, cursor = tasks.TaskStore().by_assignee(assignee, status, limit, query.get("next"))  # type: ignore[arg-type]
    except tasks.BadCursor as error:
        return _problem(400, str(error))
    payload: dict[str, Any] = {"tasks": [task.public() for task in found]}
    if cursor:
        payload["next"] = cursor
    return json_reply(200, payload)


def complete_task(task_id: str, body: str | None, caller: str | None) -> Reply:
    note = None
    if body and body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            return _problem(400, 'the body must be JSON, e.g. {"note": "called, will buy next week"}')
        if (
            not isinstance(parsed, dict)
            or set(parsed) - {"note"}
            or not isinstance(parsed.get("note", ""), str)
            or len(parsed.get("note", "")) > 5000
        ):
            return _problem(400, 'the body may only hold "note": a text of at most 5000 characters')
        note = parsed.get("note") or None
    try:
        task, completed = tasks.TaskStore().complete(task_id, by=caller, note=note)
    except tasks.TaskNotFound as error:
        return _problem(404, str(error))
    except WriteConflict as error:  # others kept writing the task: nothing was written, try again
        return _problem(409, f"{error}; nothing was changed, complete it again")
    except ClientError as error:
        reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
        if error.response.get("Error", {}).get("Code") not in THROTTLED and "ThrottlingError" not in reasons:
            raise
        return Reply(
            429,
            json.dumps({"message": "the task store is busy; nothing was changed, try again shortly"}),
            "application/json",
            {"Retry-After": "1"},
        )
    return json_reply(200, {"task": task.public(), "already_completed": not completed})


# ---------------------------------------------------------------- fulfillment lists


def export_fulfillment(name: str, query: dict[str, str]) -> Reply:
    try:
        lists.check_name(name)
    except ValueError as error:
        return _problem(400, str(error))
    form = query.get("format") or "csv"
    if form not in ("csv", "json"):
        return _problem(400, "format must be csv or json")
    members = list(lists.ListStore().members("fulfillment", name))
    if form == "json":
        return json_reply(200, {"list": name, "members": members})
    return Reply(
        200,
        lists.to_csv(members),
        "text/csv; charset=utf-8",
        {"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
