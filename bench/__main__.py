"""Run every benchmark and print the tables: `python -m bench [--contacts N] [--repeat R]`."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from bench import imports, journeys


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--contacts", type=int, default=20, help="contacts per map (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per cold-import sample")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.disable(logging.INFO)

    cold = imports.run(args.repeat)
    print(imports.report(cold))
    flows = journeys.run(args.contacts)
    print(journeys.report(flows))

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"cold_imports": cold, "journeys": flows}, indent=2, default=str))
    print(f"\nsaved to {out / 'latest.json'}")


if __name__ == "__main__":
    main()
