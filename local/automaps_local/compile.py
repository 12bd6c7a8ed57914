"""``automaps compile``: maps/*.yaml -> statemachines/<map id>.asl.json.

With ``--check`` nothing is written: the command lists the definitions that are stale, missing
or left over from a deleted map, and exits 1 if there are any (for CI and `make check`). A map
with errors prints them and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from automaps.maps.compiler import compile_map, to_json
from automaps.maps.loader import MapError, load_maps

SUFFIX = ".asl.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--maps", default="maps", type=Path, help="directory of map files (default: maps)")
    parser.add_argument(
        "--out", default="statemachines", type=Path, help="directory of compiled definitions (default: statemachines)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any definition is stale, missing or extra"
    )
    parser.add_argument(
        "--template",
        default=None,
        type=Path,
        help="SAM template whose state machines must deploy the maps "
        "(default: template.yaml beside the maps folder; skipped if absent)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        wanted = {f"{map_.id}{SUFFIX}": to_json(compile_map(map_)) for map_ in load_maps(args.maps)}
    except MapError as error:
        print(error, file=sys.stderr)
        return 2
    out: Path = args.out
    wiring = _wiring_problems(
        args.template or args.maps.parent / "template.yaml", [name.removesuffix(SUFFIX) for name in wanted]
    )
    for line in wiring:
        print(line, file=sys.stderr)
    present = {path.name for path in out.glob(f"*{SUFFIX}")} if out.is_dir() else set()
    stale = sorted(name for name in wanted.keys() & present if (out / name).read_text(encoding="utf-8") != wanted[name])
    missing = sorted(wanted.keys() - present)
    extra = sorted(present - wanted.keys())
    if args.check:
        return max(_report(out, stale, missing, extra), 1 if wiring else 0)
    out.mkdir(parents=True, exist_ok=True)
    for name in [*stale, *missing]:
        (out / name).write_text(wanted[name], encoding="utf-8")
        print(f"wrote {out / name}")
    for name in extra:
        (out / name).unlink()
        print(f"removed {out / name} (no map has this id)")
    print(f"{len(wanted)} map(s) compiled to {out}/, {len(stale) + len(missing) + len(extra)} file(s) changed")
    return 0


def _wiring_problems(template: Path, map_ids: list[str]) -> list[str]:
    """What template.yaml lacks to deploy these maps (see automaps_local.wiring)."""
    if not template.is_file():
        return []
    from automaps_local.template import Template
    from automaps_local.wiring import check

    return check(Template.load(template), map_ids, template.parent)


def _report(out: Path, stale: list[str], missing: list[str], extra: list[str]) -> int:
    problems = (
        [f"stale: {out / name} (the map changed; run `automaps compile`)" for name in stale]
        + [f"missing: {out / name} (run `automaps compile`)" for name in missing]
        + [f"extra: {out / name} (no map has this id; run `automaps compile` to remove it)" for name in extra]
    )
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{out}/ is up to date")
    return 1 if problems else 0
