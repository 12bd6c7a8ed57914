"""`automaps serve` on the fixture stack (`automaps simulate`: tests/local/test_simulate.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.local.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_given_serve_when_a_request_starts_a_map_then_the_live_log_shows_it_in_virtual_time():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/automaps"), str(ROOT / "local"), str(ROOT)])}
    server = subprocess.Popen(
        [sys.executable, "-m", "automaps_local.cli", "serve", "--template", str(FIXTURES / "template.yaml"),
         "--port", str(port), "--time-scale", "172800", "--start", "2026-11-23T09:00:00Z"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    try:
        while not any("Ctrl-C" in line for line in lines):
            line = server.stdout.readline()
            assert line, "serve exited early:\n" + "".join(lines)
            lines.append(line)
        base = f"http://127.0.0.1:{port}"
        assert f"automaps local API on {base}" in "".join(lines)
        assert "map demo" in "".join(lines)

        _request(f"{base}/start/demo", {"name": "demo-c1", "contact_id": "c1"})
        deadline = time.monotonic() + 20
        while not _request(f"{base}/_local/outbox")["emails"] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a poll of the live log
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=20)
    lines.append(out)
    log = "".join(lines)

    assert server.returncode == 0, log
    assert "c1  step.done" in log and "demo/welcome" in log
    assert "email  to jane@example.com: Two days later" in log
    assert "sms    to +14155550134: Reminder for Jane" in log
