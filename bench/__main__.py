"""Run the benchmarks and print the tables: `python -m bench [--only NAME] [--contacts N] [--repeat R]
[--members N] [--million] [--sizes 20,200,2000]` (`make bench` runs them all)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAMES = ("imports", "journeys", "moves", "enrollment", "open_executions", "dynamodb", "wakeup", "throughput")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=NAMES, help="run one benchmark (default: all)")
    parser.add_argument("--contacts", type=int, default=20, help="contacts per map (journeys, moves; default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per cold-import sample")
    parser.add_argument("--members", type=int, default=100_000, help="enrollment: members to enroll (100,000)")
    parser.add_argument("--million", action="store_true", help="enrollment: also 1,000,000 (12 min, 11 GB)")
    parser.add_argument("--broadcast", type=int, default=2_000, help="dynamodb: members of the broadcast (2,000)")
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=None,
        help="throughput: contacts per run, comma-separated (default 20,200,2000)",
    )
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.disable(logging.WARNING)  # the throttled and deferred enrollments are expected, and many

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    saved = out / "latest.json"
    earlier: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
    results: dict[str, Any] = dict(earlier) if args.only else {}
    runs: dict[str, tuple[str, Callable[[Any], Any], str]] = {
        # name: (key in latest.json, run, the report function's name)
        "imports": ("cold_imports", lambda m: m.run(args.repeat), "report"),
        "journeys": ("journeys", lambda m: m.run(args.contacts), "report"),
        "moves": ("moves", lambda m: m.run(max(1, args.contacts // 2)), "report"),
        "enrollment": ("enrollment", lambda m: m.scale(args.members, million=args.million), "report_scale"),
        "open_executions": ("open_executions", lambda m: m.run(), "report"),
        "dynamodb": ("dynamodb", lambda m: m.run(broadcast=args.broadcast), "report"),
        "wakeup": ("wakeup", lambda m: m.run(), "report"),
        "throughput": ("throughput", lambda m: m.run(args.sizes or m.SIZES), "report"),
    }
    for name in NAMES:
        if args.only not in (None, name):
            continue
        key, run, report = runs[name]
        try:
            module = importlib.import_module(f"bench.{name}")  # lazily: bench/wakeup.py may not exist yet
        except ModuleNotFoundError as missing:
            if missing.name != f"bench.{name}":
                raise
            print(f"\n{name}: bench/{name}.py does not exist yet, skipped")
            continue
        began = time.monotonic()
        previous = earlier.get(key)
        results[key] = run(module)
        if name == "enrollment" and isinstance(previous, dict) and "million" in previous and not args.million:
            million = {"audience": "enrollment requests queued at once", **previous["million"]}
            results[key]["million"] = {**million, "from_an_earlier_run": True}  # kept: it takes 12 minutes
        print(getattr(module, report)(results[key]))
        print(f"  ({name}: {time.monotonic() - began:.0f} s)", flush=True)

    saved.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nsaved to {saved}")


if __name__ == "__main__":
    main()
