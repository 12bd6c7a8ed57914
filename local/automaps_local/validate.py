"""``automaps validate``: every problem in the maps, found before anything is deployed, all at once.

    automaps validate                       # maps/*.yaml against content/
    automaps validate maps/welcome-leads.yaml --format json
    automaps validate --maps tests/e2e/maps --content content

Each problem is one line, ``<file>: step '<id>' (<where>): <what to change>`` (or, as JSON, a list
of ``{file, step, where, message, line}``); the exit status is 0 ("5 maps OK") or 2. What is
checked: the loader's checks (automaps.maps.loader: shape, unknown keys, step ids, go_tos, the
maps a step names, times YAML reads oddly) and the checks against the content folder
(automaps.maps.validate: templates, forms, segments, lists, connections and routers named,
Jinja syntax, merge fields nothing provides, values of the wrong type). Given files, the other
maps of their folders are read too (a step may name them, an update_contact there may set a
field), but only the given files' problems are shown. Without a content folder (default:
``content`` beside the maps folder) only the loader's checks run, and it says so.

``automaps compile`` runs the same checks (:func:`check_folder`) and refuses to write on any.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from automaps.maps.loader import Finding, Readings, map_files, read_maps
from automaps.maps.validate import Content, Template, check_content


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="map files or folders (default: the --maps folder)")
    parser.add_argument("--maps", default=Path("maps"), type=Path, help="folder of map files (default: maps)")
    parser.add_argument(
        "--content",
        default=None,
        type=Path,
        help="the content folder (templates, forms, segments, ...; default: content beside the maps folder)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text lines (default) or JSON")


def run(args: argparse.Namespace) -> int:
    paths: list[Path] = args.paths or [args.maps]
    missing = [path for path in paths if not path.exists()]
    if missing:
        print(f"error: {missing[0]}: no such map file or folder", file=sys.stderr)
        return 2
    wanted = [file for path in paths for file in (map_files(path) if path.is_dir() else [path])]
    folders = sorted({file.parent for file in wanted})
    content_dir: Path = args.content or (folders[0].parent / "content" if folders else Path("content"))
    if args.content is not None and not args.content.is_dir():
        print(f"error: {args.content}: no such content folder", file=sys.stderr)
        return 2
    context = sorted({*wanted, *(file for folder in folders for file in map_files(folder))})
    _, findings = check(context, content_dir if content_dir.is_dir() else None)
    shown = {str(file) for file in wanted}
    findings = [f for f in findings if f.file in shown or Path(f.file).is_relative_to(content_dir)]
    if args.format == "json":
        answer = {"ok": not findings, "maps": len(wanted), "content_checked": content_dir.is_dir()}
        print(json.dumps({**answer, "problems": [f.to_dict() for f in findings]}))
        return 2 if findings else 0
    for finding in findings:
        print(finding.line(), file=sys.stdout)
    if not content_dir.is_dir():
        print(
            f"note: no content folder at {content_dir}: templates, forms, segments, lists, connections, routers "
            "and merge fields were not checked (--content DIR)",
            file=sys.stderr,
        )
    if findings:
        print(f"{len(findings)} problem(s) in {len({f.file for f in findings})} file(s)", file=sys.stderr)
        return 2
    print(f"{len(wanted)} map{'s' if len(wanted) != 1 else ''} OK")
    return 0


def check(files: list[Path], content_dir: Path | None) -> tuple[Readings, list[Finding]]:
    """Every problem of the map ``files``: the loader's, then (with a content folder) those
    against the content; and the readings (the maps are compiled from them when none)."""
    readings = read_maps(files)
    findings = list(readings.findings)
    if content_dir is not None:
        content, content_findings = read_content(content_dir)
        findings += content_findings + check_content(readings.maps, content, readings.dropped)
    return readings, _in_reading_order(_unique(findings), files, readings)


def _in_reading_order(findings: list[Finding], files: list[Path], readings: Readings) -> list[Finding]:
    """Each file's problems together (the content's files first, then the maps in the order
    given), and within a map file in the order of its steps (the map's own keys and triggers
    first): a step's problems, whichever check found them, come one after the other."""
    from automaps.maps.model import walk

    given = {str(file): i for i, file in enumerate(files)}
    named = {file: i for i, file in enumerate(dict.fromkeys(finding.file for finding in findings))}
    orders = {str(file): {ref.path: ref.order for ref in walk(map_)} for file, map_ in readings.maps.items()}

    def key(item: tuple[int, Finding]) -> tuple[int, int, int, int]:
        index, finding = item
        steps = orders.get(finding.file, {})
        step = max((order for path, order in steps.items() if finding.path[: len(path)] == path), default=-1)
        return given.get(finding.file, -1), named[finding.file], step, index

    return [finding for _, finding in sorted(enumerate(findings), key=key)]


def check_folder(maps_dir: Path) -> tuple[Readings, list[Finding]]:
    """:func:`check` for a folder of maps and the content folder beside it (automaps compile)."""
    content_dir = maps_dir.parent / "content"
    return check(map_files(maps_dir), content_dir if content_dir.is_dir() else None)


def _unique(findings: list[Finding]) -> list[Finding]:
    return list({finding.line(): finding for finding in findings}.values())


# ---------------------------------------------------------------- the content folder


def read_content(folder: Path) -> tuple[Content, list[Finding]]:
    """What ``folder`` (the repository's content/) holds, by name, and every problem of its files,
    validated by the models ``automaps push`` uploads them with (so push refuses none of them)."""
    problems: list[Finding] = []
    templates: dict[str, Template] = {}
    for path, body in _valid(folder / "templates", _template_model(), problems):
        texts = {key: value if isinstance(value := body.get(key), str) else None for key in ("subject", "html", "text")}
        templates[path.stem] = Template(texts["subject"] or "", texts["html"], texts["text"])
    forms: dict[str, dict[str, str]] = {}
    for path, body in _valid(folder / "forms", _form_model(), problems, named_by_id=True):
        listed = body.get("fields")
        fields: list[Any] = listed if isinstance(listed, list) else []
        forms[path.stem] = {
            str(item["name"]): str(item.get("type", "text"))
            for item in fields
            if isinstance(item, dict) and "name" in item
        }
    segments = _valid(folder / "segments", _segment_model(), problems, named_by_id=True)
    connections = _valid(folder / "connections", _connection_model(), problems)
    routers = _valid(folder / "routers", _router_model(), problems)
    return (
        Content(
            folder=str(folder),
            templates=templates,
            forms=forms,
            segments=frozenset(path.stem for path, _ in segments),
            connections={path.stem: str(body.get("type", "")) for path, body in connections},
            routers=frozenset(path.stem for path, _ in routers),
            lists=frozenset(path.stem for path in _files(folder / "lists")),
        ),
        problems,
    )


def _template_model() -> Any:
    from automaps.rendering import EmailTemplate

    return EmailTemplate.model_validate


def _form_model() -> Any:
    from automaps.intake.forms import FormDefinition

    return FormDefinition.model_validate


def _segment_model() -> Any:
    from automaps.store.segments import validate

    return validate


def _connection_model() -> Any:
    from automaps.store.connections import validate

    return validate


def _router_model() -> Any:
    from automaps.store.routing import validate

    return validate


def _valid(
    folder: Path, validate: Any, problems: list[Finding], *, named_by_id: bool = False
) -> list[tuple[Path, dict[str, Any]]]:
    """The files of ``folder`` with their bodies, and a problem for each field ``validate``
    refuses (a file with problems still names its item: the maps that name it are not also
    wrong); ``named_by_id``: the ``id`` inside must be the file's name."""
    from pydantic import ValidationError

    found = []
    for path, body in _bodies(folder, problems):
        try:
            validate(body)
        except ValidationError as error:
            for item in error.errors(include_url=False):
                message = item["msg"].removeprefix("Value error, ")
                problems.append(Finding(str(path), tuple(item["loc"]), None, message[:1].lower() + message[1:]))
        except (ValueError, LookupError) as error:
            problems.append(Finding(str(path), (), None, str(error)))
        if named_by_id and body.get("id") != path.stem:
            message = f"id {body.get('id')!r} differs from the file name; rename one"
            problems.append(Finding(str(path), ("id",), None, message))
        found.append((path, body))
    return found


def _files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def _bodies(folder: Path, problems: list[Finding]) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in _files(folder):
        try:
            body = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            problems.append(Finding(str(path), (), None, f"cannot be read: {error}"))
            continue
        if not isinstance(body, dict):
            problems.append(Finding(str(path), (), None, "expected a mapping of keys to values"))
            continue
        found.append((path, body))
    return found
