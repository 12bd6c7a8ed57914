"""The compiled shape at its floor (issue 11, "Cost per journey"): an action decides the wait right
after it (``then_resolve``) and records the exit after the map's last step (``then_exit``), so those
cost no Task, no invocation and no Succeed on the normal path; the Tasks that decide them alone stay
for the other ways in (a failed action, a go_to, a resume) and for an action that could not."""

from __future__ import annotations

import pytest

from automaps.maps.compiler import COMPLETED, UNFOLDED, compile_map, to_json
from automaps.maps.loader import load_map
from tests.maps.test_compiler import _without_versions


@pytest.fixture
def compile_steps(write_map):
    def compile_(steps_yaml: str) -> dict:
        return _without_versions(compile_map(load_map(write_map(steps_yaml)))["States"])

    return compile_


def catches(state: dict) -> dict[str, str]:
    return {rule["ErrorEquals"][0]: rule["Next"] for rule in state["Catch"]}


def test_given_a_wait_on_the_contacts_clock_after_an_action_then_the_action_works_it_out_and_goes_to_the_wait(
        compile_steps):
    states = compile_steps("""\
        - id: welcome
          send_email: {template: welcome}
        - id: two-days
          wait: {days: 2, at: "09:00", timezone: Europe/Paris}
        - id: nudge
          send_email: {template: nudge}
        """)

    welcome = states["welcome"]
    assert welcome["Parameters"]["Payload"]["then_resolve"] == {
        "step_id": "two-days", "wait": {"days": 2.0, "at": "09:00", "timezone": "Europe/Paris"},
        "position": {"kind": "wait", "state": "two-days", "timer": "two_days"},
        "hand_off_after": 259200}  # (the test map hands waits over 3 days to the scheduler: so may the action)
    assert (welcome["ResultSelector"], welcome["ResultPath"]) == ({"at.$": "$.Payload.wait.at"}, "$.timers.two_days")
    assert welcome["Next"] == "two-days"
    assert states["two-days"] == {"Type": "Wait", "Comment": "Wait until the time worked out by 'two-days resolve'",
                                  "TimestampPath": "$.timers.two_days.at", "Next": "nudge"}
    # the resolve Task stays: for a failed welcome, and for an action that could not work it out
    assert catches(welcome)[UNFOLDED] == "two-days resolve"
    assert states["welcome failed"]["Next"] == "two-days resolve"
    assert states["two-days resolve"]["Parameters"]["Payload"]["wait"] == welcome["Parameters"]["Payload"][
        "then_resolve"]["wait"]


def test_given_a_wait_skipped_if_past_then_the_action_goes_to_its_past_choice_with_the_skip(compile_steps):
    states = compile_steps("""\
        - id: confirm
          send_email: {template: confirm}
        - id: hour-before
          wait: {until_field: webinar_at, offset: {hours: -1}, if_past: skip}
        - id: remind
          send_sms: {text: soon}
        """)

    assert states["confirm"]["ResultSelector"] == {"at.$": "$.Payload.wait.at", "skip.$": "$.Payload.wait.skip"}
    assert states["confirm"]["Next"] == "hour-before past"
    assert states["hour-before past"]["Choices"][0]["Next"] == "hour-before exit"


def test_given_an_action_timed_with_when_after_an_action_then_the_first_works_out_its_moment(compile_steps):
    states = compile_steps("""\
        - id: tag
          change_tags: {add: [lead]}
        - id: later
          send_email: {template: later}
          when: {delay: {hours: 4}}
        """)

    assert states["tag"]["Parameters"]["Payload"]["then_resolve"]["when"] == {"delay": {"hours": 4.0}}
    assert states["tag"]["Next"] == "later when"
    assert catches(states["tag"])[UNFOLDED] == "later when resolve"


def test_given_the_last_step_is_an_action_then_it_exits_the_contact_and_ends_the_run(compile_steps):
    states = compile_steps("- id: tag\n  change_tags: {add: [lead]}\n- id: bye\n  send_email: {template: bye}\n")

    bye = states["bye"]
    assert bye["Parameters"]["Payload"]["then_exit"] == {
        "step_id": COMPLETED, "reason": "completed", "position": {"kind": "step", "state": COMPLETED}}
    assert bye["End"] is True and "Next" not in bye
    assert catches(bye)[UNFOLDED] == COMPLETED and states["bye failed"]["Next"] == COMPLETED
    assert "then_exit" not in states["tag"]["Parameters"]["Payload"]


def test_given_an_end_step_after_an_action_then_the_action_exits_with_reason_end(compile_steps):
    states = compile_steps("- id: call\n  assign_task: {assignee: a@example.com, title: Call, due: {in: {days: 1}}}\n- end\n")

    assert states["call"]["Parameters"]["Payload"]["then_exit"] == {
        "step_id": "1", "reason": "end", "position": {"kind": "step", "state": "1 end"}}
    assert states["call"]["End"] is True and catches(states["call"])[UNFOLDED] == "1 end"
    assert states["1 end"]["Parameters"]["Payload"]["reason"] == "end"  # for the other ways in


def test_given_steps_inside_a_fork_then_nothing_is_folded(compile_steps):
    states = compile_steps("""\
        - fork:
            - - id: a
                change_tags: {add: [a]}
              - id: wait-a
                wait: {days: 1, at: "09:00", timezone: Europe/Paris}
              - id: a2
                change_tags: {add: [a2]}
            - - id: b
                change_tags: {add: [b]}
        """)

    tasks = [s for s in states["0 fork"]["Branches"][0]["States"].values() if s["Type"] == "Task"]
    assert all("then_resolve" not in t["Parameters"]["Payload"] and "then_exit" not in t["Parameters"]["Payload"]
               for t in tasks)


def test_given_an_action_that_waits_for_another_map_then_the_wait_after_it_is_not_folded(compile_steps):
    states = compile_steps("""\
        - id: onboard
          add_to_automation: {map: other-map, return: true}
        - id: later
          wait: {days: 1, at: "09:00", timezone: Europe/Paris}
        - id: bye
          send_email: {template: bye}
        """)

    assert "then_resolve" not in states["onboard"]["Parameters"]["Payload"]


def test_given_an_action_then_every_attempt_says_which_it_is(compile_steps):
    states = compile_steps("- id: tag\n  change_tags: {add: [lead]}\n")

    assert states["tag"]["Parameters"]["Payload"]["retry_count.$"] == "$$.State.RetryCount"


def test_given_the_example_maps_then_compiling_twice_gives_the_same_bytes(write_map):
    from tests.conftest import ROOT

    for path in sorted((ROOT / "maps").glob("*.yaml")):
        assert to_json(compile_map(load_map(path))) == to_json(compile_map(load_map(path)))
