"""The admin API's contacts (behind IAM auth): search, read, explain, enroll and remove by hand,
import, export, erase and a contact's data export. ``functions/contacts_api/app.py`` routes here.

* ``GET /contacts?email=|phone=|tag=|list=|fulfillment=|segment=&limit=&next=``: email/phone are one
  GetItem of their marker; list/segment a Query of their member items; tag a paginated filtered
  Scan (automaps.store.directory: its cost). Exactly one criterion.
* ``GET /contacts/{id}?limit=&next=``: profile, tags, lists, segments, enrollments (status,
  position), notes, tasks and one page of the timeline (history entries, newest first).
* ``GET /contacts/{id}/explain?why_not=<step>&map=<id>``: ``{"text", **Explanation.to_dict()}``.
* ``POST /contacts/{id}/enrollments {"map": "<id>"}``: queued on the EnrollQueue (the durable intake
  path), idempotent by ``Idempotency-Key`` or, without one, by the contact's entries into the map.
* ``DELETE /contacts/{id}/enrollments/{map}``: the contact leaves the map as remove_from_automation
  does (automaps.journeys.moves.leave), with ``automation.removed`` {map, by} on the history.
* ``POST /contacts/import`` (CSV, header row): a report ``{created, updated, unchanged, skipped,
  errors, duplicates}``; the same body again answers the stored report.
* ``GET /contacts/export?format=csv|jsonl&tag=|list=|segment=&next=``: one page; the cursor of the
  next is the ``Automaps-Next`` header (API Gateway cannot stream: the CLI follows the pages).
* ``DELETE /contacts/{id}?suppress=true``: the erasure (GDPR/CCPA); ``GET /contacts/{id}/data``:
  every stored item of the contact, as JSON.

``{id}`` may also be the contact's email address or phone number (:func:`find`). Nothing here logs
an address or a phone number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from automaps import aws, clock, config
from automaps.replies import Reply, json_reply
from automaps.store import directory, tasks
from automaps.store.contacts import (
    Contact,
    ContactStore,
    EmailInUse,
    WriteConflict,
    mask_email,
    normalise_email,
    normalise_phone,
)
from automaps.store.content import to_item

logger = Logger(child=True)

MAX_IMPORT_ROWS = 1000
"""Data rows per import request (the CLI sends 500)."""
MAX_FIELD_LENGTH = 500
IMPORT_REPORT_SECONDS = 24 * 3600
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
IGNORED_COLUMNS = frozenset({"id", "created_at", "updated_at", "unsubscribed"})
"""Columns of an export that an import reads past (contacts are matched by email or phone)."""
EXPORT_COLUMNS = ("id", "email", "phone", "tags", "unsubscribed", "created_at", "updated_at", "fields")
NEXT_HEADER = "Automaps-Next"
ROW_COLUMN = "_row"
"""An optional import column: the record's row number in the whole file (what errors name)."""


def _problem(status: int, message: str, **more: Any) -> Reply:
    return json_reply(status, {"message": message, **more})


def _limit(query: dict[str, str], default: int = 50) -> int:
    text = query.get("limit") or str(default)
    if not text.isdigit() or not 1 <= int(text) <= directory.MAX_PAGE:
        raise ValueError(f"limit must be a whole number from 1 to {directory.MAX_PAGE}")
    return int(text)


# ---------------------------------------------------------------- finding


find = directory.find
"""The contact an email address, phone number or contact id names (None: nobody)."""


def summary(contact: Contact) -> dict[str, Any]:
    """What the admin sees of a contact in a list (full addresses: the admin may; logs never)."""
    dumped = contact.model_dump(mode="json")
    return {
        "id": contact.id,
        "email": contact.email,
        "phone": contact.phone,
        "fields": dumped["fields"],
        "tags": sorted(contact.tags),
        "unsubscribed": sorted(contact.unsubscribed),
        "created_at": clock.iso(contact.created_at),
        "updated_at": clock.iso(contact.updated_at),
    }


def search(query: dict[str, str]) -> Reply:
    criteria = [name for name in ("email", "phone", "tag", "list", "fulfillment", "segment") if query.get(name)]
    if len(criteria) != 1:
        return _problem(400, "pass exactly one of ?email=, ?phone=, ?tag=, ?list=, ?fulfillment=, ?segment=")
    [by] = criteria
    value = query[by].strip()
    try:
        limit = _limit(query)
        if by in ("email", "phone"):  # one GetItem of the marker, one of the profile
            store = ContactStore()
            if by == "email":
                normalise_email(value)
                contact = store.find_by_email(value)
            else:
                contact = store.find_by_phone(normalise_phone(value, query.get("region")))
            return json_reply(200, {"by": by, "contacts": [summary(contact)] if contact else []})
        if by == "tag":
            found, cursor = directory.Directory().scan_profiles(value, query.get("next"))
        else:
            found, cursor = directory.Directory().members(by, value, limit, query.get("next"))  # type: ignore[arg-type]
    except directory.BadCursor as error:
        return _problem(400, str(error))
    except ValueError as error:
        return _problem(400, f"{by}: {error}" if by in ("email", "phone") else str(error))
    payload: dict[str, Any] = {"by": by, "contacts": [summary(c) for c in found]}
    if cursor:
        payload["next"] = cursor
    if by == "tag":
        payload["scanned_items"] = directory.SCAN_PAGE_ITEMS  # (at most, per page: a filtered Scan)
    return json_reply(200, payload)


NO_CONTACT = "no such contact (pass its id, email address or phone)"


def _resolved(text: str) -> str | Reply:
    contact_id = find(text)
    return contact_id if contact_id else _problem(404, NO_CONTACT)


# ---------------------------------------------------------------- reading one


def read(contact_id: str, query: dict[str, str] | None = None) -> Reply:
    """The contact's profile, memberships, enrollments, notes and a page of its timeline."""
    query = query or {}
    contact = directory.find_contact(contact_id)
    if contact is None:
        return _problem(404, NO_CONTACT)
    resolved, store, book = contact.id, ContactStore(), directory.Directory()
    try:
        entries, cursor = book.history_page(resolved, _limit(query), query.get("next"))
    except (directory.BadCursor, ValueError) as error:
        return _problem(400, str(error))
    memberships = {
        kind: [str(i["sk"]).removeprefix(prefix) for i in book.prefixed(resolved, prefix)]
        for kind, prefix in (("lists", "LIST#"), ("fulfillment", "FULFILL#"), ("segments", "SEGMENT#"))
    }
    payload: dict[str, Any] = {
        "contact": summary(contact),
        **memberships,
        "enrollments": [_enrollment(e) for e in store.enrollments(resolved)],
        "notes": store.notes(resolved),
        "tasks": [task.public() for task in tasks.TaskStore().of_contact(resolved)],
        "timeline": [_entry(item) for item in entries],
    }
    if cursor:
        payload["next"] = cursor
    return json_reply(200, payload)


def _enrollment(enrollment: Any) -> dict[str, Any]:
    dumped = enrollment.model_dump(mode="json")
    return {
        key: dumped.get(key)
        for key in ("map_id", "enrollment_id", "status", "position", "started_at", "exited_at", "exit_reason")
    }


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in ("at", "kind", "map_id", "step_id", "enrollment_id", "detail")}


def explain(contact_id: str, query: dict[str, str]) -> Reply:
    resolved = _resolved(contact_id)
    if isinstance(resolved, Reply):
        return resolved
    from automaps.journeys import explain as explaining

    try:  # (?why_not=<step> without ?map=: the one map holding that step, the contact's maps first)
        answer = explaining.answer(resolved, why_not_step=query.get("why_not"), map_id=query.get("map"))
    except explaining.UnknownStep as error:
        return _problem(400, str(error))
    except explaining.ExplainError as error:  # (an unknown map; the contact was found above)
        return _problem(404, str(error))
    return json_reply(200, {"text": answer.text(), **answer.to_dict()})


# ---------------------------------------------------------------- enroll and remove by hand


def enroll(contact_id: str, body: str | None, idempotency_key: str | None, caller: str | None) -> Reply:
    """Queue the contact's enrollment in a map, as any trigger's (EnrollQueue; the entry rule decides)."""
    from automaps.journeys import enrollment

    resolved = _resolved(contact_id)
    if isinstance(resolved, Reply):
        return resolved
    try:
        parsed = json.loads(body or "")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or set(parsed) != {"map"} or not isinstance(parsed["map"], str):
        return _problem(400, 'the body must be JSON {"map": "<map id>"}')
    if idempotency_key is not None and not re.fullmatch(r"[\x21-\x7e]{1,255}", idempotency_key):
        return _problem(400, "the Idempotency-Key header must be 1-255 printable ASCII characters")
    record = enrollment.map_record(parsed["map"])
    if record is None:
        return _problem(404, f"no map {parsed['map']!r} is deployed")
    if idempotency_key:
        cause = f"admin:{idempotency_key}"
    else:  # the same request again, before the contact entered, is the same enrollment
        gate = directory.Directory().item(f"CONTACT#{resolved}", f"ENTRY#{record.id}") or {}
        cause = f"admin:entry-{int(gate.get('entries') or 0)}"
    enrollment_id = enrollment.enrollment_id_for(record.id, resolved, cause)
    event = {"type": "added_by_admin", "by": caller or "unknown"}
    try:
        enrollment.enqueue(
            enrollment.EnrollRequest(
                contact_id=resolved, map_id=record.id, enrollment_id=enrollment_id, cause_id=cause, event=event
            )
        )
    except enrollment.IntakeUnavailable as error:
        return Reply(
            503,
            json.dumps({"message": f"{error}; nothing was queued, try again"}),
            headers={"Retry-After": str(error.retry_after)},
        )
    logger.info("enrollment queued by hand", extra={"contact_id": resolved, "map_id": record.id})
    return json_reply(202, {"map_id": record.id, "enrollment_id": enrollment_id, "outcome": "queued"})


def remove(contact_id: str, map_id: str, caller: str | None) -> Reply:
    """The contact leaves the map now: the run stops, ``map.exited`` (reason removed), the gate is
    released, a caller map waiting for the return continues; ``automation.removed`` with ``by``."""
    from automaps.journeys import moves

    resolved = _resolved(contact_id)
    if isinstance(resolved, Reply):
        return resolved
    store = ContactStore()
    live = moves.live_enrollment(resolved, map_id)
    if live is None:
        left = sorted(store.enrollments(resolved, map_id), key=lambda e: e.started_at)
        if left and left[-1].exit_reason == "removed":
            return json_reply(
                200,
                {
                    "map_id": map_id,
                    "enrollment_id": left[-1].enrollment_id,
                    "removed": False,
                    "reason": "already removed",
                },
            )
        return _problem(404, f"the contact is not in the map {map_id!r}")
    cause = f"removed by hand\n{live.enrollment_id}"
    store.record_once(
        resolved,
        f"automation.removed\n{cause}",
        "automation.removed",
        {"map": map_id, "by": caller or "unknown", "enrollment": live.enrollment_id},
        at=clock.now(),
    )
    try:
        removed = moves.leave(live, cause, "removed")
    except moves.MoveRefused as refused:
        return _problem(409, f"{refused}; try again")
    return json_reply(200, {"map_id": map_id, "enrollment_id": live.enrollment_id, "removed": removed})


# ---------------------------------------------------------------- import


class _Row:
    def __init__(self, number: int, email: str | None, phone: str | None, fields: dict[str, Any], tags: set[str]):
        self.number, self.email, self.phone, self.fields, self.tags = number, email, phone, fields, tags


def import_contacts(body: str | None, query: dict[str, str]) -> Reply:
    """Upsert the CSV's rows (deduplicated by email, else phone); a report. Row numbers count the
    file's lines from the header (1); ``?first_row=N`` is the file row of the body's first data row."""
    try:
        first_row = int(query.get("first_row") or 2)
    except ValueError:
        return _problem(400, "first_row must be a whole number (the file row of the first data row)")
    region = query.get("region") or None
    dry_run = (query.get("dry_run") or "").lower() in ("1", "true", "yes")
    text = (body or "").lstrip("\ufeff")
    if not text.strip():
        return _problem(400, "the body must be CSV with a header row (email and/or phone, other fields, tags)")
    digest = hashlib.sha256(f"{first_row}\n{region}\n{dry_run}\n{text}".encode()).hexdigest()[:40]
    stored = None if dry_run else _stored_report(digest)
    if stored is not None:
        return json_reply(200, {**stored, "replayed": True})
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(reader)]
        rows = list(reader)
    except csv.Error as error:
        return _problem(400, f"not CSV: {error}")
    numbered = header.index(ROW_COLUMN) if ROW_COLUMN in header else None
    if numbered is not None:  # (the CLI's: each record's row in the whole file, after its own dedupe)
        header.pop(numbered)
    bad = [
        name
        for name in header
        if name not in IGNORED_COLUMNS and name not in ("tags", "fields") and not FIELD_NAME.match(name)
    ]
    if bad:
        return _problem(
            400, f"row 1 (the header): column {bad[0]!r} is not a field name (lowercase letters, digits, _)"
        )
    if len(set(header)) != len(header):
        return _problem(400, "row 1 (the header): a column is named twice")
    if "email" not in header and "phone" not in header:
        return _problem(400, "row 1 (the header): the CSV needs an email or a phone column")
    if len(rows) > MAX_IMPORT_ROWS:
        return _problem(413, f"at most {MAX_IMPORT_ROWS} rows per request (the CLI sends chunks of 500)")
    report: dict[str, Any] = {
        "rows": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": [],
        "duplicates": [],
    }
    seen: dict[str, int] = {}
    parsed: list[_Row] = []
    for offset, cells in enumerate(rows):
        number = first_row + offset
        if numbered is not None:
            given = cells.pop(numbered) if numbered < len(cells) else ""
            if not given.isdigit():
                return _problem(400, f"row {number}: the {ROW_COLUMN} column must hold the row's number in the file")
            number = int(given)
        if not any(cell.strip() for cell in cells):
            continue
        report["rows"] += 1
        row = _parse_row(number, header, cells, region, report["errors"])
        if row is None:
            continue
        identity = f"email:{normalise_email(row.email)}" if row.email else f"phone:{row.phone}"
        if identity in seen:
            report["duplicates"].append(
                {
                    "row": number,
                    "of_row": seen[identity],
                    "reason": f"same {identity.split(':')[0]} as row {seen[identity]}",
                }
            )
            continue
        seen[identity] = number
        parsed.append(row)
    report["skipped"] = len(report["errors"]) + len(report["duplicates"])
    if dry_run:
        return json_reply(200, {**report, "dry_run": True, "valid": len(parsed)})
    for row in parsed:
        try:
            outcome = _upsert(row)
        except (EmailInUse, WriteConflict, ValueError) as error:
            report["errors"].append(
                {"row": row.number, "field": "email" if row.email else "phone", "error": f"not written: {error}"}
            )
            report["skipped"] += 1
            continue
        report[outcome] += 1
    _store_report(digest, report)
    logger.info("contacts imported", extra={f"import_{k}": v for k, v in report.items() if isinstance(v, int)})
    return json_reply(200, report)


def _parse_row(number: int, header: list[str], cells: list[str], region: str | None, errors: list) -> _Row | None:
    def error(field: str, message: str) -> None:
        errors.append({"row": number, "field": field, "error": message})

    if len(cells) > len(header):
        error("-", f"{len(cells)} cells for {len(header)} columns")
        return None
    values = dict(zip(header, (_unquoted(cell.strip()) for cell in cells), strict=False))
    email, phone = values.pop("email", "") or None, values.pop("phone", "") or None
    tags = {t.strip() for t in (values.pop("tags", "") or "").split(";") if t.strip()}
    extra = values.pop("fields", "") or ""
    fields: dict[str, Any] = {k: v for k, v in values.items() if v and k not in IGNORED_COLUMNS}
    failed = False
    if email:
        try:
            normalise_email(email)
        except ValueError:
            error("email", "not an email address")
            failed = True
    if phone:
        try:
            phone = normalise_phone(phone, region)
        except ValueError as problem:
            error("phone", str(problem))
            failed = True
    if not email and not phone:
        error("email", "the row has neither an email address nor a phone number")
        return None
    if extra:
        try:
            more = json.loads(extra)
            if not isinstance(more, dict) or not all(
                FIELD_NAME.match(k) and isinstance(v, (str, int, float, bool)) for k, v in more.items()
            ):
                raise ValueError
        except ValueError:
            error("fields", "must be a JSON object of field names to text, numbers or true/false")
            return None
        fields = {**{k: v for k, v in more.items() if k not in ("email", "phone")}, **fields}
    for name, value in fields.items():
        if isinstance(value, str) and (len(value) > MAX_FIELD_LENGTH or any(ord(ch) < 32 for ch in value)):
            error(name, f"at most {MAX_FIELD_LENGTH} characters on one line")
            failed = True
    for tag in tags:
        if len(tag) > 100 or any(ord(ch) < 32 for ch in tag):
            error("tags", "each tag (separated by ;) is at most 100 characters on one line")
            failed = True
            break
    return None if failed else _Row(number, email, phone, fields, tags)


def _unquoted(cell: str) -> str:
    """A cell as an export wrote it for spreadsheets (``'+1415...``: lists.safe_cell) read back."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@") else cell


def _upsert(row: _Row) -> str:
    """created / updated / unchanged: one write of the profile (with its identity marker)."""
    store = ContactStore()
    fields = {**row.fields, **({"phone": row.phone} if row.phone else {})}
    existing = store.find_by_email(row.email) if row.email else store.find_by_phone(row.phone or "")
    if existing is None:
        created = store.create_contact(
            {k: v for k, v in fields.items() if k != "phone" or row.email},
            row.tags,
            email=row.email,
            phone=None if row.email else row.phone,
        )
        if created is not None:
            if row.email and row.phone:
                store.claim_phone(created.id, row.phone)
            return "created"
        existing = store.find_by_email(row.email) if row.email else store.find_by_phone(row.phone or "")
        if existing is None:
            raise WriteConflict("another writer held the address; import the row again")

    def change(contact: Contact) -> Contact | None:
        merged = {**contact.fields, **fields}
        if merged == contact.fields and row.tags <= contact.tags:
            return None
        return contact.model_copy(update={"fields": merged, "tags": contact.tags | row.tags})

    after = store.update_with(existing.id, change)
    if row.email and row.phone:
        store.claim_phone(existing.id, row.phone)
    return "updated" if after.version != existing.version else "unchanged"


def _report_key(digest: str) -> dict[str, Any]:
    return to_item({"pk": f"IMPORT#{digest}", "sk": "IMPORT"})


def _stored_report(digest: str) -> dict[str, Any] | None:
    found = (
        aws.client("dynamodb")
        .get_item(TableName=config.contacts_table(), Key=_report_key(digest), ConsistentRead=True)
        .get("Item")
    )
    return json.loads(found["report"]["S"]) if found else None


def _store_report(digest: str, report: dict[str, Any]) -> None:
    aws.client("dynamodb").put_item(
        TableName=config.contacts_table(),
        Item={
            **_report_key(digest),
            "report": {"S": json.dumps(report, sort_keys=True)},
            "expiration": {"N": str(int(clock.now().timestamp()) + IMPORT_REPORT_SECONDS)},
        },
    )


# ---------------------------------------------------------------- export


def export(query: dict[str, str]) -> Reply:
    """One page of contacts as CSV (header on the first page only) or JSONL; ``Automaps-Next``."""
    form = query.get("format") or "csv"
    if form not in ("csv", "jsonl"):
        return _problem(400, "format must be csv or jsonl")
    criteria = [name for name in ("tag", "list", "fulfillment", "segment") if query.get(name)]
    if len(criteria) > 1:
        return _problem(400, "pass at most one of ?tag=, ?list=, ?fulfillment=, ?segment=")
    book = directory.Directory()
    try:
        limit = _limit(query, default=directory.MAX_PAGE)
        if criteria and criteria[0] != "tag":
            found, cursor = book.members(criteria[0], query[criteria[0]], limit, query.get("next"))  # type: ignore[arg-type]
        else:
            found, cursor = book.scan_profiles(query.get("tag"), query.get("next"))
    except (directory.BadCursor, ValueError) as error:
        return _problem(400, str(error))
    headers = {NEXT_HEADER: cursor} if cursor else {}
    rows = [summary(contact) for contact in found]
    if form == "jsonl":
        body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        return Reply(200, body, "application/x-ndjson", headers)
    from automaps.store.lists import safe_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if not query.get("next"):
        writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        fields = {k: v for k, v in row["fields"].items() if k not in ("email", "phone")}
        writer.writerow(
            [
                safe_cell(row["id"]),
                safe_cell(row["email"]),
                safe_cell(row["phone"]),
                safe_cell(";".join(row["tags"])),
                ";".join(row["unsubscribed"]),
                row["created_at"],
                row["updated_at"],
                safe_cell(json.dumps(fields, sort_keys=True)) if fields else "",
            ]
        )
    return Reply(200, out.getvalue(), "text/csv; charset=utf-8", headers)


# ---------------------------------------------------------------- erase and the data export


def erase(contact_id: str, query: dict[str, str], caller: str | None) -> Reply:
    """Erase the contact: runs stopped, long-wait schedules deleted, every item gone, the address
    kept only as a suppression hash when it was suppressed, unsubscribed, or ``?suppress=true``
    (they asked never to be emailed again); an audit item ``ERASED#<id>``. Erasing again is fine."""
    from automaps.store.erasure import Eraser

    suppress = (query.get("suppress") or "false").lower()
    if suppress not in ("true", "false"):
        return _problem(400, "suppress must be true or false")
    eraser, book = Eraser(), directory.Directory()
    target = (contact_id or "").strip()
    resolved = find(target) or (target if target.startswith("c_") else None)
    if resolved is None:
        return _problem(404, "no such contact (pass its id, email address or phone)")
    items = book.contact_items(resolved)
    audit = eraser.audit(resolved)
    if not items:
        if audit is not None:
            return json_reply(200, {"erased": True, "already_erased": True, "audit": _public_audit(audit)})
        return _problem(404, "no such contact")
    profile = next((item for item in items if item["sk"] == "PROFILE"), None)
    stopped, schedules = _stop_runs(items)
    suppression = _keep_suppression(profile, suppress == "true")
    counts = eraser.erase(resolved, items)
    audit = eraser.write_audit(
        resolved,
        {
            "at": clock.iso(),
            "by": caller or "unknown",
            "counts": counts,
            "suppression": suppression,
            "executions_stopped": stopped,
            "schedules_deleted": schedules,
        },
    )
    eraser.delete_profile(resolved)
    logger.info("contact erased", extra={"contact_id": resolved, "items": sum(counts.values())})
    return json_reply(200, {"erased": True, "already_erased": False, "audit": _public_audit(audit)})


def _public_audit(audit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in audit.items() if k not in ("pk", "sk")}


def _stop_runs(items: list[dict[str, Any]]) -> tuple[int, int]:
    """StopExecution of every live enrollment's run; DeleteSchedule of a long wait's schedule."""
    from automaps.journeys import moves

    stopped = deleted = 0
    for item in items:
        if not str(item["sk"]).startswith("ENROLL#") or item.get("status") == "exited":
            continue
        for arn in {item.get("run"), item.get("execution_arn")} - {None, ""}:
            moves.stop(str(arn), "erased")
            stopped += 1
        position = item.get("position") or {}
        if item.get("status") == "waiting" and position.get("kind") == "wait" and item.get("run"):
            deleted += _delete_wait_schedule(str(item["enrollment_id"]), str(item["run"]))
    return stopped, deleted


def _delete_wait_schedule(enrollment_id: str, run: str) -> int:
    """The schedule a long wait was handed to (automaps.journeys.handoff): named after the
    enrollment and the visit of the Task that handed it off, the parked run's last Task (its
    payload names the visit: execution id, state name, state entered time)."""
    from automaps.journeys import handoff

    target = config.waits_scheduler()
    if target is None:
        return 0
    try:
        events = aws.client("stepfunctions").get_execution_history(executionArn=run, reverseOrder=True, maxResults=100)
        scheduled = max(
            (e for e in events["events"] if e["type"] == "TaskScheduled"), key=lambda e: e["id"]
        )  # (the newest: what reverseOrder gives first on AWS)
        payload = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]
        visit = f"{payload['execution_id']}|{payload['state_name']}|{payload['state_entered_time']}"
        name = handoff.schedule_name(enrollment_id, hashlib.sha256(visit.encode()).hexdigest()[:24])
        aws.client("scheduler").delete_schedule(Name=name, GroupName=target[0])
    except (ClientError, ValueError, KeyError, TypeError) as error:  # (its resume finds no enrollment: nothing)
        logger.info("no long-wait schedule deleted", extra={"reason": type(error).__name__})
        return 0
    return 1


def _keep_suppression(profile: dict[str, Any] | None, asked: bool) -> str:
    """``kept`` (the address was suppressed: now only its hash), ``added`` (unsubscribed from email,
    or ``asked``), ``none`` (nothing of the address is kept)."""
    email = ((profile or {}).get("fields") or {}).get("email")
    if not email:
        return "none"
    store = ContactStore()
    try:
        existing = store.email_suppression(str(email))
    except ValueError:
        return "none"
    if existing is not None:
        store.suppress_email(str(email), existing.reason, at=existing.at, message_id=existing.message_id, hashed=True)
        store.unsuppress_plain(str(email))
        return "kept"
    if asked or "email" in ((profile or {}).get("unsubscribed") or []):
        store.suppress_email(str(email), "unsubscribed", at=clock.now(), hashed=True)
        logger.info("erased address kept as a suppression hash", extra={"to": mask_email(str(email))})
        return "added"
    return "none"


def data(contact_id: str) -> Reply:
    """Every item stored under the contact, its identity markers and its address's suppression."""
    resolved = _resolved(contact_id)
    if isinstance(resolved, Reply):
        return resolved
    book = directory.Directory()
    items = book.contact_items(resolved)
    profile = next((item for item in items if item["sk"] == "PROFILE"), {})
    fields = profile.get("fields") or {}
    markers = []
    for pk, sk, value in (("EMAIL#", "EMAIL", fields.get("email")), ("PHONE#", "PHONE", fields.get("phone"))):
        if value:
            try:
                key = normalise_email(value) if sk == "EMAIL" else normalise_phone(value)
            except ValueError:
                continue
            found = book.item(f"{pk}{key}", sk)
            if found:
                markers.append(found)
    suppression = ContactStore().email_suppression(fields["email"]) if fields.get("email") else None
    payload = {
        "contact_id": resolved,
        "exported_at": clock.iso(),
        "items": items,
        "markers": markers,
        "suppression": suppression.model_dump(mode="json") if suppression else None,
    }
    return Reply(
        200,
        json.dumps(payload, sort_keys=True, indent=1, default=str),
        "application/json",
        {"Content-Disposition": f'attachment; filename="{resolved}.json"'},
    )
