"""`automaps explain <email|phone|contact id>`: a contact's journeys in plain language, from the history.

    automaps explain jane@example.com                              # every map they met
    automaps explain jane@example.com --why-not thank-you-sms      # why that step did not reach them
    automaps explain +14155550134 --map welcome-leads --json
    automaps explain c_0123... --stack-name shop --region eu-west-1  # on a deployed stack
    automaps explain jane@example.com --local http://localhost:3000  # on `automaps serve`

How and when they entered each map (or why an entry was refused), each step done, skipped,
failed or held back and why, the inputs every condition saw, where they are now and what happens
next and when (``automaps.journeys.explain``). ``--why-not <step>`` says why a step did not reach
them: not enrolled, a branch that went the other way, only_if, suppression, quiet hours or a send
rate, still waiting, exited before it, failed; or when it did. Its map is ``--map``, else the one
deployed map with a step of that id.

With ``--stack-name`` the stack's tables are read directly (DynamoDB: the caller needs
``dynamodb:GetItem``/``Query`` on the contacts table and ``GetItem``/``Scan`` on the content table);
``--local URL`` asks a running ``automaps serve`` (``GET /_local/explain``); without either, the
tables of the environment (``CONTACTS_TABLE``, ``CONTENT_TABLE``). An unknown contact, map or
step is a message and exit code 2.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contact", help="the contact's email address, phone number or contact id")
    parser.add_argument("--why-not", metavar="STEP", help="why this step (its id) did not reach the contact")
    parser.add_argument("--map", metavar="ID", help="only this map (and the map of --why-not's step)")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    add_stack_arguments(parser)
    parser.add_argument("--local", metavar="URL", help="ask a running `automaps serve`, e.g. http://localhost:3000")


def run(args: argparse.Namespace) -> int:
    if args.local and args.stack_name:
        print("error: give either --stack-name or --local, not both", file=sys.stderr)
        return 2
    if args.local:
        return _print(*_ask_local(args.local, args.contact, args.why_not, args.map), as_json=args.json)
    from botocore.exceptions import BotoCoreError, ClientError

    from automaps.config import ConfigError
    from automaps.journeys.explain import ExplainError, answer

    try:
        use_stack(args.stack_name, args.region)
        found = answer(args.contact, why_not_step=args.why_not, map_id=args.map)
    except ExplainError as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    except ConfigError:
        print(
            "error: no tables to read: give --stack-name <stack> (a deployed stack), --local <url> (automaps "
            "serve), or set CONTACTS_TABLE and CONTENT_TABLE",
            file=sys.stderr,
        )
        return 2
    except (ClientError, BotoCoreError) as error:
        where = f"stack {args.stack_name}" if args.stack_name else "the tables of the environment"
        print(f"error: reading {where} failed: {error}", file=sys.stderr)
        return 1
    return _print(found.text(), found.to_dict(), 0, as_json=args.json)


def _ask_local(url: str, who: str, why_not: str | None, map_id: str | None) -> tuple[str, dict[str, Any], int]:
    """``GET <url>/_local/explain?contact=...``: (text, body, exit code)."""
    query = {"contact": who, **({"why_not": why_not} if why_not else {}), **({"map": map_id} if map_id else {})}
    address = f"{url.rstrip('/')}/_local/explain?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(address, timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message") or str(error)
        except ValueError:
            message = str(error)
        return f"error: {message}\n", {"message": message}, 2 if error.code in (400, 404) else 1
    except (urllib.error.URLError, OSError, ValueError) as error:
        message = f"cannot reach automaps serve at {url}: {error}"
        return f"error: {message}\n", {"message": message}, 1
    return str(body.pop("text", "")), body, 0


def _print(text: str, body: dict[str, Any], code: int, *, as_json: bool) -> int:
    if code:
        print(text.rstrip("\n"), file=sys.stderr)
        return code
    if as_json:
        print(json.dumps(body, indent=2))
    else:
        print(text, end="")
    return 0
