"""`automaps contacts ...`: contacts in production, through the admin API (IAM auth).

    automaps contacts search --tag vip --stack-name automaps
    automaps contacts show jane@example.com --stack-name automaps
    automaps contacts enroll jane@example.com welcome-leads --stack-name automaps
    automaps contacts remove jane@example.com welcome-leads --stack-name automaps
    automaps contacts import leads.csv --report report.json --stack-name automaps
    automaps contacts export --list newsletter --format csv -o newsletter.csv --stack-name automaps
    automaps contacts erase jane@example.com --yes --stack-name automaps
    automaps contacts data jane@example.com -o jane.json --stack-name automaps

A thin client of the admin API's /contacts routes (docs/architecture.md "Admin API: contacts"):
with ``--stack-name`` (and ``--region``) requests go to the stack's ``AdminApiUrl`` signed with
SigV4 (service execute-api, your usual credentials, as `automaps admin`); with ``--local URL``
plain HTTP to a running `automaps serve`, which serves the admin routes without IAM. A contact
is named by its id, email address or phone number. ``import`` sends the file in chunks of 500
rows (a progress bar on standard error) and writes the merged report; a chunk whose answer was
lost is sent again and the API answers the report it stored. ``export`` follows the pages (API
Gateway cannot stream one answer) and writes each one as it arrives. Exit codes: 0 done, 1 the
API refused (its message on standard error), 2 a usage or connection error.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from automaps_local.admin import TIMEOUT_SECONDS, AdminCallError, Answer, admin_url, canonical_target, signed_request

CHUNK_ROWS = 500
ATTEMPTS = 3
NEXT_HEADER = "Automaps-Next"


class Refused(RuntimeError):
    """The API answered with an error (its message)."""


@dataclass
class Client:
    base: str
    region: str | None  # None: plain HTTP (--local), else SigV4-signed for the region

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        target = path + (f"?{urlencode(query)}" if query else "")
        url = self.base.rstrip("/") + canonical_target(target)
        headers = dict(headers or {})
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        if self.region is not None:
            request = signed_request(method, url, body, self.region, headers)
        else:
            request = urllib.request.Request(url, data=body or None, headers=headers, method=method)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    return Answer(response.status, dict(response.headers.items()), response.read())
            except urllib.error.HTTPError as error:
                answer = Answer(error.code, dict(error.headers.items()), error.read())
                if error.code < 500 and error.code != 429 or attempt == ATTEMPTS:
                    return answer
            except (urllib.error.URLError, TimeoutError):
                if attempt == ATTEMPTS:
                    raise
            time.sleep(0.5 * attempt)  # every route is idempotent: the same request again is safe
        raise AssertionError("unreachable")

    def json(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        answer = self.request(method, path, query, data, headers)
        return _checked(answer)


def _checked(answer: Answer) -> Any:
    text = answer.body.decode(errors="replace")
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        parsed = {"message": text[:500]}
    if not 200 <= answer.status < 300:
        raise Refused(
            f"HTTP {answer.status}: {parsed.get('message', text[:500]) if isinstance(parsed, dict) else text}"
        )
    return parsed


# ---------------------------------------------------------------- arguments


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", help="a deployed stack: its AdminApiUrl, requests signed with SigV4")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--local", metavar="URL", help="a running `automaps serve`, e.g. http://localhost:3000")
    parser.add_argument("--url", help=argparse.SUPPRESS)  # the admin API's base URL, signed (tests)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    _connection(common)
    actions = parser.add_subparsers(dest="action", required=True)

    def sub(name: str, what: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=what, parents=[common])

    search = sub("search", "find contacts by email, phone, tag, list or segment")
    group = search.add_mutually_exclusive_group(required=True)
    for name in ("email", "phone", "tag", "list", "fulfillment", "segment"):
        group.add_argument(f"--{name}")
    search.add_argument("--limit", type=int, default=50)
    search.add_argument("--all", action="store_true", help="follow every page (a tag search scans the table)")
    search.add_argument("--json", action="store_true", help="one JSON object per contact")

    show = sub("show", "a contact: profile, lists, enrollments, the timeline")
    show.add_argument("contact", help="id, email address or phone number")
    show.add_argument("--limit", type=int, default=50, help="timeline entries (newest first)")

    enroll = sub("enroll", "enroll a contact in a map by hand (through the intake queue)")
    enroll.add_argument("contact")
    enroll.add_argument("map")
    enroll.add_argument("--key", help="an Idempotency-Key: the same key enrolls once")

    remove = sub("remove", "take a contact out of a map by hand")
    remove.add_argument("contact")
    remove.add_argument("map")

    importing = sub("import", "import a CSV (header row: email and/or phone, fields, tags)")
    importing.add_argument("file", type=Path)
    importing.add_argument("--chunk", type=int, default=CHUNK_ROWS, help=f"rows per request (default {CHUNK_ROWS})")
    importing.add_argument("--phone-region", help="where numbers without + are (ISO code, e.g. US)")
    importing.add_argument("--dry-run", action="store_true", help="check the rows, write nothing")
    importing.add_argument("--report", type=Path, help="write the report (JSON) here instead of standard output")
    importing.add_argument("--no-progress", action="store_true")

    export = sub("export", "export contacts (all, or a tag, list or segment) as CSV or JSONL")
    group = export.add_mutually_exclusive_group()
    for name in ("tag", "list", "fulfillment", "segment"):
        group.add_argument(f"--{name}")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("-o", "--output", type=Path, help="the file (default: standard output)")

    erase = sub("erase", "erase a contact and all their data (GDPR/CCPA): no undo")
    erase.add_argument("contact")
    erase.add_argument("--yes", action="store_true", help="yes, erase them")
    erase.add_argument("--suppress", action="store_true", help="they asked never to be emailed: keep the hash")

    data = sub("data", "a contact's data export (every stored item, JSON)")
    data.add_argument("contact")
    data.add_argument("-o", "--output", type=Path)


def run(args: argparse.Namespace) -> int:
    if args.local and (args.stack_name or args.url):
        print("error: give either --stack-name or --local, not both", file=sys.stderr)
        return 2
    if not (args.local or args.stack_name or args.url):
        print("error: give --stack-name S (a deployed stack) or --local URL (automaps serve)", file=sys.stderr)
        return 2
    if args.action == "erase" and not args.yes:
        print("error: erasing deletes the contact and all their data for good; add --yes", file=sys.stderr)
        return 2
    try:
        client = _client(args)
        return ACTIONS[args.action](client, args)
    except Refused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    except (AdminCallError, urllib.error.URLError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _client(args: argparse.Namespace) -> Client:
    if args.local:
        return Client(args.local, None)
    if args.region:
        os.environ["AWS_REGION"] = args.region
    import boto3

    region = args.region or boto3.Session().region_name or "us-east-1"
    return Client(args.url or admin_url(args.stack_name), region)


def _contact_id(client: Client, who: str) -> str:
    """The id of the contact ``who`` names (an id is taken as it is)."""
    if who.startswith("c_"):
        return who
    by = "email" if "@" in who else "phone"
    found = client.json("GET", "/contacts", {by: who})["contacts"]
    if not found:
        raise Refused(f"no contact with the {by} {who!r}")
    return str(found[0]["id"])


def _path(contact_id: str) -> str:
    return f"/contacts/{quote(contact_id, safe='')}"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


# ---------------------------------------------------------------- actions


def _search(client: Client, args: argparse.Namespace) -> int:
    by = next(name for name in ("email", "phone", "tag", "list", "fulfillment", "segment") if getattr(args, name))
    query = {by: getattr(args, by), "limit": str(args.limit)}
    shown = 0
    while True:
        page = client.json("GET", "/contacts", query)
        for contact in page["contacts"]:
            shown += 1
            if args.json:
                print(json.dumps(contact, sort_keys=True, ensure_ascii=False))
            else:
                print(
                    "\t".join(
                        [
                            contact["id"],
                            contact.get("email") or "-",
                            contact.get("phone") or "-",
                            ",".join(contact.get("tags") or []),
                        ]
                    )
                )
        if not page.get("next") or not (args.all or (by == "tag" and shown < args.limit)):
            break
        query["next"] = page["next"]
    if page.get("next"):
        print(f"(more: --all follows every page; {shown} shown)", file=sys.stderr)
    return 0


def _show(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.json("GET", _path(_contact_id(client, args.contact)), {"limit": str(args.limit)}))
    return 0


def _enroll(client: Client, args: argparse.Namespace) -> int:
    headers = {"Idempotency-Key": args.key} if args.key else None
    answer = client.json(
        "POST", _path(_contact_id(client, args.contact)) + "/enrollments", body={"map": args.map}, headers=headers
    )
    print(f"queued: {answer['map_id']} (enrollment {answer['enrollment_id']}); the map's entry rule decides")
    return 0


def _remove(client: Client, args: argparse.Namespace) -> int:
    answer = client.json(
        "DELETE", _path(_contact_id(client, args.contact)) + f"/enrollments/{quote(args.map, safe='')}"
    )
    print(
        "removed" if answer.get("removed") else f"nothing to do: {answer.get('reason', 'already left')}",
        f"from {answer['map_id']}",
    )
    return 0


def chunks(
    text: str, size: int, region: str | None = None
) -> tuple[list[str], list[list[list[str]]], list[dict[str, Any]]]:
    """The CSV's header (with the ``_row`` column first), its data rows numbered by their row in
    the file (the header is row 1) cut into chunks of ``size``, and the rows that repeat an
    earlier row's email (any case) or, without one, its phone: left out here, so the file is
    deduplicated as a whole, not only within a chunk."""
    from automaps.store.contacts import normalise_phone

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header:
        raise ValueError("the file is empty: a CSV with a header row (email and/or phone, fields, tags) is needed")
    names = [name.strip().lower() for name in header]
    seen: dict[str, int] = {}
    rows, repeated = [], []
    for number, cells in enumerate(reader, start=2):
        values = dict(zip(names, (cell.strip() for cell in cells), strict=False))
        identity = None
        if values.get("email"):
            identity = "email:" + values["email"].lower()
        elif values.get("phone"):
            with contextlib.suppress(ValueError):  # (not a number: the API names the row's error)
                identity = "phone:" + normalise_phone(values["phone"], region)
        if identity in seen:
            kind = identity.split(":")[0] if identity else ""
            repeated.append({"row": number, "of_row": seen[identity], "reason": f"same {kind} as row {seen[identity]}"})
            continue
        if identity:
            seen[identity] = number
        rows.append([str(number), *cells])
    return ["_row", *header], [rows[start : start + size] for start in range(0, len(rows), size)], repeated


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _import(client: Client, args: argparse.Namespace) -> int:
    from tqdm import tqdm  # type: ignore[import-untyped]  # (no stubs installed: types-tqdm)

    if not 1 <= args.chunk <= 1000:
        raise ValueError("--chunk must be from 1 to 1000 rows")
    header, parts, repeated = chunks(args.file.read_text(encoding="utf-8-sig"), args.chunk, args.phone_region)
    total: dict[str, Any] = {
        "rows": len(repeated),
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": len(repeated),
        "errors": [],
        "duplicates": list(repeated),
    }
    with tqdm(
        total=sum(len(p) for p in parts) + len(repeated),
        initial=len(repeated),
        unit="row",
        file=sys.stderr,
        disable=args.no_progress,
        desc=args.file.name,
    ) as bar:
        for part in parts:
            query: dict[str, str] = {}
            if args.phone_region:
                query["region"] = args.phone_region
            if args.dry_run:
                query["dry_run"] = "true"
            answer = client.request("POST", "/contacts/import", query, _csv(header, part), {"Content-Type": "text/csv"})
            report = _checked(answer)
            for key, value in report.items():
                if key in total and isinstance(value, (list, int)) and not isinstance(value, bool):
                    total[key] += value
            bar.update(len(part))
    for key in ("errors", "duplicates"):
        total[key].sort(key=lambda found: found["row"])
    if args.dry_run:
        total["dry_run"] = True
    text = json.dumps(total, indent=2, sort_keys=True)
    if args.report:
        args.report.write_text(text + "\n")
    else:
        print(text)
    print(
        f"{total['rows']} rows: {total['created']} created, {total['updated']} updated, {total['unchanged']} unchanged, "
        f"{total['skipped']} skipped ({len(total['errors'])} with errors, {len(total['duplicates'])} repeated)",
        file=sys.stderr,
    )
    return 0 if not total["errors"] else 1


def _export(client: Client, args: argparse.Namespace) -> int:
    query = {"format": args.format}
    for name in ("tag", "list", "fulfillment", "segment"):
        if getattr(args, name):
            query[name] = getattr(args, name)
    out: BinaryIO = args.output.open("wb") if args.output else sys.stdout.buffer
    pages = written = 0
    try:
        while True:
            answer = client.request("GET", "/contacts/export", query)
            if not 200 <= answer.status < 300:
                _checked(answer)
            out.write(answer.body)
            out.flush()
            pages += 1
            written += answer.body.count(b"\n")
            cursor = {k.lower(): v for k, v in answer.headers.items()}.get(NEXT_HEADER.lower())
            if not cursor:
                break
            query["next"] = cursor
    finally:
        if args.output:
            out.close()
    print(f"{pages} pages, {written} lines" + (f" -> {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _erase(client: Client, args: argparse.Namespace) -> int:
    contact_id = _contact_id(client, args.contact)
    answer = client.json("DELETE", _path(contact_id), {"suppress": "true" if args.suppress else "false"})
    audit = answer["audit"]
    items = sum(int(v) for v in (audit.get("counts") or {}).values())
    done = "was already erased" if answer.get("already_erased") else f"erased: {items} items"
    print(
        f"{contact_id} {done} (by {audit.get('by')} at {audit.get('at')}; address kept as a suppression hash: "
        f"{audit.get('suppression')})"
    )
    return 0


def _data(client: Client, args: argparse.Namespace) -> int:
    answer = client.request("GET", _path(_contact_id(client, args.contact)) + "/data")
    body = _checked(answer)
    text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"{len(body.get('items', []))} items -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


ACTIONS = {
    "search": _search,
    "show": _show,
    "enroll": _enroll,
    "remove": _remove,
    "import": _import,
    "export": _export,
    "erase": _erase,
    "data": _data,
}
