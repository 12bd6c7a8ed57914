"""`automaps simulate`: contacts through a map, as written, on the discrete-event clock.

    automaps simulate maps/welcome-leads.yaml --contact '{"email": "jane@example.com", "age": 50}' \\
        [--event "after 1 day: opened welcome-email"] [--event "after 3 days: purchase.made course-101"]
    automaps simulate maps/welcome-leads.yaml --contacts leads.jsonl|leads.csv [--event ...]
    automaps simulate maps/welcome-leads.yaml --segment newsletter-readers --stack-name shop

The map file is loaded, validated (every problem named by file, step and field: exit 2) and
compiled in memory, and that definition is what runs (``simulate.deploy``): never a compiled
``statemachines/<id>.asl.json``, which may be stale, and a map template.yaml does not deploy yet
simulates too. Each contact enters as in production when the map has a form trigger: its fields
posted to ``/forms/<form>`` through the local HTTP front and the public API handler (without one,
the execution is started directly). Events (``simulate.events``) happen at their virtual moment
after entry, through the same paths production uses. The clock jumps from deadline to deadline
until every execution ends (or the horizon).

One contact: its history and the messages sent (with each email's template) as a timeline, its
path and where it ended. Many: how many took each path and where they ended, with a progress
bar on stderr. Exit 0 when every contact entered and no step or execution failed; 1 otherwise;
2 for bad input (the map, a contact, an event).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automaps_local.simulate.events import Event, EventError, inject
from automaps_local.simulate.population import Person, PopulationError

DEFAULT_START = "2026-11-23T09:00:00+00:00"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from automaps_local.serve import parse_time
    from automaps_local.test_email import add_stack_arguments

    parser.add_argument("map", type=Path, help="maps/<map>.yaml (the file as it is now)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--contact", help="one contact: a JSON file of its fields, or the JSON itself")
    who.add_argument("--contacts", type=Path, help="many contacts: a .jsonl (one object a line) or .csv file")
    who.add_argument("--segment", help="the members of this segment of --stack-name, simulated locally")
    parser.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="'after N unit: what'",
        help="something that happens to every contact, e.g. 'after 1 day: opened welcome-email' (repeatable)",
    )
    parser.add_argument("--form", help="the form to submit (default: the map's form_submitted trigger)")
    parser.add_argument(
        "--enter",
        choices=["form", "start", "events"],
        help="how contacts enter: form (post the form; the default when the map has a form trigger), start "
        "(enrolled directly, the map's entry rule applied; the default otherwise) or events (only create the contact: the --event "
        "entries, e.g. 'after 0 minutes: tag vip', enroll it through the map's triggers)",
    )
    parser.add_argument(
        "--start",
        type=parse_time,
        default=datetime.fromisoformat(DEFAULT_START),
        help="virtual start time (default 2026-11-23T09:00:00Z)",
    )
    parser.add_argument("--until-days", type=float, default=400.0, help="virtual horizon in days (default 400)")
    parser.add_argument("--limit", type=int, help="with --segment: at most this many members")
    parser.add_argument(
        "--template", type=Path, default=Path("template.yaml"), help="the stack to run on (default template.yaml)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--graph",
        type=Path,
        help="also draw the map with what the simulated contacts did at each step: FILE.svg, or Mermaid text",
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from automaps.maps.loader import MapError
    from automaps_local.serve import add_repository_to_path
    from automaps_local.simulate import deploy, events, population

    template = args.template.resolve()
    if not template.is_file():
        print(f"error: no {template} (the stack the simulation runs on; --template)", file=sys.stderr)
        return 2
    if args.graph is not None and not args.graph.parent.is_dir():
        print(f"error: --graph {args.graph}: no folder {args.graph.parent}", file=sys.stderr)
        return 2
    add_repository_to_path(template.parent)
    try:
        map_, maps = deploy.load(args.map, template.parent)
    except (MapError, OSError) as error:
        print(f"{error}" if isinstance(error, MapError) else f"error: {args.map}: {error}", file=sys.stderr)
        return 2
    try:
        shared = [events.parse(text, map_) for text in args.event]
        if args.until_days <= 0:
            raise PopulationError(f"--until-days {args.until_days:g}: the horizon must be after the start")
        if args.limit is not None and (args.limit < 1 or not args.segment):
            raise PopulationError("--limit takes a number of at least 1, with --segment")
        if args.segment and not args.stack_name:
            raise PopulationError("--segment needs --stack-name (the stack whose segment it is)")
        if args.contact is not None:
            people = population.one(args.contact)
        elif args.contacts is not None:
            people = population.many(args.contacts)
        else:
            people = population.segment(args.segment, args.stack_name, args.region, args.limit)
        own = [_own_events(person, map_) for person in people]
    except (EventError, PopulationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    plans = [(person, [*shared, *mine]) for person, mine in zip(people, own)]
    return simulate(args, template, map_, maps, plans)


def write_graph(path: Path, map_: Any, counts: dict[str, dict[str, int]]) -> None:
    """The map drawn (automaps.maps.graph) with the simulation's counts per step."""
    from automaps.maps.graph import to_mermaid, to_svg

    path.write_text(to_svg(map_, counts) if path.suffix.lower() == ".svg" else to_mermaid(map_, counts))
    print(f"graph with the simulated counts: {path}")


def _own_events(person: Person, map_: Any) -> list[Event]:
    """A contact's own ``_events``; an error names the contact (file and line) too."""
    from automaps_local.simulate import events

    try:
        return [events.parse(text, map_) for text in person.events]
    except EventError as error:
        raise EventError(f"{person.where}: {error}") from None


def simulate(args: argparse.Namespace, template: Path, map_: Any, maps: list[Any], plans: list[Any]) -> int:
    from automaps_local.clock import ClockTimeout, VirtualClock
    from automaps_local.push import ContentError
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import QUIET
    from automaps_local.simulate import deploy, report
    from automaps_local.template import TemplateError
    from automaps_local.wiring import WiringError

    clock = VirtualClock(start=args.start, auto_advance=False)  # time moves only when the simulation says
    with (
        _quiet_early_loggers(),
        LocalRuntime(
            template,
            clock=clock,
            missing_definitions="skip",
            environment=QUIET,
            parameters={"LogLevel": "ERROR"} if _has_log_level(template) else {},
            schedule_events=False,  # the hourly segment sweep has nothing to do here
        ) as runtime,
    ):
        try:
            deploy.deploy(runtime, maps)
        except (ContentError, WiringError, TemplateError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        form = args.form or _form_trigger(map_)
        enter = args.enter or ("form" if form else "start")
        run_ = Run(runtime, map_, form, enter, progress=not args.no_progress and len(plans) > 1)
        try:
            notes = run_.go(plans, horizon=timedelta(days=args.until_days))
        except ClockTimeout as error:
            print(f"error: the simulation did not settle: {error}", file=sys.stderr)
            return 1
        executions = runtime.executions(map_.id)
        results = [report.outcome(map_.id, p.email, executions, notes.get(p.email)) for p, _ in plans]
        if len(plans) == 1:
            report.print_one(runtime, results[0], plans[0][0].fields)
        else:
            report.print_many(map_.id, results)
        if args.graph is not None:
            write_graph(args.graph, map_, report.counts(results))
        if not run_.settled:
            print(f"horizon reached at {clock.now():%Y-%m-%dT%H:%M:%SZ} with contacts still in the map")
    return 0 if all(r.ok for r in results) else 1


class Run:
    """Enter the contacts at the start, then move the clock from event to event to the horizon."""

    def __init__(self, runtime: Any, map_: Any, form: str | None, enter: str, progress: bool = False) -> None:
        from werkzeug.test import Client

        from automaps_local.http import LocalApi

        self.runtime, self.map, self.form, self.how = runtime, map_, form, enter
        self.local = LocalApi(runtime)
        self.api = Client(self.local)
        self.progress = progress
        self.bar: Any = None
        self.settled = True

    def go(self, plans: list[tuple[Person, list[Event]]], horizon: timedelta) -> dict[str, list[str]]:
        clock = self.runtime.clock
        start = clock.now()
        notes: dict[str, list[str]] = {}
        self.bar = _bar("entering", len(plans)) if self.progress else None
        with clock.hold():
            for person, _ in plans:
                problem = self.enter(person, quiet=len(plans) > 1)
                if problem:
                    notes.setdefault(person.email, []).append(problem)
                if self.bar is not None:
                    self.bar.update(1)
        if self.bar is not None:
            self.bar.close()
            self.bar = _bar("journeys ended", len(plans))
        schedule = sorted(
            (
                (start + event.after, index, person, event)
                for index, (person, mine) in enumerate(plans)
                for event in mine
            ),
            key=lambda item: (item[0], item[1]),
        )
        end = start + horizon
        for at, group in itertools.groupby(schedule, key=lambda item: item[0]):
            due = list(group)
            if at > end:
                for _, _, person, event in due:
                    notes.setdefault(person.email, []).append(f"{event}: after the horizon, not played")
                continue
            self.advance(at)
            with clock.hold():  # everything due at this moment happens before the clock moves on
                for _, _, person, event in due:
                    note = inject(self.runtime, self.api, person.fields, event)
                    if note:
                        notes.setdefault(person.email, []).append(note)
        self.settled = self.advance(end, final=True)
        if self.bar is not None:
            self._tick()
            self.bar.close()
        return notes

    def advance(self, at: datetime, final: bool = False) -> bool:
        """Run to ``at`` (virtual), a day at a time for the progress bar, and until everything due by
        then is done (so an event at the very moment of entry or of a wait's end comes after it);
        True if nothing is left running."""
        clock = self.runtime.clock
        while True:
            pending = clock.stats()["next_deadline"]
            target = min(at, max(clock.now() + timedelta(days=1), pending or at))
            settled = self.runtime.run_until_settled(until=target, timeout=600)
            self._tick()
            if settled or clock.now() >= at:
                break
        if clock.now() < at and not final:  # everything ended before: time still passes until the event
            clock.advance((at - clock.now()).total_seconds())
        return settled or not clock.stats()["participants"]

    def enter(self, person: Person, quiet: bool = False) -> str | None:
        """Submit the form (or start the execution directly); a problem, or None."""
        if person.tags:
            from automaps.store.contacts import ContactStore

            ContactStore().upsert_by_email(person.email, {}, tags=person.tags)
        if self.how == "form" and self.form and self.local.match("POST", f"/forms/{self.form}"):
            response = self.api.post(f"/forms/{self.form}", json=person.fields, headers={"Accept": "application/json"})
            if not quiet:
                print(f"POST /forms/{self.form} -> {response.status_code} {response.get_data(as_text=True)[:200]}")
            return None if response.status_code < 400 else f"the form answered {response.status_code}"
        from automaps.store.contacts import ContactStore

        contact, _ = ContactStore().upsert_by_email(person.email, person.fields)
        if self.how == "events":
            return None
        from automaps.journeys import enrollment

        record = enrollment.map_record(self.map.id)
        assert record is not None  # deploy registered it
        event = {"type": "simulate", "at": clock_iso()}
        result = enrollment.enroll(record, contact.id, event, cause_id=f"simulate-{contact.id}")
        if not quiet:
            why = f" (no form route for {self.form!r})" if self.how == "form" else ""
            print(f"enrolled directly{why}: {result.outcome} {result.enrollment_id} {result.reason or ''}".rstrip())
        return None if result.outcome == "enrolled" else f"not enrolled: {result.reason}"

    def _tick(self) -> None:
        """The bar: journeys ended so far (every contact's run that is no longer a participant of the clock)."""
        if self.bar is None:
            return
        running = int(self.runtime.clock.stats()["participants"])
        self.bar.n = max(0, self.bar.total - running)
        self.bar.set_postfix_str(f"virtual {self.runtime.clock.now():%Y-%m-%d}", refresh=True)


def _bar(what: str, total: int) -> Any:
    from tqdm import tqdm  # type: ignore[import-untyped]  # (no stubs installed: types-tqdm)

    return tqdm(total=total, desc=what, unit="contact", file=sys.stderr, leave=False)


def clock_iso() -> str:
    from automaps import clock

    return clock.iso()


def _form_trigger(map_: Any) -> str | None:
    for trigger in map_.triggers:
        if trigger.kind == "form_submitted":
            return str(trigger.form_submitted.form)
    return None


@contextlib.contextmanager
def _quiet_early_loggers() -> Iterator[None]:
    """Loading the map imported layer modules whose Powertools loggers read their level before the
    runtime set the template's (LogLevel ERROR): they log as ``service_undefined`` at INFO."""
    early = logging.getLogger("service_undefined")
    before = early.level
    early.setLevel(logging.ERROR)
    try:
        yield
    finally:
        early.setLevel(before)


def _has_log_level(template: Path) -> bool:
    from automaps_local.template import Template

    return "LogLevel" in Template.load(template).parameter_defaults()
