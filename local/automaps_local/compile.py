"""``automaps compile``: maps/*.yaml -> statemachines/<map id>.asl.json and the state machine
resources that deploy them, in template.yaml's generated block (automaps_local.wiring).

Adding, changing or removing a YAML file in maps/ is all a user does; `sam deploy` then deploys
it. With ``--check`` nothing is written: the command lists the definitions that are stale,
missing or left over from a deleted map and a stale generated block, and exits 1 if there are any
(for CI and `make check`). A map with errors prints them and exits 2: every problem `automaps
validate` finds (automaps_local.validate.check_folder: the loader's checks and, with a content
folder beside the maps, those against the content).

Removing a map whose state machine is deployed is refused unless its contacts are counted and
none is left (``--stack-name S``: contacts active, waiting or paused in it) or ``--force``: the
contacts inside would be stranded (their executions go with the state machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from automaps.maps.compiler import compile_map, to_json
from automaps_local.template import Template
from automaps_local.validate import check_folder
from automaps_local.wiring import WiringError, check, generated, removed_maps

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
        help="SAM template whose generated block deploys the maps "
        "(default: template.yaml beside the maps folder; skipped if absent)",
    )
    parser.add_argument(
        "--stack-name", default=None, help="count the contacts still in a removed map on this deployed stack"
    )
    parser.add_argument("--region", default=None, help="the stack's region (default: the AWS configuration's)")
    parser.add_argument(
        "--force", action="store_true", help="remove maps that are deployed although their contacts were not counted"
    )


def run(args: argparse.Namespace) -> int:
    if not args.maps.is_dir():
        print(f"{args.maps}: no such directory of maps", file=sys.stderr)
        return 2
    readings, problems = check_folder(args.maps)  # everything `automaps validate` checks
    if problems:
        for problem in problems:
            print(problem.line(), file=sys.stderr)
        return 2
    wanted = {f"{map_.id}{SUFFIX}": to_json(compile_map(map_)) for map_ in readings.maps.values()}
    out: Path = args.out
    definitions = {name.removesuffix(SUFFIX): text for name, text in wanted.items()}
    template_path: Path = args.template or args.maps.parent / "template.yaml"
    template = Template.load(template_path) if template_path.is_file() else None  # (no template: maps only)
    present = {path.name for path in out.glob(f"*{SUFFIX}")} if out.is_dir() else set()
    stale = sorted(name for name in wanted.keys() & present if (out / name).read_text(encoding="utf-8") != wanted[name])
    missing = sorted(wanted.keys() - present)
    extra = sorted(present - wanted.keys())
    if args.check:
        wiring = check(template, sorted(definitions), template.path.parent, definitions) if template else []
        for line in wiring:
            print(line, file=sys.stderr)
        return max(_report(out, stale, missing, extra), 1 if wiring else 0)
    try:
        refused = _refused_removals(template, definitions, args) if template else []
        text = _regenerated(template, definitions) if template else None
    except WiringError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if refused:
        for line in refused:
            print(line, file=sys.stderr)
        return 3
    out.mkdir(parents=True, exist_ok=True)
    for name in [*stale, *missing]:
        (out / name).write_text(wanted[name], encoding="utf-8")
        print(f"wrote {out / name}")
    for name in extra:
        (out / name).unlink()
        print(f"removed {out / name} (no map has this id)")
    changed = len(stale) + len(missing) + len(extra)
    if text is not None:
        template_path.write_text(text, encoding="utf-8")
        print(f"wrote {template_path} (the generated state machine block)")
        changed += 1
    print(f"{len(wanted)} map(s) compiled to {out}/, {changed} file(s) changed")
    return 0


def _regenerated(template: Template, definitions: dict[str, str]) -> str | None:
    """template.yaml's new text, or None when the generated block is as it should be."""
    now, wanted = generated(template, definitions)
    return None if now == wanted else wanted


def _refused_removals(template: Template, definitions: dict[str, str], args: argparse.Namespace) -> list[str]:
    """Why maps removed from maps/ may not leave the template yet (empty: they may)."""
    gone = removed_maps(template, sorted(definitions))
    if not gone or args.force:
        return []
    if not args.stack_name:
        return [
            f"refused: map {map_id!r} was removed from maps/ but template.yaml deploys it; contacts inside "
            "it would be stranded. Count them with `automaps compile --stack-name <stack>` (removed only "
            "when none is left), or pass --force"
            for map_id in gone
        ]
    from automaps.journeys.census import census
    from automaps_local.test_email import use_stack

    use_stack(args.stack_name, args.region)
    counts = {map_id: census(map_id).total for map_id in gone}
    return [
        f"refused: map {map_id!r} still holds {counts[map_id]} contact(s) on stack {args.stack_name} "
        "(active, waiting or paused); move them out first (`automaps publish` with --policy remove) "
        "or pass --force"
        for map_id in gone
        if counts[map_id]
    ]


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
