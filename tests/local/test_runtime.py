"""The local runtime stands up what a template declares and runs its handlers in-process."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automaps import aws
from automaps import clock as app_clock
from automaps_local import moto_patches
from automaps_local.runtime import LocalRuntime
from automaps_local.template import TemplateError

from tests.local.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the fixture template running locally on the discrete-event clock."""
    with LocalRuntime(FIXTURES / "template.yaml", start=START) as rt:
        yield rt


# ---------------------------------------------------------------------- standing up the template
def test_given_the_template_when_started_then_every_function_is_registered_in_lambda(runtime):
    names = {f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]}

    assert names == {"automaps-EchoFunction", "automaps-StartFunction", "automaps-StepFunction",
                     "automaps-FlakyFunction", "automaps-NotifyFunction"}
    step = runtime.functions["StepFunction"]
    assert (step.module, step.handler, step.timeout) == ("functions.step.app", "lambda_handler", 10)
    assert step.source == FIXTURES / "functions" / "step" / "app.py"


def test_given_the_template_when_started_then_state_machines_have_their_substitutions_resolved(runtime):
    assert runtime.state_machines == {
        "demo": "arn:aws:states:us-east-1:123456789012:stateMachine:automaps-demo",
        "retry": "arn:aws:states:us-east-1:123456789012:stateMachine:automaps-retry",
    }
    definition = aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=runtime.state_machines["demo"])["definition"]
    assert "${" not in definition
    assert runtime.functions["StepFunction"].arn in definition and runtime.functions["NotifyFunction"].arn in definition


def test_given_the_template_when_started_then_environment_sender_clock_and_patches_are_in_place():
    before = app_clock.get_clock()
    with LocalRuntime(FIXTURES / "template.yaml", start=START, public_url="http://127.0.0.1:3999") as rt:
        assert os.environ["CONTACTS_TABLE"] == "automaps-ContactsTable"
        assert os.environ["EMAIL_FROM"] == "sender@example.com"
        assert os.environ["PUBLIC_API_URL"] == "http://127.0.0.1:3999"
        assert "sender@example.com" in aws.client("ses").list_identities()["Identities"]
        assert app_clock.get_clock() is rt.clock and app_clock.now() == START
        assert moto_patches.installed()
        assert [(r.method, r.path, r.function) for r in rt.routes()] == [
            ("POST", "/forms/{form_id}", "EchoFunction"), ("GET", "/page", "EchoFunction"),
            ("POST", "/start/{map_id}", "StartFunction")]

    assert app_clock.get_clock() is before and not moto_patches.installed()
    assert os.environ.get("PUBLIC_API_URL") != "http://127.0.0.1:3999"


def test_given_a_running_runtime_then_a_second_one_is_refused(runtime):
    with pytest.raises(RuntimeError, match="another LocalRuntime"):
        LocalRuntime(FIXTURES / "template.yaml").start()


def test_given_a_missing_definition_file_then_it_is_an_error_or_skipped_on_request(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "stack")
    (tmp_path / "stack" / "statemachines" / "retry.asl.json").unlink()

    with pytest.raises(TemplateError, match="retry.asl.json does not exist"):
        LocalRuntime(tmp_path / "stack" / "template.yaml").start()
    with LocalRuntime(tmp_path / "stack" / "template.yaml", missing_definitions="skip") as rt:
        assert list(rt.state_machines) == ["demo"]
        assert "RetryStateMachine" in rt.stack.skipped_state_machines


def test_given_a_definition_using_an_unknown_substitution_then_starting_fails_naming_it(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "stack")
    path = tmp_path / "stack" / "statemachines" / "retry.asl.json"
    path.write_text(path.read_text().replace("${FlakyFunctionArn}", "${MissingFunctionArn}"))

    with pytest.raises(TemplateError, match="MissingFunctionArn"):
        LocalRuntime(tmp_path / "stack" / "template.yaml").start()


def test_given_the_projects_template_then_its_functions_and_routes_stand_up():
    with LocalRuntime(ROOT / "template.yaml", missing_definitions="skip") as rt:
        functions = rt.functions
        assert "PublicApiFunction" in functions and "SendEmailFunction" in functions
        assert all(f.module == f"functions.{f.code_dir.name}.app" for f in functions.values())
        assert ("POST", "/forms/{form_id}") in {(r.method, r.path) for r in rt.routes()}
        for arn in rt.state_machines.values():
            definition = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
            assert "${" not in definition


# ---------------------------------------------------------------------- running
def test_given_a_two_day_wait_when_run_on_the_discrete_clock_then_it_completes_at_once(runtime, put_contact):
    put_contact("c1", "jane@example.com")
    runtime.start_execution("demo", {"contact_id": "c1"}, name="demo-c1")
    began = time.monotonic()

    assert runtime.run_until_settled(timeout=30) is True

    assert time.monotonic() - began < 5
    assert runtime.clock.now() == START + timedelta(days=2)
    [execution] = runtime.executions("demo")
    assert execution["status"] == "SUCCEEDED"
    assert (execution["started_at"], execution["stopped_at"]) == (START, START + timedelta(days=2))
    history = runtime.contact(email="jane@example.com")["history"]
    assert [(h["at"], h["step_id"]) for h in history] == [
        ("2026-11-23T09:00:00Z", "welcome"), ("2026-11-25T09:00:00Z", "goodbye")]


def test_given_messages_sent_by_a_handler_then_the_outbox_has_them_at_their_virtual_time(runtime):
    runtime.start_execution("demo", {"contact_id": "c1"}, name="demo-c1")
    runtime.run_until_settled(timeout=30)

    outbox = runtime.outbox()

    [email] = outbox["emails"]
    assert (email["to"], email["subject"], email["at"]) == (["jane@example.com"], "Two days later", "2026-11-25T09:00:00Z")
    assert email["text"].strip() == "Hello Jane" and email["headers"]["List-Unsubscribe"].startswith("<http")
    assert [(s["to"], s["text"], s["at"]) for s in outbox["sms"]] == [
        ("+14155550134", "Reminder for Jane", "2026-11-25T09:00:00Z")]


def test_given_a_handler_raising_transient_error_then_step_functions_retries_it_on_the_virtual_clock(runtime):
    arn = runtime.start_execution("retry", {"key": "a", "succeed_on": 3}, name="retry-a")
    runtime.run_until_settled(timeout=30)

    [execution] = runtime.executions("retry")
    assert execution["status"] == "SUCCEEDED" and execution["output"]["result"] == {"attempt": 3}
    assert runtime.clock.now() == START + timedelta(seconds=6)
    failed = [e["taskFailedEventDetails"]["error"] for e in runtime.history(arn) if e["type"] == "TaskFailed"]
    assert failed == ["TransientError", "TransientError"]


def test_given_retries_exhausted_then_the_catch_receives_the_error_name(runtime):
    runtime.start_execution("retry", {"key": "b"}, name="retry-b")
    runtime.run_until_settled(timeout=30)

    [execution] = runtime.executions("retry")
    assert execution["output"]["error"]["Error"] == "TransientError"
    assert runtime.clock.now() == START + timedelta(seconds=2 + 4 + 8)


def test_given_a_direct_invoke_then_the_handler_runs_in_process_with_a_lambda_context(runtime):
    result = runtime.invoke("EchoFunction", {"path": "/x", "queryStringParameters": None})

    assert result["statusCode"] == 200 and '"function": "automaps-EchoFunction"' in result["body"]
    with pytest.raises(RuntimeError, match="boom"):
        runtime.invoke("EchoFunction", {"path": "/x", "queryStringParameters": {"explode": "1"}})


def test_given_an_unknown_contact_then_the_reader_returns_none(runtime):
    assert runtime.contact(email="nobody@example.com") is None
