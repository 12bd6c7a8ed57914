"""What a simulation shows: for one contact its timeline and messages; for many, how many took
each path through the map and where they ended.

A contact's *path* is the sequence of what the map did with it, from its history: each step done
(``tag-lead``), skipped (``nudge-email skipped``), failed (``x FAILED``) or of unknown outcome,
and each condition's answer (``engaged: no``). Where it *ended*: ``exited: <reason>``, ``waiting
at <step> until <time>`` (still in the map at the horizon), or ``did not enter``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automaps_local.serve import describe

FAILED_KINDS = {"step.failed": "FAILED", "step.outcome_unknown": "OUTCOME UNKNOWN"}
STEP_KINDS = {"step.done": "", "step.skipped": " skipped", **{k: f" {v}" for k, v in FAILED_KINDS.items()}}
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
ARROW = " -> "
COUNTED = {"step.done": "done", "step.skipped": "skipped", "step.failed": "failed", "step.outcome_unknown": "unknown"}


@dataclass
class Outcome:
    email: str
    contact: dict[str, Any] | None
    executions: list[dict[str, Any]]
    path: list[str]
    ended: str
    failed: list[str]  # why the run counts as failed: failed steps, failed executions
    notes: list[str] = field(default_factory=list)  # events that could not happen
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step id, done|skipped|failed|unknown|yes|no|...)

    @property
    def entered(self) -> bool:
        return bool(self.executions)

    @property
    def ok(self) -> bool:
        return self.entered and not self.failed


def outcome(map_id: str, email: str, executions: list[dict[str, Any]], notes: list[str] | None = None) -> Outcome:
    """Where the contact with ``email`` went in map ``map_id`` (``executions``: the map's, described)."""
    from automaps_local import observe

    contact_id = observe.contact_id_for(email)
    contact = observe.contact(contact_id) if contact_id else None
    mine = [e for e in executions if contact_id and (e["input"] or {}).get("contact_id") == contact_id]
    history = [e for e in (contact or {}).get("history", []) if e.get("map_id") == map_id]
    path, failed, steps = [], [], []
    for entry in history:
        kind, step = entry["kind"], entry.get("step_id") or "?"
        if kind in STEP_KINDS:
            path.append(f"{step}{STEP_KINDS[kind]}")
            steps.append((step, COUNTED[kind]))
        elif kind == "condition.evaluated":
            result = (entry.get("detail") or {}).get("result")
            path.append(f"{step}: {_answer(result)}")
            steps.append((step, _answer(result)))
        if kind in FAILED_KINDS:
            failed.append(f"step {step} {FAILED_KINDS[kind].lower()}: {describe(entry)}")
    for execution in mine:
        if execution["status"] in FAILED_STATUSES:
            failed.append(
                f"execution {execution['name']} {execution['status']}: "
                f"{execution['error'] or ''} {(execution['cause'] or '')[:300]}".rstrip()
            )
    ended = _ended(map_id, contact, history, mine)
    return Outcome(email, contact, mine, path, ended, failed, notes or [], steps)


def counts(results: list[Outcome]) -> dict[str, dict[str, int]]:
    """Per step id, how many contacts' runs did what there (``automaps.maps.graph``'s counts)."""
    found: dict[str, Counter[str]] = {}
    for result in results:
        for step, what in result.steps:
            found.setdefault(step, Counter())[what] += 1
    return {step: dict(counter) for step, counter in found.items()}


def _answer(result: Any) -> str:
    if result is True:
        return "yes"
    if result is False:
        return "no"
    return str(result)


def _ended(
    map_id: str, contact: dict[str, Any] | None, history: list[dict[str, Any]], executions: list[dict[str, Any]]
) -> str:
    if not executions:
        return "did not enter"
    if any(e["status"] == "RUNNING" for e in executions):
        live = [
            e
            for e in (contact or {}).get("enrollments", [])
            if e.get("map_id", map_id) == map_id
            and e.get("status") in ("active", "waiting", "paused")
            and str(e.get("sk", "")).startswith(f"ENROLL#{map_id}#")
        ]
        position = (live[-1].get("position") or {}) if live else {}
        if position.get("step"):
            until = f" until {position['until']}" if position.get("until") else ""
            return f"waiting at {position['step']}{until}"
        return "still in the map"
    exits = [e for e in history if e["kind"] == "map.exited"]
    if exits:
        detail = exits[-1].get("detail") or {}
        return f"exited: {detail.get('reason') or detail.get('result') or exits[-1].get('step_id') or 'done'}"
    statuses = sorted({e["status"] for e in executions})
    return f"execution {', '.join(statuses)}"


# ---------------------------------------------------------------------- one contact
def print_one(runtime: Any, result: Outcome, fields: dict[str, Any]) -> None:
    print_timeline(result.contact)
    print_messages(runtime, fields)
    for execution in result.executions:
        problem = f" {execution['error']}: {(execution['cause'] or '')[:300]}" if execution["error"] else ""
        print(f"execution {execution['name']}: {execution['status']}{problem}")
    print(f"\npath: {ARROW.join(result.path) or '(no step)'}")
    print(f"ended: {result.ended}")
    for note in result.notes:
        print(f"note: {note}")
    for failure in result.failed:
        print(f"failed: {failure}")


def print_timeline(contact: dict[str, Any] | None) -> None:
    if contact is None:
        print("no contact was created")
        return
    rows = [
        (e["at"] or "", e.get("step_id") or e.get("map_id") or "", e["kind"], describe(e)) for e in contact["history"]
    ]
    print(f"\ncontact {contact['contact_id']}  tags: {', '.join(contact['tags']) or '-'}")
    print_table(["virtual time", "step", "outcome", "reason / detail"], rows)


def print_messages(runtime: Any, fields: dict[str, Any]) -> None:
    email, phone = str(fields.get("email", "")).lower(), _digits(fields.get("phone"))
    outbox = runtime.outbox()
    rows = [
        (m["at"] or "", "email", ", ".join(m["to"]), m.get("template") or "-", m["subject"] or "")
        for m in outbox["emails"]
        if email in (address.lower() for address in m["to"])
    ]
    rows += [
        (m["at"] or "", "sms", m["to"], "-", m["text"]) for m in outbox["sms"] if phone and _digits(m["to"]) == phone
    ]
    print()
    print_table(["virtual time", "channel", "to", "template", "subject / text"], sorted(rows))


def _digits(phone: Any) -> str:
    return "".join(ch for ch in str(phone or "") if ch.isdigit())


def print_table(header: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    widths = [min(40, max([len(h)] + [len(str(r[i])) for r in rows])) for i, h in enumerate(header[:-1])]
    for row in [tuple(header), tuple("-" * len(h) for h in header), *rows]:
        cells = [str(cell)[:width].ljust(width) for cell, width in zip(row, widths)]
        print("  ".join([*cells, str(row[-1])[:120]]).rstrip())


# ---------------------------------------------------------------------- many contacts
def print_many(map_id: str, results: list[Outcome]) -> None:
    entered = sum(r.entered for r in results)
    print(f"\n{map_id}: {len(results)} contacts, {entered} entered, {sum(bool(r.failed) for r in results)} failed")
    print("\npaths:")
    for path, count in _ranked(ARROW.join(r.path) or "(no step)" for r in results if r.entered):
        print(f"  {count:>6}  {path}")
    print("\nended:")
    for ended, count in _ranked(r.ended for r in results):
        print(f"  {count:>6}  {ended}")
    problems = [(r.email, line) for r in results for line in [*r.failed, *(f"note: {n}" for n in r.notes)]]
    if problems:
        print("\nproblems:")
        for email, line in problems[:20]:
            print(f"  {_masked(email)}: {line}")
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")


def _ranked(values: Any) -> list[tuple[str, int]]:
    return sorted(Counter(values).items(), key=lambda pair: (-pair[1], pair[0]))


def _masked(email: str) -> str:
    from automaps.store.contacts import mask_email

    return mask_email(email)
