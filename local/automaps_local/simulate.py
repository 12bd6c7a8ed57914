"""`automaps simulate`: one contact through one map on the discrete-event clock.

    automaps simulate maps/welcome-leads.yaml --contact examples/contact.json \
        [--form newsletter] [--start 2026-11-23T09:00:00Z] [--until-days 400]

The contact enters the way it would in production when the map has a form trigger: a POST of
the contact's fields to ``/forms/<form>`` through the local HTTP front and the public API
handler. Without one (or without a route for it) the execution is started directly, with a
deterministic name. Then the clock jumps from deadline to deadline until the execution ends (or
the horizon), and the contact's history and the messages sent are printed as a timeline.
Exit 0 when every execution of the map for this contact succeeded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import QUIET, add_repository_to_path, describe, parse_time, push_content


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", type=Path, help="maps/<map>.yaml")
    parser.add_argument("--contact", type=Path, required=True, help="a JSON object of the contact's fields")
    parser.add_argument("--form", help="the form to submit (default: the map's form_submitted trigger)")
    parser.add_argument(
        "--start",
        type=parse_time,
        default=datetime.fromisoformat("2026-11-23T09:00:00+00:00"),
        help="virtual start time (default 2026-11-23T09:00:00Z)",
    )
    parser.add_argument("--until-days", type=float, default=400.0, help="virtual horizon in days (default 400)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))


def run(args: argparse.Namespace) -> int:
    template = args.template.resolve()
    add_repository_to_path(template.parent)
    map_id, trigger_form = read_map(args.map)
    fields = json.loads(args.contact.read_text())
    clock = VirtualClock(start=args.start, auto_advance=False)  # time moves only in run_until_settled
    with LocalRuntime(
        template,
        clock=clock,
        missing_definitions="skip",
        environment=QUIET,
        parameters={"LogLevel": "ERROR"} if _has_log_level(template) else {},
        schedule_events=False,  # one contact through one map: the hourly segment sweep has nothing to do
    ) as runtime:
        if map_id not in runtime.state_machines:
            print(
                f"error: map {map_id!r} is not deployed by {template.name} "
                f"({', '.join(runtime._stack.skipped_state_machines.values()) or 'no state machine for it'})"
            )
            return 2
        push_content(runtime)
        with clock.hold():
            entered = enter(runtime, map_id, args.form or trigger_form, fields)
        if entered is not None:
            print(entered)
            return 1
        settled = runtime.run_until_settled(until=timedelta(days=args.until_days), timeout=120)
        return report(runtime, map_id, fields, settled)


def read_map(path: Path) -> tuple[str, str | None]:
    """The map's id and the form of its first ``form_submitted`` trigger, from the YAML as written."""
    data = yaml.safe_load(path.read_text()) or {}
    form = None
    for trigger in data.get("triggers") or []:
        if isinstance(trigger, dict) and isinstance(trigger.get("form_submitted"), dict):
            form = trigger["form_submitted"].get("form")
            break
    return str(data.get("id") or path.stem), form


def _has_log_level(template: Path) -> bool:
    from automaps_local.template import Template

    return "LogLevel" in Template.load(template).parameter_defaults()


# ---------------------------------------------------------------------- entering the map
def enter(runtime: LocalRuntime, map_id: str, form: str | None, fields: dict[str, Any]) -> str | None:
    """Submit the form (or start the execution directly); an error message, or None."""
    from werkzeug.test import Client

    from automaps_local.http import LocalApi

    api = LocalApi(runtime)
    if form and api.match("POST", f"/forms/{form}"):
        response = Client(api).post(f"/forms/{form}", json=fields, headers={"Accept": "application/json"})
        print(f"POST /forms/{form} -> {response.status_code} {response.get_data(as_text=True)[:200]}")
        return None if response.status_code < 400 else "the form submission was refused"
    contact_id = create_contact(fields)
    key = hashlib.sha256(f"{map_id}|{contact_id}".encode()).hexdigest()[:16]
    name = f"{map_id}-sim-{key}"
    runtime.start_execution(map_id, {"contact_id": contact_id, "enrollment_id": f"e_sim_{key}", "map_id": map_id}, name)
    print(f"started {name} directly (no form route for {form!r})" if form else f"started {name} directly")
    return None


def create_contact(fields: dict[str, Any]) -> str:
    from automaps.store.contacts import ContactStore

    contact, _ = ContactStore().upsert_by_email(fields["email"], fields)
    return contact.id


# ---------------------------------------------------------------------- the report
def report(runtime: LocalRuntime, map_id: str, fields: dict[str, Any], settled: bool) -> int:
    contact = runtime.contact(email=fields.get("email"))
    contact_id = contact["contact_id"] if contact else None
    executions = [e for e in runtime.executions(map_id) if (e["input"] or {}).get("contact_id") == contact_id]
    print_timeline(contact)
    print_messages(runtime, fields)
    for execution in executions:
        problem = f" {execution['error']}: {(execution['cause'] or '')[:300]}" if execution["error"] else ""
        print(f"execution {execution['name']}: {execution['status']}{problem}")
    if not settled:
        print(f"horizon reached at {runtime.clock.now():%Y-%m-%dT%H:%M:%SZ} with the contact still in the map")
    if not executions:
        print(f"the contact did not enter {map_id}")
    return 0 if executions and all(e["status"] == "SUCCEEDED" for e in executions) else 1


def print_timeline(contact: dict[str, Any] | None) -> None:
    if contact is None:
        print("no contact was created")
        return
    rows = [
        (e["at"] or "", e.get("step_id") or e.get("map_id") or "", e["kind"], describe(e)) for e in contact["history"]
    ]
    print(f"\ncontact {contact['contact_id']}  tags: {', '.join(contact['tags']) or '-'}")
    print_table(["virtual time", "step", "outcome", "reason / detail"], rows)


def print_messages(runtime: LocalRuntime, fields: dict[str, Any]) -> None:
    email, phone = str(fields.get("email", "")).lower(), _digits(fields.get("phone"))
    outbox = runtime.outbox()
    rows = [
        (m["at"] or "", "email", ", ".join(m["to"]), m["subject"] or "")
        for m in outbox["emails"]
        if email in (address.lower() for address in m["to"])
    ]
    rows += [(m["at"] or "", "sms", m["to"], m["text"]) for m in outbox["sms"] if phone and _digits(m["to"]) == phone]
    print()
    print_table(["virtual time", "channel", "to", "subject / text"], sorted(rows))


def _digits(phone: Any) -> str:
    return "".join(ch for ch in str(phone or "") if ch.isdigit())


def print_table(header: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    widths = [min(40, max([len(h)] + [len(str(r[i])) for r in rows])) for i, h in enumerate(header[:-1])]
    for row in [tuple(header), tuple("-" * len(h) for h in header), *rows]:
        cells = [str(cell)[:width].ljust(width) for cell, width in zip(row, widths)]
        print("  ".join([*cells, str(row[-1])[:120]]).rstrip())
