"""`automaps graph --local URL` against a served local backend (template.yaml on moto, LocalApi on
127.0.0.1, GET /_local/stats): welcome-leads drawn with its live counts; and the errors a user can
make with --local, each said in one line."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from automaps_local.cli import main
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
WELCOME = str(ROOT / "maps/welcome-leads.yaml")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """GIVEN the backend served on 127.0.0.1, welcome-leads pushed, ann and bob signed up an hour
    ago (both sent the welcome email, ann opened it; both wait two days)."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as runtime:
        push_content(runtime)
        api = Client(LocalApi(runtime))
        for email in ("ann@example.com", "bob@example.com"):
            body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email}
            api.post("/forms/newsletter", data=json.dumps(body), headers={"Content-Type": "application/json"})
        runtime.run_until_settled(until=timedelta(hours=1))
        [ann] = [e for e in runtime.outbox()["emails"] if e["to"] == ["ann@example.com"]]
        runtime.ses_event(ann["id"], "Open")
        runtime.run_until_settled(until=timedelta(hours=2))
        server = make_server("127.0.0.1", 0, LocalApi(runtime), threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            serving.join(5)


def graph(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["graph", *argv])
    return code, out.getvalue(), err.getvalue()


def test_given_two_contacts_in_welcome_leads_when_graph_asks_the_local_backend_then_steps_carry_their_counts(
    served: str,
) -> None:
    """WHEN automaps graph --local draws welcome-leads THEN each step shows what the backend counted."""
    code, out, err = graph(WELCOME, "--format", "svg", "--local", served)

    assert (code, err) == (0, "")
    steps = {g.get("data-step"): g.get("aria-label") for g in ET.fromstring(out).iter(f"{SVG}g") if g.get("data-step")}
    assert "waiting 2" in steps["two-days-later"]
    assert "sent 2" in steps["welcome-email"] and "opened 1 (50%)" in steps["welcome-email"]
    assert "done 2" in steps["tag-lead"]
    assert "sent" not in steps["nudge-email"]   # not reached yet: no numbers


def test_given_no_backend_or_not_a_url_then_graph_says_so_in_one_line() -> None:
    """GIVEN --local at a port nothing listens on, or not an http URL THEN exit 1 with one line, no traceback."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]

    down = graph(WELCOME, "--local", f"http://127.0.0.1:{port}")
    not_url = graph(WELCOME, "--local", "localhost:3000")

    assert down[0] == 1 and "is automaps serve running?" in down[2] and len(down[2].splitlines()) == 1
    assert not_url[0] == 1 and "--local takes the URL of automaps serve" in not_url[2]


def test_given_both_a_stack_and_local_then_graph_refuses() -> None:
    code, _, err = graph(WELCOME, "--local", "http://127.0.0.1:1", "--stack-name", "automaps")

    assert code == 2 and "not both" in err
