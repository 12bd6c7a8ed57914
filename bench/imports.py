"""Cold import time of every Lambda handler, next to a bare `import boto3` measured the same way.

Each measurement is a fresh interpreter (what a cold start pays), repeated; the median is kept.
The interpreter is a Lambda-like virtualenv (bench/.lambda-venv: the runtime's Python with boto3
and the layer's requirements only), not the development one, whose extra packages (moto, the SAM
CLI's awscrt and pyOpenSSL) make botocore itself slower to import and would flatter the ratio.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
LAMBDA_VENV = ROOT / "bench" / ".lambda-venv"
REQUIREMENTS = ROOT / "layers" / "automaps" / "requirements.txt"


def lambda_python() -> str:
    """The Lambda-like interpreter, (re)built when the layer's requirements change."""
    python = LAMBDA_VENV / "bin" / "python"
    marker = LAMBDA_VENV / ".requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        runtime = _runtime_python()
        subprocess.run([runtime, "-m", "venv", "--clear", str(LAMBDA_VENV)], check=True)
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "boto3", "-r", str(REQUIREMENTS)],
                                   capture_output=True, text=True)
        if installed.returncode:
            raise RuntimeError(f"could not build {LAMBDA_VENV}:\n{installed.stdout}{installed.stderr}")
        marker.write_text(wanted)
    return str(python)


def _runtime_python() -> str:
    """Python 3.13 (the Lambda runtime) when this machine has it, else the current interpreter."""
    found = subprocess.run(["pyenv", "which", "python"], env={**os.environ, "PYENV_VERSION": "3.13.0"},
                           capture_output=True, text=True) if _has("pyenv") else None
    return found.stdout.strip() if found and found.returncode == 0 else sys.executable


def _has(command: str) -> bool:
    from shutil import which

    return which(command) is not None


def cold_import_ms(module: str, repeat: int = 5, python: str | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "automaps"), str(ROOT)]),
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "automaps"}
    samples = []
    for _ in range(repeat):
        out = subprocess.run([python or sys.executable, "-c", PROBE.format(module=module)], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]) * 1000)
    return statistics.median(samples)


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def run(repeat: int = 5) -> dict:
    python = lambda_python()
    baseline = cold_import_ms("boto3", repeat, python)
    rows = {name: cold_import_ms(f"functions.{name}.app", repeat, python) for name in handlers()}
    return {"boto3_ms": baseline, "handlers_ms": rows,
            "slowest_vs_boto3": max(rows.values()) / baseline if rows else None}


def report(result: dict) -> str:
    lines = [f"cold import in a Lambda-like venv (median of fresh interpreters); bare `import boto3`: "
             f"{result['boto3_ms']:.0f} ms; slowest handler {result['slowest_vs_boto3']:.2f} x boto3",
             f"{'handler':<20} {'ms':>7} {'x boto3':>8}"]
    for name, ms in sorted(result["handlers_ms"].items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<20} {ms:>7.0f} {ms / result['boto3_ms']:>8.2f}")
    return "\n".join(lines)
