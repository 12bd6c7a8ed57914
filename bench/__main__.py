"""Run the benchmarks and print the tables: `python -m bench [--only journeys|imports|moves] [--contacts N] [--repeat R]`."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from bench import imports, journeys, moves


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=("journeys", "imports", "moves"), help="run one benchmark (default: both)")
    parser.add_argument("--contacts", type=int, default=20, help="contacts per map (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per cold-import sample")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.disable(logging.INFO)

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    saved = out / "latest.json"
    results: dict[str, Any] = json.loads(saved.read_text()) if args.only and saved.exists() else {}
    if args.only in (None, "imports"):
        results["cold_imports"] = imports.run(args.repeat)
        print(imports.report(results["cold_imports"]))
    if args.only in (None, "journeys"):
        results["journeys"] = journeys.run(args.contacts)
        print(journeys.report(results["journeys"]))
    if args.only in (None, "moves"):
        results["moves"] = moves.run(max(1, args.contacts // 2))
        print(moves.report(results["moves"]))

    saved.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nsaved to {saved}")


if __name__ == "__main__":
    main()
