"""`automaps contacts ... --local URL` against a served local backend (template.yaml on moto,
LocalApi on 127.0.0.1): the admin API's contact routes are served without IAM, and the CLI is
their thin client (import with its progress bar and report, search, show, enroll and remove by
hand, export pages to a file, the data export, erase with --yes)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from automaps_local.cli import main
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
FIXTURES = ROOT / "tests/contacts/fixtures"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalRuntime, str]]:
    """GIVEN the backend from template.yaml served on 127.0.0.1 (content and maps pushed)."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as runtime:
        push_content(runtime)
        server = make_server("127.0.0.1", 0, LocalApi(runtime), threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            yield runtime, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            serving.join(5)


def cli(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["contacts", *argv, "--local", url])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def imported(served, tmp_path_factory) -> dict:
    """GIVEN tests/contacts/fixtures/contacts.csv imported in chunks of 3 rows."""
    _, url = served
    report = tmp_path_factory.mktemp("import") / "report.json"
    code, _, err = cli(url, "import", str(FIXTURES / "contacts.csv"), "--chunk", "3", "--report", str(report))
    return {"code": code, "err": err, "report": json.loads(report.read_text())}


def test_given_a_csv_when_imported_then_the_merged_report_names_rows_of_the_whole_file_and_a_bar_shows(imported):
    report = imported["report"]
    assert (report["rows"], report["created"], report["skipped"]) == (8, 3, 5)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(6, "email"), (7, "phone"), (8, "phone"), (9, "email")]
    assert report["duplicates"] == [{"row": 5, "of_row": 2, "reason": "same email as row 2"}]
    assert imported["code"] == 1  # (rows with errors)
    assert "contacts.csv" in imported["err"] and "8/8" in imported["err"]  # tqdm's bar, on standard error
    assert "8 rows: 3 created, 0 updated, 0 unchanged, 5 skipped" in imported["err"]


def test_given_imported_contacts_when_searched_and_shown_then_the_admin_api_answers(served, imported):
    _, url = served
    code, out, _ = cli(url, "search", "--tag", "vip")
    assert code == 0
    [line] = out.splitlines()
    contact_id, email, phone, tags = line.split("\t")
    assert (email, phone, tags) == ("Jane.Doe@Example.com", "+14155550123", "lead,vip")

    code, out, _ = cli(url, "show", "jane.doe@example.com", "--limit", "5")
    shown = json.loads(out)
    assert code == 0 and shown["contact"]["id"] == contact_id
    kinds = [e["kind"] for e in shown["timeline"]]  # (newest first; the vip segment may have taken her by now)
    assert kinds[-1] == "contact.created" and set(kinds) <= {"contact.created", "segment.entered"}

    code, _, err = cli(url, "show", "nobody@example.com")
    assert code == 1 and "no contact with the email 'nobody@example.com'" in err


def test_given_a_contact_when_enrolled_and_removed_by_hand_then_the_map_runs_and_stops(served, imported):
    runtime, url = served
    code, out, _ = cli(url, "enroll", "john@example.com", "welcome-leads", "--key", "cli-1")
    assert code == 0 and out.startswith("queued: welcome-leads")
    runtime.run_until_settled(until=timedelta(hours=1))
    shown = json.loads(cli(url, "show", "john@example.com")[1])
    [enrollment] = shown["enrollments"]
    assert enrollment["status"] == "active" and enrollment["position"]["step"] == "two-days-later"
    assert any(m["to"] == ["john@example.com"] for m in runtime.outbox()["emails"])  # the welcome went out

    code, out, _ = cli(url, "remove", "john@example.com", "welcome-leads")
    runtime.run_until_settled(until=timedelta(hours=2))

    assert (code, out.strip()) == (0, "removed from welcome-leads")
    [after] = json.loads(cli(url, "show", "john@example.com")[1])["enrollments"]
    assert (after["status"], after["exit_reason"]) == ("exited", "removed")


def test_given_contacts_when_exported_then_the_pages_stream_into_one_file(served, imported, tmp_path):
    _, url = served
    target = tmp_path / "all.csv"

    code, _, err = cli(url, "export", "--format", "csv", "-o", str(target))

    assert code == 0 and f"-> {target}" in err
    rows = list(csv.DictReader(target.open()))
    assert sorted(r["email"] for r in rows if r["email"]) == ["Jane.Doe@Example.com", "john@example.com"]
    assert [r["phone"] for r in rows if not r["email"]] == ["'+14155550199"]  # (spreadsheet-safe: never a formula)
    # AND the export imports back as it is: the same contacts, unchanged
    code, out, _ = cli(url, "import", str(target), "--no-progress")
    again = json.loads(out)
    assert (code, again["unchanged"], again["created"], again["updated"]) == (0, 3, 0, 0)


def test_given_a_contact_when_their_data_is_asked_for_and_erased_then_gone(served, imported, tmp_path):
    _, url = served
    target = tmp_path / "ana.json"
    assert cli(url, "data", "+14155550199", "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["items"][0]["sk"].startswith("H#")

    refused = cli(url, "erase", "+14155550199")
    code, out, _ = cli(url, "erase", "+14155550199", "--yes")

    assert refused[0] == 2 and "add --yes" in refused[2]
    assert code == 0 and "erased:" in out and "suppression hash: none" in out
    assert cli(url, "show", "+14155550199")[0] == 1
