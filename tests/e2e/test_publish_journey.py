"""Publishing an edit of a live map (automaps publish, on the local runtime): a new version of its
state machine, the alias moved, and the contacts inside kept on their version, moved to the new
one at the same step, or removed, each move recorded with both versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import Client

from automaps.journeys.census import census
from automaps.maps.loader import load_map
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
WELCOME = ROOT / "maps" / "welcome-leads.yaml"
V1 = load_map(WELCOME).content_hash()


@pytest.fixture
def runtime():
    """GIVEN the stack from template.yaml with its maps and content pushed, on a virtual clock."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(MONDAY_9AM, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as running:
        push_content(running)
        yield running


def sign_up(runtime: LocalRuntime, email: str) -> str:
    body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email, "age": 30}
    response = Client(LocalApi(runtime)).post("/forms/newsletter", data=json.dumps(body),
                                              headers={"Content-Type": "application/json"})
    assert response.status_code == 202
    runtime.run_until_settled(until=timedelta(minutes=5))
    return runtime.contact(email=email)["contact_id"]


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = WELCOME.read_text()
    assert old in text
    path = tmp_path / "welcome-leads.yaml"
    path.write_text(text.replace(old, new))
    return path


# v2: a tag step after the two days' wait, before the branch
WITH_TAG = ("  - id: engaged\n", "  - id: tag-v2\n    change_tags: {add: [v2]}\n  - id: engaged\n")


def history(runtime: LocalRuntime, contact_id: str, kind: str) -> list[dict]:
    return [h for h in runtime.contact(contact_id=contact_id)["history"] if h["kind"] == kind]


def test_given_a_contact_on_a_wait_when_an_edit_is_published_with_keep_then_she_finishes_on_her_version(
        runtime, tmp_path):
    # GIVEN ann inside welcome-leads, on its two days' wait (version 1)
    ann = sign_up(runtime, "ann@example.com")
    assert census("welcome-leads").at("two-days-later", V1) == 1

    # WHEN the map gains a tag step after the wait and is published (policy keep)
    done = runtime.publish(edited(tmp_path, *WITH_TAG))

    # THEN a version 2 runs new sign-ups, and ann stays on version 1 to its end: no v2 tag
    assert done.changed and done.version_arn.endswith(":2") and done.previous_version_arn.endswith(":1")
    assert (done.migration.kept, done.migration.moved) == (1, 0)
    assert [s.step for s in done.diff.added] == ["tag-v2"] and "steps: added tag-v2" in done.lines()[1]
    bob = sign_up(runtime, "bob@example.com")
    runtime.run_until_settled(until=timedelta(days=4))
    assert "v2" not in runtime.contact(contact_id=ann)["tags"]
    assert "v2" in runtime.contact(contact_id=bob)["tags"]
    assert history(runtime, ann, "map.migrated") == []
    assert [e["status"] for e in runtime.executions("welcome-leads")] == ["SUCCEEDED", "SUCCEEDED"]


def test_given_a_contact_on_a_wait_when_published_with_move_then_she_continues_on_the_new_version_once(
        runtime, tmp_path):
    # GIVEN ann on the two days' wait of version 1
    ann = sign_up(runtime, "ann@example.com")
    welcome_emails = len(runtime.outbox()["emails"])

    # WHEN the edit is published with --policy move
    done = runtime.publish(edited(tmp_path, *WITH_TAG), policy="move")
    v2 = done.map_version

    # THEN she moved at the same step, her wait keeps its moment, and the move is on her history
    assert (done.migration.moved, done.migration.kept) == (1, 0)
    assert dict(done.migration.moves) == {"two-days-later -> two-days-later": 1}
    [migrated] = history(runtime, ann, "map.migrated")
    assert migrated["detail"].items() >= {"from_version": V1, "to_version": v2, "from_step": "two-days-later",
                                          "to_step": "two-days-later", "policy": "move"}.items()
    assert census("welcome-leads").at("two-days-later", v2) == 1
    runtime.run_until_settled(until=timedelta(days=1))
    assert "v2" not in runtime.contact(contact_id=ann)["tags"]  # still waiting: the moment did not move
    runtime.run_until_settled(until=timedelta(days=2))
    assert "v2" in runtime.contact(contact_id=ann)["tags"]
    assert len(runtime.outbox()["emails"]) - welcome_emails == 0  # nothing sent twice (she is 30: no nudge)

    # WHEN the same publish runs again (a retry): THEN nobody moves twice
    again = runtime.publish(edited(tmp_path, *WITH_TAG), policy="move")
    assert not again.changed and again.migration.moved == 0
    assert len(history(runtime, ann, "map.migrated")) == 1


def test_given_a_contact_on_a_step_the_edit_removes_when_moved_then_she_goes_on_at_the_next_step(runtime, tmp_path):
    # GIVEN ann on the two days' wait, and an edit without that wait
    ann = sign_up(runtime, "ann@example.com")
    without_wait = edited(tmp_path, '  - id: two-days-later\n    wait: {days: 2, at: "09:00", timezone: contact}\n', "")

    # WHEN published with move
    done = runtime.publish(without_wait, policy="move")

    # THEN she continues at once at the step that followed the wait (the branch), on version 2
    assert dict(done.migration.moves) == {"two-days-later -> engaged": 1}
    runtime.run_until_settled(until=timedelta(hours=1))
    [checked] = history(runtime, ann, "condition.evaluated")
    assert checked["step_id"] == "engaged" and checked["at"] == "2026-11-23T14:05:00Z"  # at once, not in 2 days
    [migrated] = history(runtime, ann, "map.migrated")
    assert migrated["detail"]["to_step"] == "engaged"


def test_given_contacts_on_the_old_version_when_published_with_remove_then_they_leave_the_map(runtime, tmp_path):
    ann = sign_up(runtime, "ann@example.com")

    done = runtime.publish(edited(tmp_path, *WITH_TAG), policy="remove")

    assert (done.migration.left, done.migration.moved) == (1, 0)
    [exited] = history(runtime, ann, "map.exited")
    assert exited["detail"]["reason"] == "version_removed"
    assert census("welcome-leads").total == 0
    runtime.run_until_settled(until=timedelta(days=3))
    assert "v2" not in runtime.contact(contact_id=ann)["tags"]


def test_given_the_local_server_when_an_edit_is_posted_to_publish_then_it_moves_the_contacts_and_the_census_says_so(
        runtime, tmp_path):
    # GIVEN ann on the wait, and `automaps serve`'s HTTP front
    sign_up(runtime, "ann@example.com")
    api = Client(LocalApi(runtime))
    assert api.get("/_local/census?map=welcome-leads").get_json()["by_step"] == {"two-days-later": 1}

    # WHEN the edit is posted to /_local/publish with the move policy
    response = api.post("/_local/publish", json={"map": str(edited(tmp_path, *WITH_TAG)), "policy": "move"})

    # THEN it answers what it did, and the census has her on the new version
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["migration"]["moved"] == 1
    counts = api.get("/_local/census?map=welcome-leads").get_json()["counts"]
    assert [(c["step"], c["map_version"]) for c in counts] == [("two-days-later", load_map(tmp_path / "welcome-leads.yaml").content_hash())]
    # AND a broken request is a clear 4xx
    assert api.post("/_local/publish", json={"policy": "move"}).status_code == 400
    assert api.post("/_local/publish", json={"map": "maps/nope.yaml"}).status_code == 404
