"""`automaps stats --local URL` against a served local backend (template.yaml on moto, LocalApi on
127.0.0.1, GET /_local/stats): two contacts through welcome-leads, the numbers as a table and as
JSON; and the errors a user can make, each said in one line."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from automaps_local.cli import main

pytestmark = pytest.mark.slow


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["stats", *argv])
    return code, out.getvalue(), err.getvalue()


def test_given_two_contacts_in_welcome_leads_when_stats_asks_the_local_backend_then_it_prints_a_table_per_step(
    served: str,
) -> None:
    code, out, err = cli("welcome-leads", "--local", served)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "welcome-leads: entered 2, active 2, exited 0"
    header = lines[1].split()
    assert header[:5] == ["step", "waiting", "done", "skipped", "failed"]
    assert {"sent", "opened", "bounced"} <= set(header)
    rows = {line.split()[0]: line for line in lines[2:]}
    assert list(rows)[:3] == ["tag-lead", "welcome-email", "two-days-later"]   # reading order
    assert rows["two-days-later"].split()[1] == "2"                          # both wait there now
    assert "1 (50%)" in rows["welcome-email"]                                # opened: 1 of 2 sent


def test_given_json_then_it_prints_the_read_map_dict(served: str) -> None:
    code, out, _ = cli("welcome-leads", "--json", "--local", served)
    body = json.loads(out)
    assert code == 0
    assert set(body) >= {"map_id", "entered", "active", "exited", "steps"}
    assert body["steps"]["welcome-email"]["sent"] == 2 and body["steps"]["welcome-email"]["opened"] == 1


def test_given_no_map_id_then_every_registered_map_is_printed(served: str) -> None:
    code, out, _ = cli("--local", served)
    assert code == 0
    assert "welcome-leads: entered 2, active 2, exited 0" in out
    assert "webinar-reminder: entered 0, active 0, exited 0" in out


@pytest.mark.parametrize(("argv", "code", "said"), [
    (["no-such-map"], 1, "no map 'no-such-map' is registered or counted"),
    (["Not_A_Map"], 1, "is no map id"),
])
def test_given_a_wrong_map_then_it_says_which_in_one_line(served: str, argv: list[str], code: int, said: str) -> None:
    found, out, err = cli(*argv, "--local", served)
    assert found == code and out == ""
    assert err.startswith("error:") and said in err and "Traceback" not in err


def test_given_no_backend_listening_then_it_says_how_to_start_one() -> None:
    code, _, err = cli("--local", "http://127.0.0.1:9")
    assert code == 2
    assert "cannot reach http://127.0.0.1:9" in err and "automaps serve" in err


def test_given_a_local_url_that_is_no_http_url_then_it_is_refused() -> None:
    code, _, err = cli("--local", "file:///etc/passwd")
    assert code == 2 and "not an http(s) URL" in err
