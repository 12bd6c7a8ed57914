"""`automaps diff maps/<map>.yaml`: what publishing this edit of a map changes, and for whom.

    automaps diff maps/welcome-leads.yaml                      # against git HEAD's version of the file
    automaps diff maps/welcome-leads.yaml --against old.yaml   # against another file
    automaps diff maps/welcome-leads.yaml --stack-name shop    # against what the stack runs, counting there
    automaps diff maps/welcome-leads.yaml --json

Lists the steps added, removed and changed (what changed, in words: settings, conditions,
timing, the next step or branches) and the map's own changes (triggers, goals, settings), from
``automaps.maps.diff``. For each changed or removed step it says how many contacts sit on it now,
from their positions of record (``automaps.journeys.census``): on the stack's contacts table with
``--stack-name``, else on the tables of the environment (the local runtime, tests on moto) when
``CONTACTS_TABLE`` is set. ``--no-count`` skips that count (a Scan of the contacts table, which
reads every item of the table); ``--scan-segments N`` spreads it over N parallel segments.

With ``--stack-name`` the old side is the map the stack's registry holds (``automaps push``
stores it); without, git HEAD's version of the file, or ``--against``. A file HEAD does not hold
is a new map: every step is added.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from automaps_local.test_email import add_stack_arguments, use_stack


class DiffError(RuntimeError):
    """The old side cannot be read; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", type=Path, help="the edited map file, e.g. maps/welcome-leads.yaml")
    parser.add_argument("--against", type=Path, help="compare with this map file instead of git HEAD's version")
    parser.add_argument("--json", action="store_true", help="print the diff and the counts as JSON")
    parser.add_argument("--no-count", action="store_true", help="do not count the contacts (no Scan)")
    parser.add_argument(
        "--scan-segments", type=int, default=1, help="count with a parallel Scan in this many segments (default 1)"
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from automaps.journeys.census import census
    from automaps.maps.diff import diff_maps
    from automaps.maps.loader import MapError, load_map

    try:
        new = load_map(args.map)
        if args.stack_name and args.against:
            raise DiffError("give either --stack-name (compare with the stack's registry) or --against, not both")
        use_stack(args.stack_name, args.region)
        old, against = (
            deployed(new.id, args.stack_name)
            if args.stack_name
            else (load_map(args.against), str(args.against))
            if args.against
            else from_git(args.map)
        )
    except (MapError, DiffError) as exc:
        print(f"error: {exc}")
        return 2
    diff = diff_maps(old, new)
    counted = None
    if not args.no_count and (args.stack_name or os.environ.get("CONTACTS_TABLE")):
        counted = census(new.id, segments=max(1, args.scan_segments))
    where = f"stack {args.stack_name}" if args.stack_name else "the local tables"
    if args.json:
        print(json.dumps(as_json(diff, counted, against, where if counted else None), indent=2))
    else:
        print("\n".join(as_text(diff, counted, args.map, against, where, new)))
    return 0


# ---------------------------------------------------------------- the old side


def from_git(path: Path) -> tuple[Any, str]:
    """The map as git HEAD holds the file (None: HEAD has no such file, a new map)."""
    from automaps.maps.loader import MapError, load_map

    folder = path.resolve().parent
    shown = subprocess.run(
        ["git", "-C", str(folder), "show", f"HEAD:./{path.name}"], capture_output=True, text=True, check=False
    )
    against = f"HEAD:{path}"
    if shown.returncode != 0:
        if "exists on disk, but not in" in shown.stderr or "does not exist in" in shown.stderr:
            return None, against
        raise DiffError(
            f"cannot read git HEAD's {path}: {shown.stderr.strip() or 'git failed'}; give --against <file> instead"
        )
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / path.name
        copy.write_text(shown.stdout, encoding="utf-8")
        try:
            return load_map(copy), against
        except MapError as exc:
            raise MapError(str(exc).replace(str(copy), against)) from None


def deployed(map_id: str, stack_name: str) -> tuple[Any, str]:
    """The map the stack's registry holds (None: the stack does not run this map yet)."""
    from pydantic import ValidationError

    from automaps.journeys.enrollment import map_record
    from automaps.maps.model import Map

    against = f"stack {stack_name}"
    record = map_record(map_id)
    if record is None:
        return None, against
    if record.source is None:
        raise DiffError(
            f"the registry of {stack_name} does not hold map {map_id!r} as written (it was pushed before automaps "
            "diff existed); run automaps push once, or compare with --against <file>"
        )
    try:
        return Map.model_validate(record.source), against
    except ValidationError as exc:
        raise DiffError(f"the map {map_id!r} deployed on {stack_name} no longer validates: {exc}") from None


# ---------------------------------------------------------------- output


def as_json(diff: Any, counted: Any, against: str, where: str | None) -> dict[str, Any]:
    body = {"against": against, **diff.model_dump(mode="json")}
    if counted is None:
        return {**body, "contacts": None}
    by_step = counted.by_step()
    for status in ("changed", "removed"):
        for step in body[status]:
            step["contacts"] = by_step.get(step["step"], 0)
    return {
        **body,
        "contacts": {
            "counted_on": where,
            "total": counted.total,
            "by_step": {step: by_step[step] for step in sorted(s for s in by_step if s is not None)},
            "starting": by_step.get(None, 0),
            "counts": [count.model_dump(mode="json") for count in counted.counts],
            "scanned": counted.scanned,
            "read_units": counted.read_units,
        },
    }


def as_text(diff: Any, counted: Any, path: Path, against: str, where: str, new: Any) -> list[str]:
    from automaps.maps.model import walk

    versions = f"{diff.old_version or '(none)'} -> {diff.new_version}"
    lines = [f"{diff.map_id}: {path} against {against} (content {versions})"]
    if diff.old_version is None:
        lines.append("  a new map: every step is added")
    if counted is None:
        lines.append("  contacts not counted (use --stack-name, or run inside the local runtime)")
    else:
        lines.append(f"  {_contacts(counted.total)} in the map now, on {where}{_by_version(counted, None)}")
        known = {ref.label for ref in walk(new)} | {step.step for step in diff.removed}
        elsewhere = sorted((step, n) for step, n in counted.by_step().items() if step is not None and step not in known)
        if elsewhere:
            steps = ", ".join(f"{step} ({n})" for step, n in elsewhere)
            lines.append(f"  on steps neither version has (an older version's): {steps}")
        if counted.at(None):
            lines.append(f"  {_contacts(counted.at(None))} starting (no step begun yet)")
    if diff.unchanged:
        return [*lines, "no changes"]
    for status, mark in (("added", "+"), ("removed", "-"), ("changed", "~")):
        steps = getattr(diff, status)
        if steps:
            lines.append(f"{status}:")
        for step in steps:
            sits = ""
            if counted is not None and status != "added":
                sits = f": {_contacts(counted.at(step.step))} on it now{_by_version(counted, step.step)}"
            unnamed = "" if step.named else ", no id: matched by position"
            lines.append(f"  {mark} {step.step} ({step.kind}, {step.path}{unnamed}){sits}")
            lines += [f"      {change.text}" for change in step.changes]
    if diff.map_changes:
        lines.append("map:")
        lines += [f"  {change.text}" for change in diff.map_changes]
    return lines


def _contacts(n: int) -> str:
    return f"{n} contact{'' if n == 1 else 's'}"


def _by_version(counted: Any, step: str | None) -> str:
    """`` (version 3: 2, version 4: 1)`` when the contacts (on ``step``; None: in the whole map) sit
    on more than one map version (positions that record none count as "no version")."""
    found: dict[str | None, int] = {}
    for count in counted.counts:
        if step is None or count.step == step:
            found[count.map_version] = found.get(count.map_version, 0) + count.contacts
    if len(found) < 2:
        return ""
    return (
        " ("
        + ", ".join(f"version {version}: {n}" if version else f"no version: {n}" for version, n in found.items())
        + ")"
    )
