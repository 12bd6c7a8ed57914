"""`automaps stats [<map id>]`: the numbers per map and step (automaps.journeys.stats).

    automaps stats --local http://localhost:3000          every map on `automaps serve`
    automaps stats welcome-leads --stack-name automaps    one map of a deployed stack
    automaps stats welcome-leads --json                   the read_map dict, as JSON

Per map: contacts entered, active (inside now) and exited (by reason); per step: contacts waiting
there now, done, skipped, failed; per email step sent, delivered, opened, clicked, bounced,
complained, unsubscribed, with rates per email sent (opened and clicked count each message
once); per SMS step sent. The counters are kept from the history's stream by the router, so
reading them is one Query per map, never a scan of contacts.

Without ``--local``, the counters are read from DynamoDB: the stack's tables with ``--stack-name``
(found through CloudFormation, as `automaps push`; needs dynamodb:Query on the contacts table and
read access to the content table), else the tables the environment names. With ``--local`` the
running `automaps serve` answers (``GET /_local/stats``). Exit 0, 1 for an unknown map, 2 when the
numbers cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from automaps_local.test_email import add_stack_arguments, use_stack

EMAIL_COLUMNS = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed")
SMS_COLUMNS = ("sent", "delivered", "clicked", "unsubscribed")
STEP_COLUMNS = ("waiting", "done", "skipped", "failed")


class StatsError(RuntimeError):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map_id", nargs="?", help="one map (default: every registered map)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_stack_arguments(parser)
    parser.add_argument("--local", metavar="URL", help="ask a running `automaps serve` (e.g. http://localhost:3000)")


def from_local(base_url: str, map_id: str | None) -> Any:
    """``GET /_local/stats[?map=]`` of a running `automaps serve`."""
    query = f"?{urllib.parse.urlencode({'map': map_id})}" if map_id else ""
    url = base_url.rstrip("/") + "/_local/stats" + query
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise StatsError(f"--local {base_url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # (http(s) only, checked above)
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        message = _message(error.read()) or f"HTTP {error.code}"
        raise StatsError(message, 1 if error.code in (400, 404) else 2) from None
    except (urllib.error.URLError, OSError) as error:
        raise StatsError(f"cannot reach {base_url} ({error}); is `automaps serve` running?") from None


def _message(body: bytes) -> str | None:
    try:
        return str(json.loads(body).get("message"))
    except (ValueError, AttributeError):
        return None


def from_tables(map_id: str | None) -> Any:
    """The counters read from DynamoDB (automaps.api.stats: the same answers as the admin API)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from automaps.api import stats

    try:
        reply = stats.read(map_id) if map_id is not None else stats.read_all()
    except (ClientError, BotoCoreError, KeyError) as error:
        raise StatsError(f"the counters cannot be read: {error}") from None
    payload = json.loads(reply.body)
    if reply.status != 200:
        raise StatsError(str(payload.get("message")), 1 if reply.status in (400, 404) else 2)
    return payload if map_id is not None else payload["maps"]


def _cell(step: dict[str, Any], name: str) -> str:
    if name not in step:
        return ""
    rate = (step.get("rates") or {}).get(name)
    return f"{step[name]} ({rate:.0%})" if rate is not None and step.get("sent") else str(step[name])


def table(numbers: dict[str, Any]) -> str:
    """One map's numbers as a plain-text table: the map's line, then a row per step."""
    exits = ", ".join(f"{reason} {n}" for reason, n in (numbers.get("exits") or {}).items())
    head = (
        f"{numbers['map_id']}: entered {numbers['entered']}, active {numbers['active']}, "
        f"exited {numbers['exited']}" + (f" ({exits})" if exits else "")
    )
    steps: dict[str, dict[str, Any]] = numbers.get("steps") or {}
    if not steps:
        return head + "\n  (no steps counted yet)"
    messages = [c for c in EMAIL_COLUMNS if any(c in step for step in steps.values())]
    columns = ["step", *STEP_COLUMNS, *messages]
    rows = [columns] + [
        [step_id, *(_cell(step, c) for c in STEP_COLUMNS), *(_cell(step, c) for c in messages)]
        for step_id, step in steps.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    return "\n".join([head, *(line.rstrip() for line in lines)])


def run(args: argparse.Namespace) -> int:
    try:
        if args.local:
            found = from_local(args.local, args.map_id)
        else:
            use_stack(args.stack_name, args.region)
            found = from_tables(args.map_id)
    except StatsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except Exception as error:  # noqa: BLE001  (a stack not found, no credentials: said in one line)
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found, indent=2))  # (steps in reading order)
        return 0
    maps = [found] if isinstance(found, dict) else found
    if not maps:
        print("no maps registered")
    print("\n\n".join(table(numbers) for numbers in maps))
    return 0
