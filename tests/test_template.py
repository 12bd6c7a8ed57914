"""template.yaml is valid SAM, and it wires every function, action and map the code expects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from automaps.actions import ACTION_TYPES, function_resource
from automaps_local.template import Template
from automaps_local.wiring import check
from tests.conftest import ROOT

TEMPLATE = Template.load(ROOT / "template.yaml")


def test_given_the_template_when_sam_validates_it_with_lint_then_it_passes():
    sam = Path(sys.executable).parent / "sam"
    result = subprocess.run([str(sam), "validate", "--lint", "--template", "template.yaml"], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "SAM_CLI_TELEMETRY": "0"})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_given_every_function_in_the_template_then_its_handler_file_exists_and_defines_lambda_handler():
    for logical in TEMPLATE.of_type("AWS::Serverless::Function"):
        props = TEMPLATE.function_properties(logical)
        module, function = props["Handler"].split(".")
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), f"{logical}: {source} is missing"
        assert f"def {function}(" in source.read_text(), f"{logical}: no {function} in {source}"
        assert props["Runtime"] == "python3.13" and props["Architectures"] == ["arm64"]


def test_given_every_action_type_then_the_template_has_its_function():
    functions = TEMPLATE.of_type("AWS::Serverless::Function")
    for action in ACTION_TYPES:
        assert function_resource(action) in functions, f"template.yaml lacks {function_resource(action)}"
        assert functions[function_resource(action)]["Properties"]["CodeUri"] == f"functions/{action}/"


def test_given_the_maps_then_each_is_deployed_by_a_state_machine_that_substitutes_all_it_uses():
    from automaps.maps.loader import load_maps

    map_ids = [m.id for m in load_maps(ROOT / "maps")]

    assert map_ids, "maps/ has no maps"
    assert check(TEMPLATE, map_ids, ROOT) == []


def test_given_a_map_without_a_resource_then_the_check_says_what_to_add():
    problems = check(TEMPLATE, ["welcome-leads", "brand-new"], ROOT)

    assert any("'brand-new' is not deployed yet" in p and "run `automaps compile`" in p for p in problems)


# `sam build` of the template (every function and the arm64 layer) runs in tests/local/test_new_map.py,
# on a copy of the repository with one map added.


def test_given_the_contacts_table_then_its_stream_reaches_route_events_with_filter_retries_and_dlq():
    table = TEMPLATE.of_type("AWS::DynamoDB::Table")["ContactsTable"]["Properties"]
    route = TEMPLATE.function_properties("RouteEventsFunction")
    [event] = route["Events"].values()
    props = event["Properties"]
    resources = TEMPLATE.of_type("AWS::SQS::Queue") | TEMPLATE.of_type("AWS::CloudWatch::Alarm")

    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert route["CodeUri"] == "functions/route_events/" and event["Type"] == "DynamoDB"
    assert props["Stream"] == {"Fn::GetAtt": ["ContactsTable", "StreamArn"]}
    assert (props["StartingPosition"], props["BatchSize"], props["MaximumBatchingWindowInSeconds"]) == (
        "TRIM_HORIZON", 100, 1)
    [pattern] = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    assert pattern == {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "H#"}]}}}}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and props["BisectBatchOnFunctionError"]
    assert props["MaximumRetryAttempts"] >= 1 and 0 < props["MaximumRecordAgeInSeconds"] < 24 * 3600
    assert 1 <= props["ParallelizationFactor"] <= 10
    assert props["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["RouteDeadLetterQueue", "Arn"]}}
    assert resources["RouteDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    alarm = resources["RouteDeadLetterAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["RouteDeadLetterQueue", "QueueName"]}}]
    policies = json.dumps(route["Policies"])
    for needed in ("DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBStreamReadPolicy", "states:StartExecution",
                   "states:StopExecution", "states:DescribeExecution"):
        assert needed in policies, f"RouteEventsFunction lacks {needed}"
    queues = [p["SQSSendMessagePolicy"]["QueueName"] for p in route["Policies"] if "SQSSendMessagePolicy" in p]
    assert queues == [{"Fn::GetAtt": ["EnrollQueue", "QueueName"]}, {"Fn::GetAtt": ["RouteDeadLetterQueue", "QueueName"]}]


def test_given_the_template_then_every_table_and_secret_keeps_its_data_when_the_stack_is_deleted_or_replaces_it():
    template = Template.load(ROOT / "template.yaml")
    kept = template.of_type("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret")
    assert set(kept) >= {"ContactsTable", "ContentTable", "IdempotencyTable", "SigningSecret", "IngestSecret"}
    for name, resource in kept.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


def test_given_the_template_then_every_parameter_and_output_says_what_it_is():
    body = Template.load(ROOT / "template.yaml").body
    undescribed = [f"Parameters.{name}" for name, p in body["Parameters"].items() if not p.get("Description")]
    undescribed += [f"Outputs.{name}" for name, o in body["Outputs"].items() if not o.get("Description")]
    assert undescribed == []
    assert {"PublicApiUrl", "AdminApiUrl", "AlertTopicArn", "EnrollQueueArn"} <= set(body["Outputs"])
