"""Cold import time of every Lambda handler, next to a bare `import boto3` measured the same way.

Each measurement is a fresh interpreter (what a cold start pays), repeated; the median is kept.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def cold_import_ms(module: str, repeat: int = 5) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "automaps"), str(ROOT)]),
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "automaps"}
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]) * 1000)
    return statistics.median(samples)


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def run(repeat: int = 5) -> dict:
    baseline = cold_import_ms("boto3", repeat)
    rows = {name: cold_import_ms(f"functions.{name}.app", repeat) for name in handlers()}
    return {"boto3_ms": baseline, "handlers_ms": rows,
            "slowest_vs_boto3": max(rows.values()) / baseline if rows else None}


def report(result: dict) -> str:
    lines = [f"cold import (median of fresh interpreters); bare `import boto3`: {result['boto3_ms']:.0f} ms",
             f"{'handler':<20} {'ms':>7} {'x boto3':>8}"]
    for name, ms in sorted(result["handlers_ms"].items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<20} {ms:>7.0f} {ms / result['boto3_ms']:>8.2f}")
    return "\n".join(lines)
