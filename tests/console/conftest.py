"""The console's tests: the local runtime with welcome-leads run for a few contacts, served over
HTTP on a free loopback port as `automaps serve` serves it (LocalApi bound to 127.0.0.1), and
Debian's Chromium driven by Playwright (launched from /usr/bin/chromium with an empty profile;
never `playwright install`). Screenshots go to a temporary folder, or with UPDATE_SCREENSHOTS=1 to
docs/screenshots/console-*.png."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import make_server, push_content
from tests.conftest import ROOT, load_event

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
PEOPLE = {"ann@example.com": "Ann", "bob@example.com": "Bob", "cid@example.com": "Cid"}


@dataclass
class Served:
    runtime: LocalRuntime
    url: str  # http://127.0.0.1:<port>

    def contact_id(self, email: str) -> str:
        found = self.runtime.contact(email=email)
        assert found is not None, email
        return str(found["profile"]["id"] if "profile" in found else found["id"])


def sign_up(runtime: LocalRuntime, email: str, first_name: str) -> None:
    body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email, "first_name": first_name}
    response = Client(LocalApi(runtime)).post(
        "/forms/newsletter", data=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.get_data(as_text=True)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """GIVEN the backend from template.yaml on moto, the content pushed, and three contacts signed
    up through welcome-leads: ann opens the welcome email, bob's bounces, cid's is delivered; two
    hours later all three wait two days. It is served on a free port of 127.0.0.1."""
    clock = VirtualClock(START, auto_advance=False)
    with LocalRuntime(
        ROOT / "template.yaml",
        clock=clock,
        environment={"POWERTOOLS_METRICS_DISABLED": "true"},
        schedule_events=False,
    ) as runtime:
        push_content(runtime)
        for email, name in PEOPLE.items():
            sign_up(runtime, email, name)
        runtime.run_until_settled(until=timedelta(hours=1))
        emails = {email["to"][0]: email for email in runtime.outbox()["emails"]}
        runtime.ses_event(emails["ann@example.com"]["id"], "Delivery")
        runtime.ses_event(emails["ann@example.com"]["id"], "Open")
        runtime.ses_event(emails["bob@example.com"]["id"], "Bounce")
        runtime.ses_event(emails["cid@example.com"]["id"], "Delivery")
        runtime.run_until_settled(until=timedelta(hours=2))
        server = make_server(runtime, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Served(runtime, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


# ---------------------------------------------------------------- the browser
CHROMIUM = Path("/usr/bin/chromium")
# each run saves its screenshots (a temporary folder; UPDATE_SCREENSHOTS=1 writes the committed ones,
# docs/screenshots/, so a test run leaves the working tree as it was)
SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "automaps-console-screenshots"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """GIVEN Chromium with an empty profile (nothing of the machine's), a desktop-sized window."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab whose script errors, CSP violations and requests to anywhere but this machine
    are collected (there must be none: the console loads nothing from elsewhere)."""
    from urllib.parse import urlsplit

    tab = browser.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("console", lambda msg: tab.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)

    def outside(request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "about") and url.hostname != "127.0.0.1":
            tab.problems.append(f"request outside: {request.url}")

    tab.on("request", outside)
    yield tab
    problems = list(tab.problems)
    tab.close()
    assert problems == []


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path
