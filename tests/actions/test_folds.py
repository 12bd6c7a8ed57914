"""What the compiler folds into an action's invocation (issue 11, "Cost per journey"): the wait
after it (``then_resolve``), the exit after the map's last step (``then_exit``), each decided once
per visit; and the actions that keep no idempotency record (``NATURALLY_IDEMPOTENT``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from automaps.errors import Superseded
from automaps.journeys import steps
from automaps.journeys.journey import WaitRequest, resolve_wait
from automaps.maps.compiler import _retry
from functions.change_tags import app as change_tags
from tests.actions.conftest import ENROLLMENT_ID, MAP_ID, event_for, idempotency_records, kinds

ACTIONS = Path(steps.__file__).resolve().parent.parent / "actions"
WAIT = {"step_id": "two-days-later", "wait": {"days": 2, "at": "09:00", "timezone": "contact"},
        "fallback_timezone": "America/New_York",
        "position": {"kind": "wait", "state": "two-days-later", "timer": "two_days_later"}}
EXIT = {"step_id": "Completed", "reason": "completed", "position": {"kind": "step", "state": "Completed"}}


def test_given_a_wait_after_the_action_when_it_runs_then_it_answers_the_waits_moment_and_the_contact_waits_there(
        store, contact, lambda_context):
    store.update_fields(contact.id, {"timezone": "Europe/Paris"})
    event = event_for("change_tags", contact, then_resolve=WAIT, retry_count=0)

    result = change_tags.lambda_handler(event, lambda_context)

    # THEN the same moment resolve_wait works out (two days on, 09:00 Paris, spread), and no skip
    alone = resolve_wait(WaitRequest.model_validate({"contact_id": contact.id, "map_id": MAP_ID, **WAIT}))
    assert result["outcome"] == "done" and result["wait"] == alone
    assert alone["at"].startswith("2026-11-04T08:") and alone["skip"] is False
    enrollment = store.get_enrollment(contact.id, MAP_ID, ENROLLMENT_ID)
    assert (enrollment.position["step"], enrollment.position["state"], enrollment.position["kind"]) == (
        "two-days-later", "two-days-later", "wait")
    assert enrollment.position["until"] == result["wait"]["at"] and enrollment.position["timer"] == "two_days_later"


def test_given_no_then_resolve_then_the_answer_has_no_wait_key(store, contact, lambda_context):
    assert "wait" not in change_tags.lambda_handler(event_for("change_tags", contact), lambda_context)


def test_given_the_last_step_when_it_runs_then_the_contact_leaves_the_map_once_however_often_retried(
        store, contact, lambda_context):
    event = event_for("change_tags", contact, then_exit=EXIT, retry_count=0)

    assert change_tags.lambda_handler(event, lambda_context)["outcome"] == "done"
    with pytest.raises(Superseded):  # a retry (the answer was lost) finds the contact gone: the run ends ("Left")
        change_tags.lambda_handler({**event, "retry_count": 1}, lambda_context)

    enrollment = store.get_enrollment(contact.id, MAP_ID, ENROLLMENT_ID)
    assert enrollment.status == "exited" and enrollment.exit_reason == "completed"
    (exited,) = store.history(contact.id, kinds=["map.exited"])
    assert (exited.step_id, exited.detail["reason"]) == ("Completed", "completed")
    assert kinds(store, contact).count("step.done") == 1 and kinds(store, contact).count("tags.changed") == 1
    # the step's entries come before the exit, as when "Completed" exited the contact
    assert kinds(store, contact)[-1] == "map.exited"


def test_given_a_wait_that_cannot_be_worked_out_here_then_the_step_is_done_and_unfolded_leaves_for_the_resolve_task(
        store, contact, lambda_context):
    broken = {**WAIT, "wait": {"until_field": 7}}  # not a wait resolve_wait accepts
    event = event_for("change_tags", contact, then_resolve=broken, retry_count=0)

    with pytest.raises(steps.Unfolded):
        change_tags.lambda_handler(event, lambda_context)

    assert kinds(store, contact).count("step.done") == 1 and "lead" in store.require(contact.id).tags


def test_given_a_throttled_exit_then_the_retry_runs_the_visit_again_and_its_last_attempt_unfolds(
        store, contact, lambda_context, monkeypatch):
    from automaps.journeys import journey

    def throttled(request):
        raise steps.TransientError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(journey, "exit_map", throttled)
    event = event_for("change_tags", contact, then_exit=EXIT)

    with pytest.raises(steps.TransientError):  # attempts left: the Retry runs the visit again
        change_tags.lambda_handler({**event, "retry_count": 0}, lambda_context)
    with pytest.raises(steps.Unfolded):  # the last attempt: "Completed" exits the contact
        change_tags.lambda_handler({**event, "retry_count": steps.RETRIES}, lambda_context)

    assert kinds(store, contact).count("step.done") == 1 and kinds(store, contact).count("tags.changed") == 1


def test_given_only_if_unmet_when_a_retried_visit_skips_again_then_the_skip_is_recorded_once(
        store, contact, lambda_context):
    event = event_for("change_tags", contact, only_if={"has_tag": "vip"}, retry_count=0)

    assert change_tags.lambda_handler(event, lambda_context)["outcome"] == "skipped"
    assert change_tags.lambda_handler({**event, "retry_count": 1}, lambda_context)["outcome"] == "skipped"

    assert kinds(store, contact).count("step.skipped") == 1


def test_given_an_event_compiled_before_the_folds_then_the_action_runs_as_it_did(store, contact, lambda_context):
    event = event_for("change_tags", contact)  # no then_resolve, then_exit nor retry_count

    result = change_tags.lambda_handler(event, lambda_context)

    assert result == {"outcome": "done", "reason": None, "step_id": "tag-lead",
                      "detail": {"added": ["lead"], "removed": ["cold"]}}
    assert store.get_enrollment(contact.id, MAP_ID, ENROLLMENT_ID).status != "exited"


def test_given_a_naturally_idempotent_action_then_it_keeps_no_idempotency_record(store, contact, lambda_context):
    change_tags.lambda_handler(event_for("change_tags", contact, retry_count=0), lambda_context)

    assert idempotency_records() == []


def _calls(module: str) -> set[str]:
    """The dotted names this action module calls (``ctx.once``, ``once.recorded``, ...)."""
    tree = ast.parse((ACTIONS / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            found.add(f"{node.func.value.id}.{node.func.attr}")
    return found


def test_the_naturally_idempotent_actions_change_only_our_store_once_per_visit_and_call_nothing_outside():
    modules = sorted(p.stem for p in ACTIONS.glob("*.py") if p.stem != "__init__")
    for action in steps.NATURALLY_IDEMPOTENT:
        calls = _calls(action)
        assert "once.recorded" in calls, f"{action} does not answer a retry from its DONE# marker"
        assert "ctx.once" not in calls, f"{action} calls the outside world: it keeps its idempotency record"
    outside = [m for m in modules if "ctx.once" in _calls(m)]
    assert outside and not set(outside) & steps.NATURALLY_IDEMPOTENT
    assert {"send_email", "send_sms", "send_webhook"} <= set(outside)


def test_the_last_attempt_is_the_one_the_compiled_retry_allows():
    assert steps.RETRIES == _retry()[0]["MaxAttempts"]
