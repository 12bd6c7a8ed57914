"""`automaps diff maps/<map>.yaml`: against git HEAD's version of the file, another file
(--against), or what a deployed stack runs (--stack-name, on moto's CloudFormation), with the
contacts that sit on each changed or removed step counted where the contacts are."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT, table_resource

WELCOME = (ROOT / "maps" / "welcome-leads.yaml").read_text()
THREE_DAYS = WELCOME.replace("days: 2, at", "days: 3, at")
LOCAL_ENV = ("CONTACTS_TABLE", "CONTENT_TABLE", "SIGNING_SECRET_ARN", "EMAIL_FROM", "PUBLIC_API_URL")


@pytest.fixture(autouse=True)
def _no_tables(monkeypatch):
    """No tables in the environment (use_stack sets them for --stack-name: undone after the test)."""
    for name in LOCAL_ENV:
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """GIVEN a git repository whose HEAD holds maps/welcome-leads.yaml, and the shell in it."""
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "welcome-leads.yaml").write_text(WELCOME)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "maps")
    git(tmp_path, "commit", "-q", "-m", "welcome")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_given_an_edited_map_in_git_when_diff_runs_then_it_compares_with_heads_version(repo, capsys):
    (repo / "maps" / "welcome-leads.yaml").write_text(THREE_DAYS)

    code = main(["diff", "maps/welcome-leads.yaml"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith("welcome-leads: maps/welcome-leads.yaml against HEAD:maps/welcome-leads.yaml (content ")
    assert lines[1:] == ["  contacts not counted (use --stack-name, or run inside the local runtime)", "changed:",
                         "  ~ two-days-later (wait, steps[2])", "      timing wait.days: 2 -> 3"]


def test_given_an_unchanged_map_then_diff_says_no_changes(repo, capsys):
    assert main(["diff", "maps/welcome-leads.yaml", "--no-count"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no changes"


def test_given_a_map_head_does_not_hold_then_every_step_is_added(repo, capsys):
    (repo / "maps" / "spring-promo.yaml").write_text(WELCOME.replace("id: welcome-leads", "id: spring-promo"))

    code = main(["diff", "maps/spring-promo.yaml", "--json"])

    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["old_version"] is None and body["contacts"] is None
    assert body["against"] == "HEAD:maps/spring-promo.yaml"
    assert [s["step"] for s in body["added"]][:3] == ["tag-lead", "welcome-email", "two-days-later"]


def test_given_a_broken_edit_then_diff_says_what_to_fix_and_fails(repo, capsys):
    (repo / "maps" / "welcome-leads.yaml").write_text(WELCOME.replace("wait: {", "wiat: {"))

    assert main(["diff", "maps/welcome-leads.yaml"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("error: maps/welcome-leads.yaml: ") and "wiat" in out


def test_given_against_a_file_then_diff_compares_with_that_file(tmp_path, capsys):
    (tmp_path / "welcome-leads.yaml").write_text(THREE_DAYS)

    code = main(["diff", str(tmp_path / "welcome-leads.yaml"), "--against", str(ROOT / "maps" / "welcome-leads.yaml"),
                 "--json"])

    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["against"] == str(ROOT / "maps" / "welcome-leads.yaml")
    [changed] = body["changed"]
    assert changed["step"] == "two-days-later" and changed["changes"] == [
        {"aspect": "timing", "key": "wait.days", "old": 2.0, "new": 3.0, "text": "timing wait.days: 2 -> 3"}]


# ---------------------------------------------------------------- --stack-name


def _enrollment(contact: str, status: str, step: str | None, version: str | None = None, map_id="welcome-leads"):
    item = {"pk": f"CONTACT#{contact}", "sk": f"ENROLL#{map_id}#e-{contact}", "contact_id": contact,
            "map_id": map_id, "enrollment_id": f"e-{contact}", "status": status, "started_at": "2026-11-23T14:00:00Z"}
    if step:
        item["position"] = {"step": step, "state": f"{step} state", "since": "2026-11-23T14:00:00Z",
                            **({"map_version": version} if version else {})}
    return item


@pytest.fixture
def stack(monkeypatch):
    """GIVEN a deployed stack "shop" (moto CloudFormation) whose registry holds welcome-leads as
    pushed, and contacts: two on the two-days wait (on map versions 1 and 2), one paused on the
    nudge email, one exited, one in another map, one on a step of an older version and one whose
    run has begun no step yet."""
    import boto3
    from moto import mock_aws

    from automaps import aws as aws_clients
    from automaps.maps.loader import load_map
    from automaps.store.content import ContentStore, to_item
    from automaps_local.push import map_record

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        aws_clients.reset()
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="shop", TemplateBody=json.dumps({"Resources": {
                "ContactsTable": table_resource("shop-contacts"), "ContentTable": table_resource("shop-content")}}))
        record = map_record(load_map(ROOT / "maps" / "welcome-leads.yaml"),
                            "arn:aws:states:us-east-1:123456789012:stateMachine:welcome-leads", "v1")
        ContentStore("shop-content").put("MAP", "welcome-leads", record.model_dump(mode="json"))
        db = boto3.client("dynamodb", region_name="us-east-1")
        for item in (_enrollment("ann", "active", "two-days-later", "1"), _enrollment("bob", "waiting", "two-days-later", "2"),
                     _enrollment("cid", "paused", "nudge-email", "2"), _enrollment("dan", "exited", "nudge-email", "1"),
                     _enrollment("eve", "active", "two-days-later", "1", map_id="welcome"),
                     _enrollment("fay", "active", "old-step", "0"), _enrollment("gus", "active", None),
                     {"pk": "CONTACT#ann", "sk": "PROFILE", "fields": {}}):
            db.put_item(TableName="shop-contacts", Item=to_item(item))
        yield db
        aws_clients.reset()


def test_given_a_stack_when_diff_runs_with_its_name_then_it_compares_with_its_registry_and_counts_its_contacts(
        stack, tmp_path, capsys):
    (tmp_path / "welcome-leads.yaml").write_text(THREE_DAYS.split("    else:\n")[0])  # 3 days; no nudge email

    code = main(["diff", str(tmp_path / "welcome-leads.yaml"), "--stack-name", "shop", "--region", "us-east-1"])
    lines = capsys.readouterr().out.splitlines()
    as_json = main(["diff", str(tmp_path / "welcome-leads.yaml"), "--stack-name", "shop", "--region", "us-east-1",
                    "--json"])
    body = json.loads(capsys.readouterr().out)

    assert code == as_json == 0
    assert " against stack shop (content " in lines[0]
    assert lines[1:4] == ["  5 contacts in the map now, on stack shop (no version: 1, version 0: 1, version 1: 1, "
                          "version 2: 2)",
                          "  on steps neither version has (an older version's): old-step (1)",
                          "  1 contact starting (no step begun yet)"]
    assert "  ~ two-days-later (wait, steps[2]): 2 contacts on it now (version 1: 1, version 2: 1)" in lines
    assert "  - nudge-email (send_email, steps[3].else[0]): 1 contact on it now" in lines  # one version: not split
    assert "      else goes to: 'nudge-email' -> leaves the map" in lines
    assert body["contacts"]["by_step"] == {"nudge-email": 1, "old-step": 1, "two-days-later": 2}
    assert body["contacts"]["starting"] == 1
    assert body["contacts"]["counts"] == [
        {"step": None, "map_version": None, "status": "active", "contacts": 1},
        {"step": "old-step", "map_version": "0", "status": "active", "contacts": 1},
        {"step": "two-days-later", "map_version": "1", "status": "active", "contacts": 1},
        {"step": "nudge-email", "map_version": "2", "status": "paused", "contacts": 1},
        {"step": "two-days-later", "map_version": "2", "status": "waiting", "contacts": 1}]
    assert body["contacts"]["scanned"] == 8


def test_given_a_stack_whose_registry_predates_diff_then_diff_asks_for_a_push(stack, tmp_path, capsys):
    from automaps.store.content import ContentStore

    body = ContentStore("shop-content").get("MAP", "welcome-leads")
    ContentStore("shop-content").put("MAP", "welcome-leads", {k: v for k, v in body.items() if k != "source"})
    (tmp_path / "welcome-leads.yaml").write_text(THREE_DAYS)

    assert main(["diff", str(tmp_path / "welcome-leads.yaml"), "--stack-name", "shop", "--region", "us-east-1"]) == 2
    assert "pushed before automaps diff existed); run automaps push once" in capsys.readouterr().out


def test_given_a_stack_when_the_census_scans_in_parallel_segments_then_it_counts_the_same(stack):
    from automaps.journeys.census import census

    whole, parallel = census("welcome-leads", table="shop-contacts"), census("welcome-leads", table="shop-contacts",
                                                                              segments=4)

    assert parallel.counts == whole.counts and parallel.scanned == whole.scanned == 8
    assert whole.total == 5 and whole.at("two-days-later") == 2 and whole.at("two-days-later", "1") == 1
    assert whole.versions() == [None, "0", "1", "2"]
