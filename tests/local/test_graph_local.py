"""`automaps graph --local URL` against a served local backend (template.yaml on moto, LocalApi on
127.0.0.1, GET /_local/stats): welcome-leads drawn with its live counts; and the errors a user can
make with --local, each said in one line."""

from __future__ import annotations

import contextlib
import io
import socket
import xml.etree.ElementTree as ET

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

WELCOME = str(ROOT / "maps/welcome-leads.yaml")
SVG = "{http://www.w3.org/2000/svg}"


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
