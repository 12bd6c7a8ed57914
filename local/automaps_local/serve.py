"""`automaps serve`: the backend on localhost, on moto, with a scaled virtual clock.

    automaps serve                       # real time (--time-scale 1)
    automaps serve --time-scale 86400    # a virtual day per real second

Loads template.yaml into a ``LocalRuntime``, pushes the content (templates, forms, map
registry), serves the API routes and ``/_local/`` endpoints (``automaps_local.http``) and prints
one line per history event, email, SMS and failed execution as they happen, in virtual time.
Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automaps_local import observe
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime

LOG = logging.getLogger("automaps.serve")
QUIET = {"POWERTOOLS_METRICS_DISABLED": "true"}  # EMF metric blobs on stdout would drown the live log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="virtual seconds per real second (3600: an hour per second); default 1.0",
    )
    pace.add_argument(
        "--fast-forward",
        action="store_true",
        help="jump virtual time to the next wait's end whenever every journey is asleep",
    )
    parser.add_argument(
        "--start", type=parse_time, default=None, help="virtual start time, e.g. 2026-11-23T09:00:00Z (default: now)"
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the handlers' Powertools log level (template parameter LogLevel)",
    )


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    template = args.template.resolve()
    add_repository_to_path(template.parent)
    start = args.start or (datetime.now(UTC).replace(microsecond=0) if args.fast_forward else None)
    clock = VirtualClock(start=start, time_scale=None if args.fast_forward else args.time_scale)
    url = f"http://{args.host}:{args.port}"
    with LocalRuntime(
        template,
        clock=clock,
        public_url=url,
        missing_definitions="skip",
        environment=QUIET,
        parameters=_parameters(template, args.log_level),
    ) as runtime:
        push_content(runtime)
        server = make_server(runtime, args.host, args.port)
        clock.rebase()  # virtual time starts now, not when set-up began
        print_banner(runtime, url)
        feed = Feed(runtime)
        stop = threading.Event()
        threading.Thread(target=feed.follow, args=(stop, print), daemon=True).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping")
        finally:
            stop.set()
            server.server_close()
    return 0


def add_repository_to_path(root: Path) -> None:
    """Handlers are imported as ``functions.<dir>.app``: the repository root must be importable."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def _parameters(template: Path, log_level: str) -> dict[str, Any]:
    from automaps_local.template import Template

    return {"LogLevel": log_level} if "LogLevel" in Template.load(template).parameter_defaults() else {}


def make_server(runtime: LocalRuntime, host: str, port: int) -> Any:
    from werkzeug.serving import make_server as werkzeug_server

    from automaps_local.http import LocalApi

    return werkzeug_server(host, port, LocalApi(runtime, host=host), threaded=True)


def push_content(runtime: LocalRuntime) -> dict[str, int] | None:
    """Upload content/templates, content/forms and the map registry, as `automaps push` does
    for a deployed stack; skipped (with a log line) for a folder with neither content/ nor maps/."""
    from automaps_local.push import push_all

    if not any((runtime.root / folder).is_dir() for folder in ("content", "maps")):
        LOG.info("content not pushed: no content/ or maps/ next to %s", runtime.template_path.name)
        return None
    counts = push_all(runtime.root, runtime.state_machine_arn)
    LOG.info("content pushed: %s", counts)
    return counts


def print_banner(runtime: LocalRuntime, url: str) -> None:
    clock = runtime.clock
    speed = "discrete-event" if clock.discrete else f"x{clock.time_scale:g} real time"
    print(f"automaps local API on {url}   virtual time {observe.iso(clock.now())} ({speed})")
    for map_id, arn in sorted(runtime.state_machines.items()):
        print(f"  map {map_id:<24} {arn}")
    for logical, why in sorted(runtime._stack.skipped_state_machines.items()):
        print(f"  map {logical:<24} NOT DEPLOYED: {why}")
    for route in runtime.routes():
        print(f"  {route.method:<6} {url}{route.path}  -> {route.function}")
    if any(route.path == "/console" for route in runtime.routes()):
        from automaps_local.http import host_name, is_loopback

        loopback = is_loopback(host_name(url.split("//", 1)[1]))
        print(f"  console: {url}/console  ({'no sign-in on loopback' if loopback else 'sign-in required: 401'})")
    print(
        f"  local: {url}/_local/outbox  /_local/contacts?email=  /_local/executions  /_local/clock"
        "  POST /_local/clock/advance?seconds=N"
    )
    print("Ctrl-C to stop.", flush=True)


class Feed:
    """What happened since the last poll, as printable lines ordered by virtual time."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self._history: set[str] = set()
        self._messages: set[str] = set()
        self._failures: set[str] = set()

    def poll(self) -> list[str]:
        lines = [(e["at"] or "", history_line(e)) for e in observe.history_since(self._history)]
        outbox = self.runtime.outbox()
        for email in outbox["emails"]:
            if email["id"] not in self._messages:
                self._messages.add(email["id"])
                used = f"  [template {email['template']}]" if email.get("template") else ""
                lines.append(
                    (email["at"] or "", f"{email['at']}  email  to {', '.join(email['to'])}: {email['subject']}{used}")
                )
        for sms in outbox["sms"]:
            if sms["id"] not in self._messages:
                self._messages.add(sms["id"])
                lines.append((sms["at"] or "", f"{sms['at']}  sms    to {sms['to']}: {sms['text']}"))
        lines += [(observe.iso(self.runtime.clock.now()), line) for line in self._new_failures()]
        return [line for _, line in sorted(lines, key=lambda pair: pair[0])]

    def _new_failures(self) -> list[str]:
        from automaps import aws

        found = []
        for map_id, arn in self.runtime.state_machines.items():
            for status in ("FAILED", "TIMED_OUT", "ABORTED"):
                listed = aws.client("stepfunctions").list_executions(stateMachineArn=arn, statusFilter=status)
                for execution in listed["executions"]:
                    if execution["executionArn"] not in self._failures:
                        self._failures.add(execution["executionArn"])
                        found.append(f"execution {execution['name']} of {map_id} {status}")
        return found

    def follow(self, stop: threading.Event, emit: Any, every: float = 0.5) -> None:
        while not stop.wait(every):
            try:
                for line in self.poll():
                    emit(line, flush=True)
            except Exception:  # the log must not take the server down
                LOG.exception("live log failed")


def history_line(entry: dict[str, Any]) -> str:
    where = "/".join(part for part in (entry.get("map_id"), entry.get("step_id")) if part)
    return f"{entry['at']}  {entry['contact_id']}  {entry['kind']:<20} {where:<32} {describe(entry)}"


def describe(entry: dict[str, Any]) -> str:
    """A short human reading of a history entry's detail."""
    detail = entry.get("detail") or {}
    if detail.get("reason"):
        return str(detail["reason"])
    if "result" in detail:
        return f"result: {detail['result']}"
    keys = ("template", "to", "added", "removed", "form", "enrollment_id", "error", "set", "text")
    shown = [f"{key}={detail[key]}" for key in keys if detail.get(key) not in (None, [], {})]
    return ", ".join(shown)[:160]
