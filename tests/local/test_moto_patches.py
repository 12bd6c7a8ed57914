"""The moto patches: they fail loudly here when a moto upgrade moves what they patch."""

from __future__ import annotations

import inspect
import io
import threading
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jsonpath_ng.ext
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.events import models as events_models
from moto.sesv2.responses import SESV2Response
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp, TimestampPath
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker, SyncExecutionWorker

from automaps_local import moto_patches
from automaps_local.clock import VirtualClock
from automaps_local.runtime import MOTO_CONFIG

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class TransientError(Exception):
    pass


# ---------------------------------------------------------------------- moto still looks the same
def _params(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_given_moto_5_2_5_then_every_patched_attribute_exists_with_the_expected_signature():
    import moto

    assert moto.__version__ == "5.2.5", "the local runtime patches moto internals: re-check them before upgrading"
    assert _params(LambdaSimpleBackend.invoke) == ["self", "function_name", "qualifier", "body", "headers",
                                                   "response_headers"]
    assert _params(LambdaFunction.invoke) == ["self", "body", "request_headers", "response_headers"]
    assert _params(WaitFunction._wait_interval) == ["self", "env", "wait_seconds"]
    assert _params(Timestamp._get_wait_seconds) == ["self", "env"]
    assert "_get_wait_seconds" not in TimestampPath.__dict__, "TimestampPath must inherit the patched method"
    assert _params(Timestamp._from_timestamp_string) == ["timestamp"]
    assert _params(RetrierDecl._eval_body) == ["self", "env"]
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl), "the back-off sleep moved"
    assert isinstance(EventManager.__dict__["_get_current_timestamp"], staticmethod)
    assert _params(ExecutionWorker.start) == ["self"] and _params(ExecutionWorker._execution_logic) == ["self"]
    assert "_execution_logic" in inspect.getsource(ExecutionWorker.start), "the worker thread target moved"
    assert _params(ExecutionWorker.stop) == ["self", "stop_date", "error", "cause"]
    assert "self.env.set_stop(" in inspect.getsource(ExecutionWorker.stop), "StopExecution no longer stops the env"
    assert "start" in SyncExecutionWorker.__dict__, "sync executions bypass ExecutionWorker.start"
    assert _params(Environment.is_frame) == ["self"] and _params(Environment.is_running) == ["self"]
    assert "call_action" in DynamoHandler.__dict__ and _params(DynamoHandler.call_action) == ["self"]
    assert _params(DynamoDBBackend.transact_write_items) == ["self", "transact_items"]
    assert "copy.deepcopy(" in inspect.getsource(DynamoDBBackend.transact_write_items), "the table backup moved"
    # speed patches
    assert _params(ExecutionWorker._get_evaluation_entrypoint) == ["self"]
    assert "state_machine_details.definition" in inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert _params(lambda_eval_utils.boto_client_for) == ["region", "service", "state_credentials"]
    assert json_path.parse is jsonpath_ng.ext.parse and "parse(path)" in inspect.getsource(json_path.extract_json)
    # EventBridge -> Lambda, SES v2 tags
    assert _params(events_models.Rule.send_to_targets) == ["self", "original_event", "transform_input"]
    assert "NotImplementedError" in inspect.getsource(events_models.Rule.send_to_targets), "moto delivers to Lambda now?"
    assert "rule.send_to_targets(event_msg)" in inspect.getsource(events_models.EventsBackend.put_events)
    assert _params(events_models.EventTemplateParser.parse) == ["input_template", "input_paths_map", "event"]
    assert _params(SESV2Response.send_email) == ["self"] and '"MessageId"' in inspect.getsource(SESV2Response.send_email)


def test_given_moto_5_2_5_then_its_dynamodb_stream_records_are_made_where_the_stream_patch_expects():
    from moto.dynamodb.models import table as dynamodb_table

    add = inspect.getsource(dynamodb_table.StreamShard.add)
    assert _params(dynamodb_table.StreamShard.add) == ["self", "old", "new"]
    assert "self.items.append(StreamRecord(" in add, "the stream record is no longer appended to the shard"
    assert "lambda_event_source_mappings" in add, "moto's own stream delivery moved: is it still inside the request?"
    assert "self.stream_shard.add(current, item)" in inspect.getsource(dynamodb_table.Table.put_item)
    assert "self.stream_shard.add(item, None)" in inspect.getsource(dynamodb_table.Table.delete_item)
    assert "table.stream_shard.add(orig_item, item)" in inspect.getsource(DynamoDBBackend.update_item)
    record = inspect.getsource(dynamodb_table.StreamRecord.__init__)
    for key in ('"eventID"', '"eventName"', '"Keys"', '"SequenceNumber"', '"SizeBytes"', '"NewImage"'):
        assert key in record, f"moto's stream record lost {key}"


def test_given_moto_then_its_sfn_lambda_integration_names_function_errors_by_error_type():
    # the invoker's error payload relies on exactly this path
    source = inspect.getsource(lambda_eval_utils.execute_lambda_function_integration)
    assert 'invocation_response.get("FunctionError")' in source
    assert 'cause_object["errorType"]' in inspect.getsource(state_task_service_lambda.StateTaskServiceLambda._from_error)


def test_given_installed_patches_when_uninstalled_then_the_originals_are_back_and_it_is_idempotent():
    before = {(owner, name): owner.__dict__[name] for owner, name in [
        (LambdaSimpleBackend, "invoke"), (LambdaFunction, "invoke"), (WaitFunction, "_wait_interval"),
        (Timestamp, "_get_wait_seconds"), (RetrierDecl, "_eval_body"), (retrier_decl, "time"),
        (EventManager, "_get_current_timestamp"), (ExecutionWorker, "start"), (ExecutionWorker, "_execution_logic"),
        (ExecutionWorker, "stop"), (ExecutionWorker, "_get_evaluation_entrypoint"), (lambda_eval_utils, "boto_client_for"), (json_path, "parse"),
        (DynamoHandler, "call_action"), (events_models.Rule, "send_to_targets"), (SESV2Response, "send_email")]}
    clock = VirtualClock(START)
    moto_patches.install(clock, lambda name, event: event)
    moto_patches.install(clock, lambda name, event: event)  # re-installing replaces, never stacks
    assert all(owner.__dict__[name] is not original for (owner, name), original in before.items())
    moto_patches.uninstall()
    moto_patches.uninstall()
    assert all(owner.__dict__[name] is original for (owner, name), original in before.items())
    assert not moto_patches.installed()


# ---------------------------------------------------------------------- behaviour, on moto itself
class Account:
    """moto with the patches, one Lambda function and a helper to run a state machine."""

    def __init__(self, clock: VirtualClock, handler: Callable[[str, Any], Any]) -> None:
        self.clock, self.calls = clock, []

        def invoker(name: str, event: Any) -> Any:
            self.calls.append((clock.now(), event))
            return handler(name, event)

        moto_patches.install(clock, invoker)
        self.role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buffer = io.BytesIO()
        zipfile.ZipFile(buffer, "w").writestr("app.py", "")
        self.function_arn = boto3.client("lambda").create_function(
            FunctionName="f", Runtime="python3.13", Role=self.role, Handler="app.h",
            Code={"ZipFile": buffer.getvalue()})["FunctionArn"]
        self.sfn = boto3.client("stepfunctions")

    def start(self, states: dict[str, Any], execution_input: dict[str, Any] | None = None, name: str = "run") -> str:
        machine = self.sfn.create_state_machine(
            name=f"m-{name}", roleArn=self.role,
            definition=json.dumps({"StartAt": next(iter(states)), "States": states}))["stateMachineArn"]
        return self.sfn.start_execution(stateMachineArn=machine, name=name,
                                        input=json.dumps(execution_input or {}))["executionArn"]

    def task(self, **extra: Any) -> dict[str, Any]:
        return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": self.function_arn, "Payload.$": "$"}, **extra}

    def describe(self, arn: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=arn)


@pytest.fixture
def account_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Account]]:
    created: list[Account] = []
    with mock_aws(config=MOTO_CONFIG):
        def make(handler: Callable[[str, Any], Any] = lambda name, event: {"ok": True},
                 clock: VirtualClock | None = None) -> Account:
            created.append(Account(clock or VirtualClock(START), handler))
            return created[-1]

        try:
            yield make
        finally:
            for account in created:
                account.clock.close()
            moto_patches.uninstall()


def test_given_a_wait_of_two_days_when_run_then_it_finishes_at_once_two_virtual_days_later(account_with):
    account = account_with()
    arn = account.start({"Wait": {"Type": "Wait", "Seconds": 2 * 86400, "Next": "Task"}, "Task": account.task(End=True)})
    began = time.monotonic()

    assert account.clock.run_until_settled(timeout=10) is True

    assert time.monotonic() - began < 2
    assert account.clock.now() - START == timedelta(days=2)
    assert account.describe(arn)["status"] == "SUCCEEDED"
    assert [at for at, _ in account.calls] == [START + timedelta(days=2)]


def test_given_a_timestamp_path_wait_then_it_is_measured_against_the_virtual_clock(account_with):
    account = account_with()
    arn = account.start({"Wait": {"Type": "Wait", "TimestampPath": "$.at", "Next": "Task"}, "Task": account.task(End=True)},
                        {"at": "2026-12-25T08:30:00Z"})

    account.clock.run_until_settled(timeout=10)

    assert account.describe(arn)["status"] == "SUCCEEDED"
    assert account.calls[0][0] == datetime(2026, 12, 25, 8, 30, tzinfo=UTC)


def test_given_transient_errors_when_retried_then_the_back_off_runs_on_the_virtual_clock(account_with):
    def handler(name: str, event: Any) -> Any:
        if len(account.calls) < 3:
            raise TransientError("provider throttled")
        return {"attempt": len(account.calls)}

    account = account_with(handler)
    retry = [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0}]
    arn = account.start({"Task": account.task(Retry=retry, End=True)})

    account.clock.run_until_settled(timeout=10)

    assert account.describe(arn)["status"] == "SUCCEEDED"
    assert [(at - START).total_seconds() for at, _ in account.calls] == [0, 2, 6]
    events = account.sfn.get_execution_history(executionArn=arn)["events"]
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["TransientError", "TransientError"]
    assert events[-1]["timestamp"] == START + timedelta(seconds=6)  # history in virtual time


def test_given_retries_run_out_when_caught_then_the_catch_sees_the_exception_class_name(account_with):
    def handler(name: str, event: Any) -> Any:
        raise TransientError("still throttled")

    account = account_with(handler)
    states = {
        "Task": account.task(Retry=[{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                             Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                             End=True),
        "Caught": {"Type": "Pass", "End": True},
    }
    arn = account.start(states, {"contact_id": "c1"})

    account.clock.run_until_settled(timeout=10)

    output = json.loads(account.describe(arn)["output"])
    assert output["error"]["Error"] == "TransientError"
    cause = json.loads(output["error"]["Cause"])
    assert cause["errorType"] == "TransientError" and cause["errorMessage"] == "still throttled"
    assert len(account.calls) == 3


def test_given_a_direct_invoke_of_a_failing_function_then_lambda_reports_an_unhandled_function_error(account_with):
    def handler(name: str, event: Any) -> Any:
        raise ValueError("bad input")

    account = account_with(handler)
    response = boto3.client("lambda").invoke(FunctionName="f", Payload=b'{"x": 1}')

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "ValueError"
    assert account.calls[0][1] == {"x": 1}


def test_given_an_sns_subscription_when_a_message_is_published_then_the_function_runs_in_process(account_with):
    account = account_with()
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=account.function_arn)

    sns.publish(TopicArn=topic, Message="hello")

    assert account.calls[0][1]["Records"][0]["Sns"]["Message"] == "hello"


def _rule_to(account: Account, pattern: dict[str, Any], **target: Any) -> Any:
    """A rule on the default bus with the function (and an SQS queue) as targets; returns the queue URL."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="r", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="r", Targets=[{"Id": "fn", "Arn": account.function_arn, **target},
                                          {"Id": "queue", "Arn": queue_arn}])
    return queue


def _put(detail_type: str = "Email Opened", **detail: Any) -> dict[str, Any]:
    return boto3.client("events").put_events(Entries=[{
        "Source": "aws.ses", "DetailType": detail_type, "Detail": json.dumps({"eventType": "Open", **detail}),
        "Resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/cs"], "Time": START}])


def test_given_a_rule_with_a_lambda_target_when_an_event_matches_then_the_function_gets_it_as_eventbridge_sends_it(
        account_with):
    account = account_with()
    queue = _rule_to(account, {"source": ["aws.ses"], "detail-type": ["Email Opened"]})

    answer = _put(mail={"messageId": "m-1"})

    assert answer["FailedEntryCount"] == 0
    [(_, event)] = account.calls
    assert event == {"version": "0", "id": answer["Entries"][0]["EventId"], "detail-type": "Email Opened",
                     "source": "aws.ses", "account": "123456789012", "time": "2026-11-23T09:00:00Z",
                     "region": "us-east-1", "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/cs"],
                     "detail": {"eventType": "Open", "mail": {"messageId": "m-1"}}}
    queued = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(queued[0]["Body"])["detail"]["mail"] == {"messageId": "m-1"}   # moto's own targets still served


def test_given_a_rule_when_an_event_does_not_match_then_the_function_is_not_invoked(account_with):
    account = account_with()
    _rule_to(account, {"source": ["aws.ses"], "detail-type": ["Email Bounced"]})

    _put("Email Opened")

    assert account.calls == []


def test_given_a_target_with_a_constant_input_then_the_function_gets_that_input(account_with):
    account = account_with()
    _rule_to(account, {"source": ["aws.ses"]}, Input=json.dumps({"fixed": True}))

    _put()

    assert [event for _, event in account.calls] == [{"fixed": True}]


def test_given_a_failing_function_then_put_events_succeeds_and_lambda_retries_it_twice(account_with):
    def handler(name: str, event: Any) -> Any:
        raise TransientError("table throttled")

    account = account_with(handler)
    _rule_to(account, {"source": ["aws.ses"]})

    answer = _put()

    assert answer["FailedEntryCount"] == 0
    assert len(account.calls) == moto_patches.EVENTBRIDGE_ATTEMPTS == 3


def test_given_an_email_sent_with_a_configuration_set_and_tags_then_both_are_kept_for_its_message_id(account_with):
    account_with()
    ses = boto3.client("sesv2")
    ses.create_email_identity(EmailIdentity="noreply@example.com")
    raw = b"From: noreply@example.com\r\nTo: jane@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"

    tagged = ses.send_email(FromEmailAddress="noreply@example.com", Content={"Raw": {"Data": raw}},
                            ConfigurationSetName="cs", EmailTags=[{"Name": "contact_id", "Value": "c_1"}])
    plain = ses.send_email(FromEmailAddress="noreply@example.com", Content={"Raw": {"Data": raw}})

    assert moto_patches.ses_message(tagged["MessageId"]) == {"configuration_set": "cs", "tags": {"contact_id": "c_1"}}
    assert moto_patches.ses_message(plain["MessageId"]) == {"configuration_set": None, "tags": {}}
    assert moto_patches.ses_message("never-sent") is None


def test_given_a_waiting_execution_when_stopped_then_the_wait_is_interrupted(account_with):
    account = account_with(clock=VirtualClock(START, auto_advance=False, poll_seconds=0.05))
    arn = account.start({"Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Task"}, "Task": account.task(End=True)})
    assert account.clock.wait_idle(timeout=5)

    account.sfn.stop_execution(executionArn=arn)

    assert account.clock.wait_finished(timeout=2)  # at once: the sleep itself looks only every 5 s
    assert account.describe(arn)["status"] == "ABORTED"
    assert account.calls == [] and account.clock.now() == START


def test_given_two_executions_of_one_definition_then_each_evaluates_its_own_copy_of_the_program(account_with):
    account = account_with()
    states = {"Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Task"}, "Task": account.task(End=True)}
    machine = account.sfn.create_state_machine(name="shared", roleArn=account.role, definition=json.dumps(
        {"StartAt": "Wait", "States": states}))["stateMachineArn"]
    with account.clock.hold():
        arns = [account.sfn.start_execution(stateMachineArn=machine, name=f"e{wait}",
                                            input=json.dumps({"wait": wait}))["executionArn"] for wait in (30, 10)]

    account.clock.run_until_settled(timeout=10)

    assert [account.describe(arn)["status"] for arn in arns] == ["SUCCEEDED", "SUCCEEDED"]
    assert sorted((at - START).total_seconds() for at, _ in account.calls) == [10, 30]


def test_given_concurrent_transactions_and_writes_then_moto_dynamodb_stays_consistent(account_with):
    account_with()
    db = boto3.client("dynamodb")
    db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                db.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": f"a{n}-{i}"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": f"b{n}-{i}"}}}}])
                db.put_item(TableName="t", Item={"pk": {"S": f"c{n}-{i}"}})
        except Exception as error:  # collected: asserted below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert db.scan(TableName="t", Select="COUNT")["Count"] == 8 * 15 * 3


def test_given_a_cancelled_transaction_then_exactly_the_items_it_touched_are_as_before(account_with):
    # GIVEN a table with an item, and a transaction that puts a new item, updates the old one and
    # deletes a third, then fails a condition (moto now backs up these items, not the whole table)
    account_with()
    db = boto3.client("dynamodb")
    db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    db.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    db.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    before = sorted(json.dumps(i, sort_keys=True) for i in db.scan(TableName="t")["Items"])

    # WHEN the transaction is cancelled by its last condition
    with pytest.raises(db.exceptions.TransactionCanceledException) as cancelled:
        db.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "absent"}, "sk": {"S": "1"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])

    # THEN moto names the reason per item, as DynamoDB does
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    # AND the table is as it was: no new item, the update undone, the deleted item back
    after = sorted(json.dumps(i, sort_keys=True) for i in db.scan(TableName="t")["Items"])
    assert after == before
    # AND a transaction that succeeds still writes everything
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
    ])
    assert db.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "2"}
    assert db.scan(TableName="t", Select="COUNT")["Count"] == 3


# ---------------------------------------------------------------------- queries read their partition only
def _history_table(db: Any) -> None:
    """A table shaped like the contacts table: pk/sk, the ByKind LSI (pk, ksk) and a GSI, with
    three partitions of items, some without ksk (not in the index)."""
    string = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "ksk", "g")]
    db.create_table(
        TableName="h", BillingMode="PAY_PER_REQUEST", AttributeDefinitions=string,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[{"IndexName": "ByKind", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "ksk", "KeyType": "RANGE"}]}],
        GlobalSecondaryIndexes=[{"IndexName": "GSI1", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
    for contact in ("c1", "c2", "c3"):
        for n in range(12):
            kind = ("email.opened", "email.sent", "tag.added")[n % 3]
            item = {"pk": {"S": f"CONTACT#{contact}"}, "sk": {"S": f"H#2026-11-{10 + n:02d}#{n}"},
                    "n": {"N": str(n)}, "g": {"S": f"G{n % 2}"}}
            if n % 4:
                item["ksk"] = {"S": f"{kind}#2026-11-{10 + n:02d}#{n}"}
            db.put_item(TableName="h", Item=item)


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "CONTACT#c2"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "CONTACT#absent"}}},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :h)", "ScanIndexForward": False, "Limit": 5,
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c2"}, ":h": {"S": "H#2026-11-1"}}},
    {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "FilterExpression": "n > :three",
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c3"}, ":a": {"S": "H#2026-11-12"},
                                   ":b": {"S": "H#2026-11-20"}, ":three": {"N": "3"}}},
    {"KeyConditionExpression": "pk = :p", "Select": "COUNT", "ConsistentRead": True,
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c1"}}},
    {"IndexName": "ByKind", "KeyConditionExpression": "pk = :p", "ConsistentRead": True,
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c2"}}},
    {"IndexName": "ByKind", "KeyConditionExpression": "pk = :p AND begins_with(ksk, :k)", "ScanIndexForward": False,
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c2"}, ":k": {"S": "email.opened#"}}},
    {"IndexName": "ByKind", "KeyConditionExpression": "pk = :p AND ksk BETWEEN :a AND :b", "Limit": 2,
     "ProjectionExpression": "sk, n",
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c1"}, ":a": {"S": "email.sent#2026-11-11"},
                                   ":b": {"S": "email.sent#2026-11-30"}}},
    {"IndexName": "ByKind", "KeyConditionExpression": "pk = :p AND ksk > :k", "Select": "COUNT",
     "ExpressionAttributeValues": {":p": {"S": "CONTACT#c3"}, ":k": {"S": "email.sent#"}}},
    {"IndexName": "GSI1", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G1"}}},
]


def _answers(db: Any) -> list[list[dict[str, Any]]]:
    """Every page of every query in QUERIES (Limit pages through LastEvaluatedKey)."""
    answers = []
    for query in QUERIES:
        pages, start = [], None
        while True:
            page = db.query(TableName="h", **query, **({"ExclusiveStartKey": start} if start else {}))
            page.pop("ResponseMetadata")
            pages.append(page)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        answers.append(pages)
    return answers


def test_given_moto_5_2_5_then_its_query_finds_candidates_where_the_partition_patch_expects():
    from moto.dynamodb.models import table as dynamodb_table

    assert _params(dynamodb_table.Table.query) == [
        "self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward",
        "projection_expressions", "index_name", "consistent_read", "filter_expression", "hash_key_conditions",
        "range_key_conditions", "filter_kwargs"]
    source = inspect.getsource(dynamodb_table.Table.query)
    assert source.count("self.all_items()") == 2, "moto's Query finds its candidates elsewhere now"
    assert "table.query(" in inspect.getsource(DynamoDBBackend.query)
    assert _params(dynamodb_table.Table.all_items) == ["self"]


def test_given_table_and_index_queries_then_reading_only_the_partition_answers_exactly_as_moto(monkeypatch):
    # GIVEN three contacts' items, the ByKind LSI and a GSI; every table Query and every LSI Query
    # counted when it reads the whole table (moto's all_items)
    from moto.dynamodb.models import table as dynamodb_table

    whole_table_reads = []
    original = dynamodb_table.Table.all_items

    def counted(self: Any) -> Any:
        whole_table_reads.append(self.name)
        return original(self)

    monkeypatch.setattr(dynamodb_table.Table, "all_items", counted)
    with mock_aws(config=MOTO_CONFIG):
        db = boto3.client("dynamodb", region_name="us-east-1")
        _history_table(db)
        # WHEN the queries run on moto as it is, then with the partition patch
        expected = _answers(db)
        reads_by_moto = len(whole_table_reads)
        whole_table_reads.clear()
        with moto_patches._patched(moto_patches._partition_query_patches()):
            answered = _answers(db)

    # THEN every page is the same: items, order, Count, ScannedCount, LastEvaluatedKey
    assert answered == expected
    assert [len(pages) for pages in answered][2] > 1 and answered[7][0]["Count"] == 2  # paged for real
    # AND only the GSI query read the whole table (once per page), where moto read it for every page
    gsi_pages = len(answered[-1])
    assert whole_table_reads == ["h"] * gsi_pages
    assert reads_by_moto == sum(len(pages) for pages in expected)


def test_given_a_large_table_then_a_contacts_by_kind_query_reads_only_its_items(account_with):
    # GIVEN the runtime's patches and a table of 3 contacts' items plus 3,000 other partitions
    account_with()
    db = boto3.client("dynamodb")
    _history_table(db)
    for n in range(3000):
        db.put_item(TableName="h", Item={"pk": {"S": f"CONTACT#x{n}"}, "sk": {"S": "PROFILE"},
                                         "ksk": {"S": "email.opened#2026-11-11#0"}})
    from moto.dynamodb.models import table as dynamodb_table

    seen: list[int] = []
    original_sorted = dynamodb_table.Table.sorted_items

    def sorted_items(self: Any, hash_attrs: Any, range_attrs: Any, items: Any) -> Any:
        seen.append(len(items))
        return original_sorted(self, hash_attrs, range_attrs, items)

    # WHEN a contact's opened emails are queried on ByKind
    with moto_patches._patched([(dynamodb_table.Table, "sorted_items", sorted_items)]):
        page = db.query(TableName="h", IndexName="ByKind", ConsistentRead=True,
                        KeyConditionExpression="pk = :p AND begins_with(ksk, :k)",
                        ExpressionAttributeValues={":p": {"S": "CONTACT#c1"}, ":k": {"S": "email.opened#"}})

    # THEN the candidates were the contact's indexed items only (9 of 12 have ksk), not the table
    assert seen == [9]
    assert [item["sk"]["S"] for item in page["Items"]] == ["H#2026-11-13#3", "H#2026-11-16#6", "H#2026-11-19#9"]
