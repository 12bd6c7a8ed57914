"""``automaps graph maps/<map>.yaml``: the map as Mermaid text (for a pull request or a README) or
as an SVG (automaps.maps.graph), optionally with each step's counts.

The format is ``--format mermaid|svg``, else what ``-o FILE`` ends in (``.svg``: SVG), else
Mermaid (in a ```` ```mermaid ```` block when ``FILE`` ends in ``.md``). Counts come from a
deployed stack (``--stack-name S [--region R]``: ``automaps.journeys.stats.read_map`` on the
stack's tables) or from ``automaps serve``
(``--local http://localhost:3000``: ``GET /_local/stats?map=<id>``). ``--check`` writes nothing
and exits 1 when ``-o FILE`` is not what the map draws now (docs/graphs/ in CI).

Exit codes: 0 drawn, 1 stale (``--check``) or the counts could not be read, 2 a map with errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from automaps.maps.graph import to_mermaid, to_svg
from automaps.maps.loader import MapError, load_map
from automaps_local.test_email import add_stack_arguments, use_stack

TIMEOUT_SECONDS = 30


class CountsError(Exception):
    """The counts could not be read; the message says from where and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", type=Path, help="the map's YAML file, e.g. maps/welcome-leads.yaml")
    parser.add_argument("--format", choices=("mermaid", "svg"), help="default: from -o's suffix (.svg), else mermaid")
    parser.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if -o FILE is not current")
    add_stack_arguments(parser)
    parser.add_argument("--local", metavar="URL", help="read counts from automaps serve, e.g. http://localhost:3000")


def run(args: argparse.Namespace) -> int:
    if args.stack_name and args.local:
        print("give --stack-name or --local, not both", file=sys.stderr)
        return 2
    if args.check and not args.output:
        print("--check compares with a file: give -o FILE", file=sys.stderr)
        return 2
    try:
        map_ = load_map(args.map)
    except MapError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        counts = read_counts(map_.id, stack_name=args.stack_name, region=args.region, local=args.local)
    except CountsError as error:
        print(error, file=sys.stderr)
        return 1
    svg = args.format == "svg" or (args.format is None and args.output is not None and args.output.suffix == ".svg")
    text = to_svg(map_, counts) if svg else to_mermaid(map_, counts)
    if not svg and args.output is not None and args.output.suffix == ".md":  # a Markdown file: a fenced block
        text = f"```mermaid\n{text}```\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            state = "missing" if current is None else "stale"
            print(f"{args.output} is {state}: run automaps graph {args.map} -o {args.output}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def read_counts(
    map_id: str, *, stack_name: str | None = None, region: str | None = None, local: str | None = None
) -> dict[str, dict[str, Any]] | None:
    """Each step's counts (``read_map(map_id)["steps"]``), from a stack or automaps serve; None from neither."""
    if local:
        stats = _local_stats(local, map_id)
    elif stack_name:
        use_stack(stack_name, region)
        from automaps.journeys.stats import read_map

        stats = read_map(map_id)
    else:
        return None
    steps = stats.get("steps") if isinstance(stats, dict) else None
    if not isinstance(steps, dict):
        raise CountsError(f"the counts of map {map_id!r} have no steps: {json.dumps(stats)[:200]}")
    return steps


def _local_stats(base: str, map_id: str) -> Any:
    url = f"{base.rstrip('/')}/_local/stats?{urllib.parse.urlencode({'map': map_id})}"
    if not url.startswith(("http://", "https://")):
        raise CountsError(f"--local takes the URL of automaps serve, e.g. http://localhost:3000; got {base!r}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise CountsError(f"GET {url}: HTTP {error.code} {error.read()[:200].decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError) as error:
        raise CountsError(f"GET {url}: {getattr(error, 'reason', error)} (is automaps serve running?)") from None
    except json.JSONDecodeError:
        raise CountsError(f"GET {url}: the answer is not JSON") from None
