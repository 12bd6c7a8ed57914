"""What each kind of step compiles to (docs/architecture.md fixes the task contracts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from statelint.linter import Linter

from automaps.maps.compiler import (
    COMPLETED,
    EXITED,
    LEFT,
    LOOP_COUNTERS,
    RESUME,
    RESUME_CHECK,
    compile_map,
    loop_bound,
    substitutions_used,
    to_json,
)
from automaps.maps.loader import load_map
from automaps.maps.model import Map
from tests.maps.conftest import FIXTURES, ROOT, all_states, with_fake_arns

RETRY = [{"ErrorEquals": ["TransientError", "Lambda.ServiceException", "Lambda.AWSLambdaException",
                          "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
                          "Lambda.ClientExecutionTimeoutException"],
          "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}]
IDS = {"contact_id.$": "$.contact_id", "enrollment_id.$": "$.enrollment_id", "map_id": "test-map"}
VISIT = {"execution_id.$": "$$.Execution.Id", "state_name.$": "$$.State.Name",
         "state_entered_time.$": "$$.State.EnteredTime"}
EXAMPLES = sorted((ROOT / "maps").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))


@pytest.fixture
def compile_steps(write_map):
    """WHEN a map with these steps is compiled: returns its States."""

    def compile_(steps_yaml: str, header: str = "") -> dict:
        path = write_map(steps_yaml) if not header else write_map(header + "steps:\n" + steps_yaml, full=True)
        return _without_versions(compile_map(load_map(path))["States"])

    return compile_


def _without_versions(node):
    """The shapes these specifications read, without the map version every position is stamped with
    (``position.map_version``: automaps.maps.compiler._stamp_version, specified on its own)."""
    if isinstance(node, dict):
        cleaned = {key: _without_versions(value) for key, value in node.items()}
        position = cleaned.get("position")
        if isinstance(position, dict) and "map_version" in position:
            rest = {key: value for key, value in position.items() if key != "map_version"}
            if rest:
                cleaned["position"] = rest
            else:
                del cleaned["position"]
        return cleaned
    if isinstance(node, list):
        return [_without_versions(value) for value in node]
    return node


def payload(state: dict) -> dict:
    return state["Parameters"]["Payload"]


def failure_catches(state: dict) -> list[dict]:
    """A Task's Catch without its first rule, the Superseded fence every Task has (tested once, below)."""
    assert state["Catch"][0]["ErrorEquals"] == ["Superseded"]
    return state["Catch"][1:]


# ---------------------------------------------------------------- actions


def test_given_an_action_step_then_its_task_calls_the_action_function_with_the_contract_payload(compile_steps):
    states = compile_steps("- id: welcome-email\n  send_email: {template: welcome}\n")

    assert {**states["welcome-email"], "Catch": failure_catches(states["welcome-email"])} == {
        "Type": "Task",
        "Comment": "send_email: template 'welcome'; then the contact leaves the map (completed, as 'Completed' "
                   "would record)",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "${SendEmailFunctionArn}",
            "Payload": {**IDS, "step_id": "welcome-email", "action": "send_email", "settings": {"template": "welcome"},
                        # the last step records the exit itself (tests/maps/test_cost_folds.py)
                        "then_exit": {"step_id": COMPLETED, "reason": "completed",
                                      "position": {"kind": "step", "state": COMPLETED}},
                        "sending": {}, "deferral": "catch",  # a send can be held back (tests/channels/test_limits.py)
                        "missing_fields": "skip", "execution_id.$": "$$.Execution.Id",
                        "state_name.$": "$$.State.Name", "state_entered_time.$": "$$.State.EnteredTime",
                        "retry_count.$": "$$.State.RetryCount"},  # 0: the visit's first attempt
        },
        "ResultPath": None,
        "Retry": RETRY,
        "Catch": [{"ErrorEquals": ["Deferred"], "ResultPath": "$.deferral", "Next": "welcome-email deferred"},
                  {"ErrorEquals": ["Unfolded"], "ResultPath": None, "Next": COMPLETED},
                  {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "welcome-email failed"}],
        "End": True,
    }


def test_given_an_action_when_it_fails_after_retries_then_the_failure_is_recorded_and_the_contact_moves_on(compile_steps):
    states = compile_steps("- id: first\n  send_email: {template: welcome}\n- id: second\n  add_note: {text: hi}\n")

    failed = states["first failed"]
    assert failed["Parameters"] == {"FunctionName": "${RecordFailureFunctionArn}",
                                    "Payload": {**IDS, "step_id": "first", "error.$": "$.error"}}
    assert failed["ResultPath"] is None and failed["Retry"] == RETRY
    assert failed["Next"] == "second" == states["first"]["Next"]
    assert failed["Catch"][0]["Next"] == "second"


def test_given_only_if_then_the_condition_travels_in_the_payload_and_without_it_the_key_is_absent(compile_steps):
    states = compile_steps("""\
        - id: nudge
          send_email: {template: nudge}
          only_if: {all: [{field: {name: age, gt: 45}}, {has_tag: vip}]}
        - id: plain
          send_email: {template: welcome}
        """)

    assert payload(states["nudge"])["only_if"] == {"all": [{"field": {"name": "age", "gt": 45}}, {"has_tag": "vip"}]}
    assert list(payload(states["nudge"]))[5:8] == ["settings", "only_if", "sending"]
    assert "only_if" not in payload(states["plain"])
    assert states["nudge"]["Comment"] == ("send_email: template 'nudge'; runs only if field age > 45 and has tag 'vip', "
                                          "else is skipped")


def test_given_missing_fields_fail_then_every_action_payload_carries_the_policy(compile_steps):
    states = compile_steps("- add_note: {text: hi}\n", header="id: test-map\nname: T\nmissing_fields: fail\n"
                                                              "triggers: [{form_submitted: {form: f}}]\n")

    assert payload(states["0 add_note"])["missing_fields"] == "fail"


def test_given_a_delay_then_resolve_wait_works_out_the_moment_and_a_wait_for_it_comes_before_the_action(
        compile_steps):
    states = compile_steps("- send_email: {template: nudge}\n  when: {delay: {hours: 4}}\n")

    resolve = states["0 send_email when resolve"]
    assert payload(resolve)["when"] == {"delay": {"hours": 4.0}}
    assert payload(resolve)["position"] == {"kind": "wait", "state": "0 send_email when", "timer": "step_0"}, \
        "the contact's position of record holds the wait's end"
    assert resolve["Next"] == "0 send_email when"
    assert states["0 send_email when"] == {"Type": "Wait",
                                           "Comment": "Wait until the time worked out by '0 send_email when resolve'",
                                           "TimestampPath": "$.timers.step_0.at", "Next": "0 send_email"}
    assert list(states)[0] == "0 send_email when resolve"


def test_given_an_exact_time_then_resolve_wait_gets_the_date_and_the_comment_shows_it_in_utc_with_z(compile_steps):
    states = compile_steps("- id: xmas\n  send_email: {template: xmas}\n  when: {at: 2026-12-24T09:00:00+01:00}\n")

    assert payload(states["xmas when resolve"])["when"] == {"until": "2026-12-24T09:00:00+01:00"}
    assert "until 2026-12-24T08:00:00Z" in states["xmas when resolve"]["Comment"]
    assert states["xmas when"]["TimestampPath"] == "$.timers.xmas.at"


# ---------------------------------------------------------------- waits


def test_given_a_pure_delay_then_it_is_a_resolve_task_and_a_wait_on_the_time_it_worked_out(compile_steps):
    states = compile_steps("- wait: {days: 2, hours: 3}\n")

    resolve = states["0 wait resolve"]
    assert resolve["Parameters"]["FunctionName"] == "${ResolveWaitFunctionArn}"
    assert payload(resolve)["wait"] == {"days": 2.0, "hours": 3.0}
    assert payload(resolve)["position"] == {"kind": "wait", "state": "0 wait", "timer": "step_0"}
    assert resolve["Comment"] == "Work out when the wait ends (2 days 3 hours); the UTC time goes to $.timers.step_0"
    assert states["0 wait"] == {"Type": "Wait", "Comment": "Wait until the time worked out by '0 wait resolve'",
                                "TimestampPath": "$.timers.step_0.at", "Next": COMPLETED}
    assert not any("Seconds" in state or "Timestamp" in state for state in states.values()), \
        "every wait goes through resolve_wait, which records where the contact waits until when"


def test_given_a_wait_until_a_date_then_resolve_wait_gets_the_date_and_the_comment_shows_it_in_utc(compile_steps):
    states = compile_steps("- wait: {until: 2027-01-04T09:00:00+01:00}\n")

    assert payload(states["0 wait resolve"])["wait"] == {"until": "2027-01-04T09:00:00+01:00"}
    assert "until 2027-01-04T08:00:00Z" in states["0 wait resolve"]["Comment"]
    assert states["0 wait"]["TimestampPath"] == "$.timers.step_0.at"


def test_given_a_wait_that_depends_on_the_contact_then_resolve_wait_computes_the_time_and_a_wait_uses_it(compile_steps):
    states = compile_steps("""\
        - id: morning
          wait: {days: 2, at: "09:00", timezone: contact}
        - add_note: {text: next}
        """, header="id: test-map\nname: T\ntimezone: Europe/Paris\ntriggers: [{form_submitted: {form: f}}]\n")

    resolve = states["morning resolve"]
    assert resolve["Parameters"] == {
        "FunctionName": "${ResolveWaitFunctionArn}",
        "Payload": {**IDS, "step_id": "morning", "wait": {"days": 2.0, "at": "09:00", "timezone": "contact"},
                    "fallback_timezone": "Europe/Paris",
                    "position": {"kind": "wait", "state": "morning", "timer": "morning"},
                    "hand_off_after": 259200, **VISIT},
    }
    assert resolve["ResultSelector"] == {"at.$": "$.Payload.at"}
    assert resolve["ResultPath"] == "$.timers.morning"
    assert resolve["Next"] == "morning"
    assert states["morning"] == {"Type": "Wait", "Comment": "Wait until the time worked out by 'morning resolve'",
                                 "TimestampPath": "$.timers.morning.at", "Next": "1 add_note"}
    assert failure_catches(resolve)[0]["Next"] == "morning wait failed"
    assert payload(states["morning wait failed"]) == {**IDS, "step_id": "morning", "reason": "wait_failed",
                                                      "error.$": "$.error", **VISIT}
    assert states["morning wait failed"]["Next"] == EXITED, "an unresolvable wait never lets the next step run early"
    assert "morning resolve failed" not in states


PARIS = "id: test-map\nname: T\ntimezone: Europe/Paris\ntriggers: [{form_submitted: {form: f}}]\n"


@pytest.mark.parametrize("wait", ['{at: "09:00"}', "{weekdays: [mon]}", "{until_field: webinar_at}",
                                  '{between: ["09:00", "17:00"]}', '{hours: 1, at: "09:00", timezone: Europe/Paris}',
                                  "{until: 2027-01-04T09:00:00Z, if_past: skip}"])
def test_given_any_wait_needing_the_contact_or_the_clock_then_it_is_resolved_at_run_time(compile_steps, wait):
    states = compile_steps(f"- wait: {wait}\n", header=PARIS)

    assert states["0 wait resolve"]["Parameters"]["FunctionName"] == "${ResolveWaitFunctionArn}"
    assert states["0 wait"]["TimestampPath"] == "$.timers.step_0.at"


def test_given_a_map_without_timezone_then_resolve_wait_gets_no_fallback_rather_than_utc(compile_steps):
    states = compile_steps("- wait: {until_field: webinar_at}\n")

    assert "fallback_timezone" not in payload(states["0 wait resolve"])


def test_given_a_wait_that_skips_when_past_then_a_choice_sends_a_missed_moment_out_of_the_map(compile_steps):
    states = compile_steps("""\
        - id: hour-before
          wait: {until_field: webinar_at, offset: {hours: -1}, if_past: skip}
        - add_note: {text: next}
        """)

    resolve = states["hour-before resolve"]
    assert payload(resolve)["wait"] == {"until_field": "webinar_at", "offset": {"hours": -1.0}, "if_past": "skip"}
    assert resolve["ResultSelector"] == {"at.$": "$.Payload.at", "skip.$": "$.Payload.skip"}
    assert resolve["Next"] == "hour-before past"
    assert states["hour-before past"] == {
        "Type": "Choice", "Comment": "If it is already past, skip to 'hour-before exit' (recorded with the reason)",
        "Choices": [{"Variable": "$.timers.hour_before.skip", "BooleanEquals": True, "Next": "hour-before exit"}],
        "Default": "hour-before"}
    assert payload(states["hour-before exit"])["reason"] == "wait_past"
    assert states["hour-before exit"]["Next"] == EXITED
    assert states["hour-before"]["Next"] == "1 add_note"
    assert payload(states["hour-before wait failed"])["reason"] == "wait_failed"
    assert states["hour-before wait failed"]["Next"] == EXITED


CONTINUE = "id: test-map\nname: T\ntriggers: [{form_submitted: {form: f}}]\non_error: {wait: continue}\n"


def test_given_on_error_continue_when_a_wait_cannot_be_resolved_then_the_failure_is_recorded_and_the_contact_goes_on(
        compile_steps):
    states = compile_steps("""\
        - id: hour-before
          wait: {until_field: webinar_at, offset: {hours: -1}}
        - add_note: {text: next}
        """, header=CONTINUE)

    assert failure_catches(states["hour-before resolve"])[0]["Next"] == "hour-before resolve failed"
    failed = states["hour-before resolve failed"]
    assert failed["Parameters"]["FunctionName"] == "${RecordFailureFunctionArn}"
    assert failed["Next"] == "1 add_note"
    assert "hour-before wait failed" not in states


def test_given_a_resolved_wait_in_a_fork_branch_when_it_cannot_be_resolved_then_the_fork_exits_the_map(compile_steps):
    states = compile_steps("""\
        - id: both
          fork:
            - [{add_note: {text: a}}]
            - [{id: later, wait: {until_field: webinar_at}}, {send_email: {template: nudge}}]
        - add_note: {text: after}
        """)

    branch = states["both"]["Branches"][1]["States"]
    assert failure_catches(branch["later resolve"])[0]["Next"] == "later resolve failed"
    assert branch["later resolve failed"]["Next"] == "later wait failed", "the error is recorded, then the branch fails"
    assert branch["later wait failed"]["Type"] == "Fail"
    assert branch["later wait failed"]["Error"] == "Automaps.WaitFailed"
    assert states["both"]["Catch"][0] == {"ErrorEquals": ["Automaps.WaitFailed"], "ResultPath": "$.error",
                                          "Next": "both wait failed"}
    assert states["both"]["Catch"][1]["ErrorEquals"] == ["States.ALL"]
    assert payload(states["both wait failed"])["reason"] == "wait_failed"
    assert states["both wait failed"]["Next"] == EXITED


def test_given_a_fork_inside_a_fork_when_an_inner_wait_fails_then_the_outer_fork_exits_the_map(compile_steps):
    states = compile_steps("""\
        - id: outer
          fork:
            - [{add_note: {text: a}}]
            - - id: inner
                fork:
                  - [{id: later, wait: {until_field: webinar_at}}]
                  - [{add_note: {text: b}}]
        """)

    inner = states["outer"]["Branches"][1]["States"]
    assert inner["inner"]["Catch"][0]["Next"] == "inner wait failed"
    assert inner["inner wait failed"]["Type"] == "Fail", "a nested fork passes the failure out"
    assert states["outer"]["Catch"][0]["Next"] == "outer wait failed"
    assert payload(states["outer wait failed"])["reason"] == "wait_failed"


# ---------------------------------------------------------------- when an action runs


def test_given_when_relative_to_a_date_field_then_the_action_waits_for_the_resolved_time_or_is_skipped(compile_steps):
    states = compile_steps("""\
        - id: reminder
          send_sms: {text: Starting soon}
          when: {until_field: webinar_at, offset: {hours: -1}}
        - add_note: {text: next}
        """)

    assert list(states)[:5] == ["reminder when resolve", "reminder when wait failed", "reminder when wait failed failed",
                                "reminder when past", "reminder when"]
    resolve = states["reminder when resolve"]
    assert resolve["Parameters"] == {
        "FunctionName": "${ResolveWaitFunctionArn}",
        "Payload": {**IDS, "step_id": "reminder", "when": {"until_field": "webinar_at", "offset": {"hours": -1.0}},
                    "position": {"kind": "wait", "state": "reminder when", "timer": "reminder"},
                    "hand_off_after": 259200, **VISIT},
    }
    assert resolve["Comment"] == ("Work out when 'reminder' runs (until 1 hour before the contact's field webinar_at); "
                                  "the UTC time goes to $.timers.reminder")
    assert resolve["ResultPath"] == "$.timers.reminder"
    assert states["reminder when past"]["Choices"] == [
        {"Variable": "$.timers.reminder.skip", "BooleanEquals": True, "Next": "1 add_note"}]
    assert states["reminder when past"]["Default"] == "reminder when"
    assert states["reminder when"] == {"Type": "Wait", "Comment": "Wait until the time worked out by 'reminder when resolve'",
                                       "TimestampPath": "$.timers.reminder.at", "Next": "reminder"}
    assert payload(states["reminder when wait failed"])["reason"] == "wait_failed"
    assert states["reminder when wait failed"]["Next"] == EXITED, "a step timed after an unknown moment is not run"


def test_given_on_error_continue_when_the_moment_of_an_action_cannot_be_worked_out_then_the_action_is_skipped(
        compile_steps):
    states = compile_steps("""\
        - id: reminder
          send_sms: {text: Starting soon}
          when: {until_field: webinar_at, offset: {hours: -1}}
        - add_note: {text: next}
        """, header=CONTINUE)

    assert states["reminder when resolve failed"]["Next"] == "1 add_note"
    assert "reminder when wait failed" not in states


def test_given_when_in_a_window_then_there_is_nothing_to_skip_and_no_choice(compile_steps):
    states = compile_steps('- id: call\n  add_note: {text: hi}\n  when: {between: ["09:00", "17:00"], '
                           "weekdays: [mon, tue, wed, thu, fri]}\n", header=PARIS)

    assert states["call when resolve"]["Next"] == "call when"
    assert states["call when resolve"]["ResultSelector"] == {"at.$": "$.Payload.at"}
    assert "call when past" not in states
    assert "within 09:00-17:00 (at once if inside) on mon, tue, wed, thu, fri in the contact's timezone (or Europe/Paris)" \
        in states["call when resolve"]["Comment"]


def test_given_when_at_a_date_time_that_may_be_skipped_then_it_is_resolved_and_the_choice_skips_the_action(
        compile_steps):
    states = compile_steps("- id: xmas\n  add_note: {text: hi}\n  when: {at: 2026-12-24T09:00:00+01:00, if_past: skip}\n")

    assert payload(states["xmas when resolve"])["when"] == {"until": "2026-12-24T09:00:00+01:00", "if_past": "skip"}
    assert states["xmas when past"]["Choices"][0]["Next"] == COMPLETED


def test_given_a_go_to_an_action_with_a_resolved_when_then_it_jumps_to_the_resolve_task(compile_steps):
    states = compile_steps("""\
        - id: ping
          add_note: {text: ping}
          when: {until_field: next_call_at}
        - go_to: ping
        """)

    assert states["1 go_to limit"]["Default"] == "ping when resolve"


# ---------------------------------------------------------------- branches


def test_given_an_if_then_a_check_task_stores_the_result_and_a_choice_branches_on_it(compile_steps):
    states = compile_steps("""\
        - id: engaged
          if: {any: [{has_tag: engaged}, {field: {name: score, ge: 10}}]}
          then: [{send_sms: {text: Thanks}}]
          else: [{send_email: {template: nudge}}]
        """)

    check = states["engaged check"]
    assert check["Parameters"] == {
        "FunctionName": "${CheckConditionFunctionArn}",
        "Payload": {**IDS, "step_id": "engaged",
                    "condition": {"any": [{"has_tag": "engaged"}, {"field": {"name": "score", "ge": 10}}]},
                    **VISIT},
    }
    assert check["ResultSelector"] == {"answer.$": "$.Payload"}
    assert check["ResultPath"] == "$.checks.engaged"
    assert check["Next"] == "engaged"
    assert states["engaged"] == {
        "Type": "Choice",
        "Comment": ("If has tag 'engaged' or field score >= 10: 'engaged.then.0 send_sms'; "
                    "otherwise 'engaged.else.0 send_email'"),
        "Choices": [{"Variable": "$.checks.engaged.answer.result", "BooleanEquals": True,
                     "Next": "engaged.then.0 send_sms"}],
        "Default": "engaged.else.0 send_email",
    }
    # the last steps record the exit themselves and end the run; "Completed" exits the other ways in
    assert states["engaged.then.0 send_sms"]["End"] is True
    assert states["engaged.else.0 send_email"]["End"] is True
    assert states["engaged check failed"]["Next"] == COMPLETED


def test_given_an_if_without_else_then_the_choice_defaults_to_the_next_step(compile_steps):
    states = compile_steps("- if: {has_tag: vip}\n  then: [{send_sms: {text: hi}}]\n- add_note: {text: after}\n")

    assert states["0 if"]["Default"] == "1 add_note"
    assert states["0 if check failed"]["Next"] == "1 add_note", "a failed check skips the whole if"


def test_given_a_switch_then_cases_are_checked_in_order_and_the_first_match_wins(compile_steps):
    states = compile_steps("""\
        - id: plan
          switch:
            - when: {field: {name: plan, eq: pro}}
              then: [{send_email: {template: pro}}]
            - when: {field: {name: plan, eq: team}}
              then: [{send_email: {template: team}}]
          default: [{send_email: {template: basic}}]
        """)

    # one check decides every case (one invocation), one Choice routes on the winning case
    assert [name for name in states if not name.endswith(("failed", " deferred", " deferred until"))] == [
        "plan check", "plan",
        "plan.switch.0.then.0 send_email", "plan.switch.1.then.0 send_email", "plan.default.0 send_email",
        COMPLETED, EXITED, LEFT, RESUME_CHECK, RESUME]
    assert payload(states["plan check"])["cases"] == [{"field": {"name": "plan", "eq": "pro"}},
                                                      {"field": {"name": "plan", "eq": "team"}}]
    assert states["plan"]["Choices"] == [
        {"Variable": "$.checks.plan.answer.case", "NumericEquals": 0, "Next": "plan.switch.0.then.0 send_email"},
        {"Variable": "$.checks.plan.answer.case", "NumericEquals": 1, "Next": "plan.switch.1.then.0 send_email"}]
    assert states["plan"]["Default"] == "plan.default.0 send_email"


def test_given_an_action_then_an_if_then_the_action_decides_the_if_in_the_same_invocation(compile_steps):
    states = compile_steps("""\
        - id: welcome-email
          send_email: {template: welcome}
        - id: engaged
          if: {opened_email: welcome-email}
          then: [{send_sms: {text: Thanks}}]
        """)

    action = states["welcome-email"]
    assert payload(action)["then_check"] == {"step_id": "engaged", "condition": {"opened_email": {"email": "welcome-email"}}}
    assert action["ResultSelector"] == {"answer.$": "$.Payload.check"}
    assert action["ResultPath"] == "$.checks.engaged"
    assert action["Next"] == "engaged", "straight to the Choice: no check Task, no extra invocation"
    # the check Task stays for the paths that reach the if without the action's answer
    assert states["welcome-email failed"]["Next"] == "engaged check"
    assert states["engaged"]["Choices"][0] == {"Variable": "$.checks.engaged.answer", "IsNull": True,
                                               "Next": "engaged check"}
    assert states["engaged"]["Choices"][1]["Variable"] == "$.checks.engaged.answer.result"


def test_given_a_condition_on_calendar_dates_then_the_maps_timezone_goes_along_as_the_fallback(compile_steps):
    states = compile_steps("""\
        - id: new
          if: {date_added: {within_last: {days: 7}}}
          then: [end]
        - id: today
          if: {current_date: {weekdays: [sat, sun]}}
          then: [end]
        """, header="id: test-map\nname: Test\ntriggers: [{form_submitted: {form: newsletter}}]\ntimezone: Europe/Paris\n")

    assert "fallback_timezone" in payload(states["new check"])
    assert payload(states["today check"])["fallback_timezone"] == "Europe/Paris"


def test_given_a_fork_then_a_parallel_runs_the_branches_and_discards_their_output(compile_steps):
    states = compile_steps("""\
        - id: both
          fork:
            - [{add_note: {text: a}}]
            - [{wait: {days: 1}}, {send_email: {template: nudge}}]
        - add_note: {text: after}
        """)

    parallel = states["both"]
    assert parallel["Type"] == "Parallel" and parallel["ResultPath"] is None and parallel["Next"] == "1 add_note"
    assert "Retry" not in parallel, "retrying a Parallel would run its actions again"
    assert parallel["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "both failed"}
    first, second = parallel["Branches"]
    assert first["StartAt"] == "both.fork.0.0 add_note"
    assert first["States"]["both.fork.0.0 add_note"]["Next"] == "both branch 0 done"
    assert first["States"]["both branch 0 done"] == {"Type": "Succeed", "Comment": "Branch 0 of 'both' has finished"}
    assert [name for name in second["States"] if not name.endswith("failed")] == [
        "both.fork.1.0 wait resolve", "both.fork.1.0 wait", "both.fork.1.1 send_email",
        "both.fork.1.1 send_email deferred", "both.fork.1.1 send_email deferred until", "both branch 1 done",
        "both branch 1 left"]


# ---------------------------------------------------------------- exits and jumps


def test_given_steps_that_run_out_then_the_contact_exits_with_reason_completed(compile_steps):
    states = compile_steps("- add_note: {text: hi}\n")

    assert payload(states[COMPLETED]) == {**IDS, "step_id": COMPLETED, "reason": "completed", **VISIT}
    assert states[COMPLETED]["Parameters"]["FunctionName"] == "${ExitMapFunctionArn}"
    assert states[COMPLETED]["Next"] == EXITED
    assert states[EXITED] == {"Type": "Succeed", "Comment": "The contact has left the map"}


def test_given_end_then_the_contact_exits_with_reason_end_and_no_completed_exit_is_added(compile_steps):
    states = compile_steps("- add_note: {text: hi}\n- id: stop\n  end: {}\n")

    assert payload(states["stop"]) == {**IDS, "step_id": "stop", "reason": "end", **VISIT}
    assert states["stop"]["Next"] == states["stop failed"]["Next"] == EXITED
    assert COMPLETED not in states


def test_given_a_go_to_forwards_then_a_pass_jumps_to_the_target(compile_steps):
    states = compile_steps("- if: {has_tag: vip}\n  then: [{go_to: last}]\n- add_note: {text: skipped}\n"
                           "- id: last\n  add_note: {text: last}\n")

    assert states["0.then.0 go_to"] == {"Type": "Pass", "Comment": "Go to step 'last'", "Next": "last"}
    assert LOOP_COUNTERS not in states


def test_given_a_go_to_backwards_then_the_loop_is_counted_and_continues_in_a_new_run_past_its_bound(compile_steps):
    states = compile_steps("""\
        - id: remind
          send_email: {template: reminder}
        - wait: {days: 7}
        - if: {has_tag: confirmed}
          then: [end]
        - id: again
          go_to: remind
        """)
    bound = states["again limit"]["Choices"][0]["NumericGreaterThan"]

    assert list(states)[0] == LOOP_COUNTERS
    assert states[LOOP_COUNTERS]["Result"] == {"again": {"count": 0}}
    assert states[LOOP_COUNTERS]["ResultPath"] == "$.loops" and states[LOOP_COUNTERS]["Next"] == RESUME_CHECK
    assert states[RESUME_CHECK]["Default"] == "remind", "a new run starts at the first step, after the counters"
    assert states["again"]["Parameters"] == {"count.$": "States.MathAdd($.loops.again.count, 1)"}
    assert states["again"]["ResultPath"] == "$.loops.again"
    assert states["again limit"]["Choices"][0] == {"Variable": "$.loops.again.count", "NumericGreaterThan": bound,
                                                   "Next": "again continues"}
    assert states["again limit"]["Default"] == "remind"
    assert payload(states["again continues"]) == {
        **IDS, "step_id": "again", "reason": "loop_continues", "continue_at": "again", **VISIT}
    assert states["again continues"]["Next"] == "Left", "the new run holds the contact; this one ends"


def test_given_a_loop_then_its_bound_is_the_most_rounds_that_keep_the_worst_case_history_under_the_limit():
    asl = compile_map(load_map(FIXTURES / "every-step.yaml"))
    states = all_states(asl["States"])
    bound = next(s["Choices"][0]["NumericGreaterThan"] for s in states.values() if s["Type"] == "Choice"
                 and "$.loops." in s["Choices"][0]["Variable"])
    events_per_pass = sum({"Task": 8, "Parallel": 4}.get(s["Type"], 2) for s in states.values())

    # (the map's waits hand off after 3 days, the default: no longer wait stays in a run)
    # (and a held-back send's wait counts an hour: the map has no sending limits, only the send rate)
    assert bound == loop_bound(asl, loops=1, wait_ceiling=3 * 86400, deferral_ceiling=3600) > 1
    assert (1 + bound) * events_per_pass <= 25_000 - 1_000


def test_given_a_loop_with_long_waits_then_its_bound_keeps_the_run_under_a_year(compile_steps):
    # GIVEN a loop whose round waits 3 days (the hand-off threshold: no longer wait stays in a run)
    states = compile_steps("""\
        - id: remind
          send_email: {template: reminder}
        - wait: {days: 3}
        - id: again
          go_to: remind
        """)
    bound = states["again limit"]["Choices"][0]["NumericGreaterThan"]

    # THEN the rounds of one run wait at most 330 days (the events alone would allow hundreds):
    # 3 days a round, and an hour for the send the rate may hold back
    assert (1 + bound) * 73 <= 330 * 24 < (2 + bound) * 73


# ---------------------------------------------------------------- the definition as a whole


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_given_each_example_map_then_the_definition_passes_statelint(path):
    asl = compile_map(load_map(path))

    assert Linter.validate(with_fake_arns(asl)) == []


def test_given_the_committed_definitions_when_linted_by_the_statelint_command_then_it_reports_nothing():
    files = sorted(str(path) for path in (ROOT / "statemachines").glob("*.asl.json"))
    result = subprocess.run([sys.executable, "-m", "statelint", *files], capture_output=True, text=True)

    assert files and result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_given_each_example_map_then_every_state_has_a_comment_and_a_short_unique_name(path):
    asl = compile_map(load_map(path))
    states = all_states(asl["States"])
    names = [name for name in states]

    assert all(state.get("Comment") for state in states.values())
    assert all(len(name) <= 80 for name in names)
    assert len(names) == len(set(names))
    assert asl["Comment"].startswith(f"Automation map '{path.stem}' (")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_given_each_example_map_then_only_plain_jsonpath_is_used(path):
    text = to_json(compile_map(load_map(path)))

    for forbidden in ('"$$"', "$$.Execution.StartTime", "QueryLanguage", "JSONata", '"Assign"', "{%"):
        assert forbidden not in text


def test_given_a_map_then_the_top_comment_names_it_and_its_content_version():
    map_ = load_map(ROOT / "maps" / "welcome-leads.yaml")

    comment = compile_map(map_)["Comment"]

    assert comment.startswith(f"Automation map 'welcome-leads' (Welcome new leads), version {map_.content_hash()}.")


def test_given_a_definition_then_the_substitutions_it_uses_are_listed():
    asl = compile_map(load_map(ROOT / "maps" / "webinar-reminder.yaml"))

    assert substitutions_used(asl) == {"SendEmailFunctionArn", "SendSmsFunctionArn", "ResolveWaitFunctionArn",
                                       "RecordFailureFunctionArn", "ExitMapFunctionArn"}


def test_given_the_same_map_when_compiled_twice_or_in_another_process_then_the_json_is_byte_identical():
    path = FIXTURES / "every-step.yaml"
    here = to_json(compile_map(load_map(path)))
    script = ("import sys; from automaps.maps.compiler import compile_map, to_json; "
              "from automaps.maps.loader import load_map; sys.stdout.write(to_json(compile_map(load_map(sys.argv[1]))))")
    elsewhere = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Tokyo"}, cwd=ROOT).stdout

    assert here == to_json(compile_map(load_map(path))) == elsewhere
    assert here.endswith("}\n") and json.loads(here)


def test_given_a_map_with_problems_when_compiled_directly_then_it_is_refused():
    map_ = Map.model_validate({"id": "m", "name": "M", "triggers": [{"form_submitted": {"form": "f"}}],
                               "steps": [{"go_to": "nowhere"}]})

    with pytest.raises(ValueError, match="go_to 'nowhere': no step has this id"):
        compile_map(map_)


# ---------------------------------------------------------------- every run fenced, every state enterable


def test_given_any_task_then_its_first_catch_ends_a_superseded_run_in_left_and_failure_records_have_none(
        compile_steps):
    states = compile_steps("- wait: {days: 1}\n- add_note: {text: hi}\n- if: {has_tag: vip}\n  then: [end]\n")

    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    fenced = {name for name, state in tasks.items() if not name.endswith("failed") or name.endswith("wait failed")}
    assert fenced == {"0 wait resolve", "0 wait wait failed", "1 add_note", "2 if check", "2.then.0 end", COMPLETED}
    for name in fenced:
        assert tasks[name]["Catch"][0] == {"ErrorEquals": ["Superseded"], "ResultPath": None, "Next": LEFT}, name
    for name in set(tasks) - fenced:
        assert [c["ErrorEquals"] for c in tasks[name]["Catch"]] == [["States.ALL"]], \
            f"{name}: recording a failure never stops on the fence"
    assert states[LEFT]["Type"] == "Succeed"


def test_given_a_task_inside_a_fork_when_superseded_then_it_ends_its_own_branch_not_the_map(compile_steps):
    states = compile_steps("""\
        - id: both
          fork:
            - [{add_note: {text: a}}]
            - [{id: later, wait: {days: 1}}, {send_email: {template: nudge}}]
        - add_note: {text: after}
        """)

    for i, branch in enumerate(states["both"]["Branches"]):
        left = f"both branch {i} left"
        tasks = [s for name, s in branch["States"].items() if s["Type"] == "Task" and not name.endswith("failed")]
        assert tasks and all(t["Catch"][0] == {"ErrorEquals": ["Superseded"], "ResultPath": None, "Next": left}
                             for t in tasks)
        assert branch["States"][left] == {"Type": "Succeed",
                                          "Comment": "This run no longer holds the contact: the branch ends here"}
        assert all(payload(t)["position"] == {"kind": "fork", "state": "1 add_note"} for t in tasks), \
            "a move inside a fork takes effect at the state after the fork"
    assert states["1 add_note"]["Catch"][0]["Next"] == LEFT, "the next task after the fork ends the run itself"


def test_given_a_map_then_it_starts_with_the_resume_choice_listing_exactly_its_top_level_resumable_states(
        compile_steps):
    states = compile_steps("""\
        - id: remind
          send_email: {template: reminder}
        - id: pause
          wait: {days: 2}
        - id: confirmed
          if: {has_tag: confirmed}
          then: [end]
        - id: both
          fork:
            - [{add_note: {text: a}}]
            - [{add_note: {text: b}}]
        - id: again
          go_to: remind
        """)

    assert list(states)[:2] == [LOOP_COUNTERS, "remind"] and states[LOOP_COUNTERS]["Next"] == RESUME_CHECK
    assert states[RESUME_CHECK] == {
        "Type": "Choice",
        "Comment": "A run started by a move (goal, unpause, return) continues where the contact stands",
        "Choices": [{"Variable": "$.resume", "IsPresent": True, "Next": RESUME}],
        "Default": "remind"}
    targets = [rule["Next"] for rule in states[RESUME]["Choices"]]
    assert targets == ["remind", "pause", "pause resumed", "confirmed check", "confirmed.then.0 end", "both",
                       "again", "again continues"]
    assert all(rule == {"Variable": "$.resume.state", "StringEquals": rule["Next"], "Next": rule["Next"]}
               for rule in states[RESUME]["Choices"])
    assert states[RESUME]["Default"] == "remind", "an unknown resume point starts the map from the top"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_given_each_example_map_then_every_resume_target_exists_and_is_a_task_wait_pass_or_parallel(path):
    states = compile_map(load_map(path))["States"]

    targets = [rule["Next"] for rule in states[RESUME]["Choices"]]
    assert targets and len(targets) == len(set(targets))
    assert all(states[name]["Type"] in ("Task", "Wait", "Pass", "Parallel") for name in targets)
    assert not [name for name in targets if name.endswith(" failed") and not name.endswith("wait failed")]
    waits = {name for name, s in states.items() if s["Type"] == "Wait"}
    # a held-back send's wait is never a position: a move resumes the send's Task, which judges it again
    assert {name for name in waits if not name.endswith(" deferred until")} <= set(targets), "every wait can be resumed"
    assert not [name for name in targets if name.endswith((" deferred", " deferred until"))]


# ---------------------------------------------------------------- goals and wait_until

AWAIT_SELECTOR = {"met.$": "$.Payload.result", "at.$": "$.Payload.until", "timed_out.$": "$.Payload.timed_out"}


def test_given_a_goal_without_timeout_when_not_met_then_the_contact_waits_there_without_a_run(compile_steps):
    states = compile_steps("- id: vip\n  goal: {condition: {has_tag: vip}}\n- add_note: {text: after}\n")

    check = states["vip"]
    assert check["Parameters"]["FunctionName"] == "${CheckConditionFunctionArn}"
    assert payload(check) == {**IDS, "step_id": "vip", "awaits": {"kind": "goal", "condition": {"has_tag": "vip"}},
                              "position": {"kind": "goal", "state": "vip", "next": "1 add_note"}, **VISIT}
    assert check["ResultSelector"] == AWAIT_SELECTOR and check["ResultPath"] == "$.timers.vip"
    assert check["Next"] == "vip met?"
    assert states["vip met?"]["Choices"] == [{"Variable": "$.timers.vip.met", "BooleanEquals": True,
                                              "Next": "1 add_note"}]
    assert states["vip met?"]["Default"] == "vip waiting"
    assert states["vip waiting"]["Type"] == "Succeed"
    assert "vip wait" not in states and "vip recheck" not in states


def test_given_a_goal_with_a_timeout_when_not_met_then_it_waits_until_the_timeout_and_checks_again(compile_steps):
    states = compile_steps("- id: bought\n  goal: {event: {kind: purchase.made}, timeout: {days: 3}}\n"
                           "- add_note: {text: after}\n")

    awaits = {"kind": "goal", "event": {"kind": "purchase.made", "where": {}}, "timeout_seconds": 259200}
    assert payload(states["bought"])["awaits"] == awaits
    assert payload(states["bought"])["position"] == {"kind": "goal", "state": "bought wait", "timer": "bought",
                                                     "next": "1 add_note"}
    assert states["bought met?"]["Choices"] == [
        {"Variable": "$.timers.bought.met", "BooleanEquals": True, "Next": "1 add_note"},
        {"Variable": "$.timers.bought.timed_out", "BooleanEquals": True, "Next": "1 add_note"}], \
        "on_timeout: continue goes on to the next step"
    assert states["bought met?"]["Default"] == "bought wait"
    assert states["bought wait"] == {"Type": "Wait", "Comment": "Wait until the timeout (3 days), unless the router "
                                     "moves the contact on first", "TimestampPath": "$.timers.bought.at",
                                     "Next": "bought recheck"}
    recheck = states["bought recheck"]
    assert payload(recheck) == {**payload(states["bought"]), "until.$": "$.timers.bought.at"}
    assert recheck["ResultSelector"] == AWAIT_SELECTOR and recheck["Next"] == "bought met?"
    assert "bought waiting" not in states


def test_given_wait_until_an_event_with_on_timeout_exit_when_it_times_out_then_the_contact_leaves_the_map(
        compile_steps):
    states = compile_steps("""\
        - id: cart
          wait_until:
            event: {kind: purchase.made, where: {cart_id: "{{ event.cart_id }}"}}
            timeout: {hours: 2}
            on_timeout: exit
        - add_note: {text: bought}
        """)

    assert payload(states["cart"])["awaits"] == {
        "kind": "wait_until", "event": {"kind": "purchase.made", "where": {"cart_id": "{{ event.cart_id }}"}},
        "timeout_seconds": 7200}
    assert payload(states["cart"])["position"]["kind"] == "wait_until"
    assert states["cart met?"]["Choices"][0]["Next"] == "1 add_note"
    assert states["cart met?"]["Choices"][1] == {"Variable": "$.timers.cart.timed_out", "BooleanEquals": True,
                                                 "Next": "cart timed out"}
    assert payload(states["cart timed out"])["reason"] == "wait_until_timeout"
    assert states["cart timed out"]["Parameters"]["FunctionName"] == "${ExitMapFunctionArn}"
    assert states["cart timed out"]["Next"] == EXITED
    assert states["cart wait"]["Next"] == "cart recheck"


# ---------------------------------------------------------------- other maps


def test_given_add_to_automation_with_return_true_then_the_run_ends_while_the_contact_waits_for_the_other_map(
        compile_steps):
    states = compile_steps("- id: hand-over\n  add_to_automation: {map: onboarding, return: true}\n"
                           "- add_note: {text: back}\n")

    task = states["hand-over"]
    assert task["Parameters"]["FunctionName"] == "${AddToAutomationFunctionArn}"
    assert payload(task)["settings"] == {"map": "onboarding", "return": True}
    assert payload(task)["next_state"] == "1 add_note", "the return continues at the step after"
    assert task["ResultSelector"] == {"detail.$": "$.Payload.detail"}
    assert task["ResultPath"] == "$.checks.hand_over"
    assert task["Next"] == "hand-over returns?"
    assert states["hand-over returns?"]["Choices"] == [{
        "And": [{"Variable": "$.checks.hand_over.detail.waiting", "IsPresent": True},
                {"Variable": "$.checks.hand_over.detail.waiting", "BooleanEquals": True}],
        "Next": "hand-over waiting"}]
    assert states["hand-over returns?"]["Default"] == "1 add_note", "not added (e.g. skipped): on at once"
    assert states["hand-over waiting"]["Type"] == "Succeed"
    assert states["hand-over failed"]["Next"] == "1 add_note"


def test_given_add_to_automation_with_return_false_then_it_is_a_plain_action_and_the_map_goes_on(compile_steps):
    states = compile_steps("- id: hand-over\n  add_to_automation: {map: onboarding, return: false}\n"
                           "- add_note: {text: at once}\n")

    task = states["hand-over"]
    assert payload(task)["settings"] == {"map": "onboarding", "return": False}
    assert "next_state" not in payload(task) and "ResultSelector" not in task and task["ResultPath"] is None
    assert task["Next"] == "1 add_note"
    assert "hand-over returns?" not in states and "hand-over waiting" not in states


SEQUENCE = "id: test-map\nname: Nurture\nkind: sequence\n"


@pytest.mark.parametrize(("options", "stays"), [
    ("sequence: {unsubscribe_after_last_step: false}\n", True),
    ("sequence: {type: date}\n", True),
    ("", False),
])
def test_given_a_sequence_then_its_last_step_stays_subscribed_only_when_it_does_not_unsubscribe(
        compile_steps, options, stays):
    states = compile_steps("- add_note: {text: last}\n", header=SEQUENCE + options)

    done = payload(states[COMPLETED])
    assert done["reason"] == "completed"
    assert done.get("stay", False) is stays
    assert states[COMPLETED]["Parameters"]["FunctionName"] == "${ExitMapFunctionArn}"
    assert states[COMPLETED]["Next"] == EXITED


# ---------------------------------------------------------------- the new shapes as definitions

SHAPES = {
    "goal": "- id: vip\n  goal: {condition: {has_tag: vip}}\n- add_note: {text: after}\n",
    "goal with timeout": "- id: bought\n  goal: {event: {kind: purchase.made}, timeout: {days: 3}}\n",
    "wait_until exit": "- id: cart\n  wait_until: {event: {kind: purchase.made}, timeout: {hours: 2}, "
                       "on_timeout: exit}\n- add_note: {text: x}\n",
    "returning": "- id: hand-over\n  add_to_automation: {map: onboarding}\n- add_to_sequence: {sequence: nurture}\n",
    "fork": "- id: both\n  fork:\n    - [{add_note: {text: a}}]\n    - [{wait: {days: 1}}, "
            "{add_to_automation: {map: onboarding, return: false}}]\n- add_note: {text: after}\n",
}


@pytest.mark.parametrize("steps", SHAPES.values(), ids=SHAPES.keys())
def test_given_goals_waits_for_events_and_other_maps_then_the_definition_passes_statelint(write_map, steps):
    asl = compile_map(load_map(write_map(steps)))

    assert Linter.validate(with_fake_arns(asl)) == []


@pytest.mark.parametrize("steps", SHAPES.values(), ids=SHAPES.keys())
def test_given_goals_waits_for_events_and_other_maps_when_compiled_twice_then_the_json_is_byte_identical(
        write_map, steps):
    path = write_map(steps)

    assert to_json(compile_map(load_map(path))) == to_json(compile_map(load_map(path)))


def test_given_a_fixed_wait_right_after_an_action_then_the_action_records_its_position_and_the_wait_has_no_task(
        compile_steps):
    states = compile_steps("""\
        - id: welcome
          send_email: {template: welcome}
        - id: two-days
          wait: {days: 2}
        - id: tips
          add_note: {text: tips}
        """)

    # THEN the action's own invocation records the contact's position in the wait ...
    assert states["welcome"]["Parameters"]["Payload"]["then_wait"] == {
        "step": "two-days", "state": "two-days resumed", "timer": "two_days", "seconds": 172800}
    assert states["welcome"]["Next"] == "two-days"
    # ... the wait is a plain Wait (no resolve Task: one transition and one invocation fewer) ...
    assert "two-days resolve" not in states
    assert {k: v for k, v in states["two-days"].items() if k != "Comment"} == {
        "Type": "Wait", "Seconds": 172800, "Next": "tips"}
    # ... and a move resumes into its twin, which waits out what is left
    assert {k: v for k, v in states["two-days resumed"].items() if k != "Comment"} == {
        "Type": "Wait", "TimestampPath": "$.timers.two_days.at", "Next": "tips"}


def test_given_a_fixed_wait_a_go_to_reaches_then_it_keeps_its_resolve_task(compile_steps):
    states = compile_steps("""\
        - id: welcome
          send_email: {template: welcome}
        - id: two-days
          wait: {days: 2}
        - id: again
          if: {has_tag: again}
          then: [{go_to: two-days}]
        """)

    assert "then_wait" not in states["welcome"]["Parameters"]["Payload"]
    # the action works the wait out itself (then_resolve); the resolve Task stays for the go_to
    assert states["welcome"]["Parameters"]["Payload"]["then_resolve"]["wait"] == {"days": 2.0}
    assert states["welcome"]["Next"] == "two-days"
    assert states["again.then.0 go_to limit"]["Default"] == "two-days resolve"


def test_given_a_map_then_its_resolved_waits_say_after_how_long_they_are_handed_to_the_scheduler(compile_steps):
    states = compile_steps("""\
        - id: hello
          add_note: {text: hello}
        - id: month
          wait: {days: 30}
        - id: week
          wait: {days: 7}
        """)

    # THEN a delay longer than the default 3 days is not folded into the action before it: its
    # resolve Task decides at run time, and hands it off (automaps.journeys.handoff)
    assert "then_wait" not in states["hello"]["Parameters"]["Payload"]
    assert states["month resolve"]["Parameters"]["Payload"]["hand_off_after"] == 3 * 86400
    assert states["week resolve"]["Parameters"]["Payload"]["hand_off_after"] == 3 * 86400
