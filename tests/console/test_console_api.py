"""The console's JSON routes and page through the local HTTP front (as `automaps serve` serves them)."""

from __future__ import annotations

import json
import urllib.request

from tests.console.conftest import Served


def get(served: Served, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(served.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


def test_smoke(served):
    for path in ("/console", "/console/api/maps", "/console/api/maps/welcome-leads", "/console/api/contacts?q=ann@example.com", "/console/settings"):
        status, headers, body = get(served, path)
        print(path, status, headers.get("Content-Security-Policy"), body[:300])
