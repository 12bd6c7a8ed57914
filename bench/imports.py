"""Cold import time of every Lambda handler, next to a bare `import boto3` measured the same way.

Each measurement is a fresh interpreter (what a cold start pays), its CPU time. A shared machine's speed drifts
by a third within a minute, so every handler sample is paired with a bare-boto3 sample taken right
before it, and a handler's ratio is the median of its paired ratios: drift cancels out instead of
landing on whichever handler happens to be measured during a slow spell. A handler's ratio over
:data:`LIMIT` is flagged.

What is imported is the layer as ``sam build`` makes it: layers/automaps/Makefile, run for this
machine's platform into bench/.lambda-venv/layer (the requirements, boto3 among them, and the automaps
package, all with the unchecked-hash bytecode the layer ships), first on the path as /opt/python
is on Lambda; the handlers' own app.py files are imported without .pyc files, as SAM ships them.
The interpreter is a Lambda-like virtualenv (bench/.lambda-venv: the runtime's Python with boto3
and the layer's requirements only), not the development one, whose extra packages (moto, the SAM
CLI's awscrt and pyOpenSSL) make botocore itself slower to import and would flatter the ratio.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# CPU time of the import, not wall time: the other processes of a shared 2-core machine stretch wall
# time by up to 2x in bursts that pairing does not cancel; an import from the page cache is CPU work
PROBE = "import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
LIMIT = 1.6  # issue 11: every handler's cold import within 1.6x a bare `import boto3` measured in the same run
LAMBDA_VENV = ROOT / "bench" / ".lambda-venv"
REQUIREMENTS = ROOT / "layers" / "automaps" / "requirements.txt"
MAKEFILE = ROOT / "layers" / "automaps" / "Makefile"
LAMBDA_LAYER = LAMBDA_VENV / "layer"  # its python/ is what Lambda mounts at /opt/python


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


def lambda_layer(python: str) -> Path:
    """The layer built by its Makefile for this machine: the dependencies again when the requirements
    or the Makefile changed, the automaps package (sources and bytecode) every time."""
    marker = LAMBDA_LAYER / ".dependencies.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + MAKEFILE.read_bytes()).hexdigest()
    targets = ["layer-code"]
    if not (marker.exists() and marker.read_text() == wanted):
        shutil.rmtree(LAMBDA_LAYER, ignore_errors=True)
        targets.insert(0, "layer-dependencies")
    made = subprocess.run(["make", "--no-print-directory", "-C", str(MAKEFILE.parent), *targets,
                           f"ARTIFACTS_DIR={LAMBDA_LAYER}", f"PYTHON={python}",
                           f"PLATFORM=manylinux2014_{platform.machine()}"], capture_output=True, text=True)
    if made.returncode:
        raise RuntimeError(f"could not build {LAMBDA_LAYER}:\n{made.stdout}{made.stderr}")
    marker.write_text(wanted)
    return LAMBDA_LAYER / "python"


def _runtime_python() -> str:
    """Python 3.13 (the Lambda runtime) when this machine has it, else the current interpreter."""
    found = subprocess.run(["pyenv", "which", "python"], env={**os.environ, "PYENV_VERSION": "3.13.0"},
                           capture_output=True, text=True) if _has("pyenv") else None
    return found.stdout.strip() if found and found.returncode == 0 else sys.executable


def _has(command: str) -> bool:
    return shutil.which(command) is not None


def _probe_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(LAMBDA_LAYER / "python"), str(ROOT)]),
            "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "automaps"}


def _drop_own_bytecode() -> None:
    """The handlers' app.py are compiled at every cold start on Lambda; a __pycache__ here would flatter them."""
    for cache in (ROOT / "functions").rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def cold_import_ms(module: str, python: str | None = None) -> float:
    """One fresh interpreter's CPU time for ``import module``."""
    out = subprocess.run([python or sys.executable, "-c", PROBE.format(module=module)], env=_probe_env(), cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1]) * 1000


def paired(module: str, repeat: int, python: str) -> dict:
    """``repeat`` (boto3, module) pairs of fresh interpreters: medians and the median paired ratio."""
    pairs = [(cold_import_ms("boto3", python), cold_import_ms(module, python)) for _ in range(repeat)]
    return {"ms": statistics.median(m for _, m in pairs), "boto3_ms": statistics.median(b for b, _ in pairs),
            "ratio": statistics.median(m / b for b, m in pairs)}


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def run(repeat: int = 5) -> dict:
    python = lambda_python()
    lambda_layer(python)
    _drop_own_bytecode()
    floor = paired("bench.floor", repeat, python)
    rows = {name: paired(f"functions.{name}.app", repeat, python) for name in handlers()}
    return {"boto3_ms": statistics.median(r["boto3_ms"] for r in rows.values()), "handlers": rows, "floor": floor,
            "slowest_vs_boto3": max(r["ratio"] for r in rows.values()) if rows else None,
            "limit": LIMIT, "over_limit": sorted(name for name, r in rows.items() if r["ratio"] > LIMIT)}


def report(result: dict) -> str:
    lines = [f"cold import in a Lambda-like venv (fresh interpreters, each paired with a bare `import boto3`); "
             f"boto3 median {result['boto3_ms']:.0f} ms; slowest handler {result['slowest_vs_boto3']:.2f} x boto3",
             f"floor (boto3 + pydantic model + Powertools Logger, metrics, idempotency; bench/floor.py): "
             f"{result['floor']['ratio']:.2f} x boto3",
             f"{len(result['over_limit'])} of {len(result['handlers'])} handlers over {result['limit']} x boto3"
             + (f": {', '.join(result['over_limit'])}" if result["over_limit"] else ""),
             f"{'handler':<28} {'ms':>6} {'boto3 ms':>9} {'x boto3':>8}"]
    for name, row in sorted(result["handlers"].items(), key=lambda kv: -kv[1]["ratio"]):
        flag = f"  over {result['limit']}" if row["ratio"] > result["limit"] else ""
        lines.append(f"{name:<28} {row['ms']:>6.0f} {row['boto3_ms']:>9.0f} {row['ratio']:>8.2f}{flag}")
    return "\n".join(lines)
