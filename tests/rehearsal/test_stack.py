"""The rehearsal stack is our real template, created in moto's CloudFormation: its outputs and
resources are there, what moto skips is known, and `automaps push --stack-name` works against it."""

from __future__ import annotations

import boto3
import pytest

from automaps_local.cli import main
from tests.conftest import ROOT

# what the CLI's --stack-name paths read: moto must create these (the rehearsal's adapters fill its gaps)
READ_BY_THE_CLI = {
    "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::StepFunctions::StateMachine",
    "AWS::StepFunctions::StateMachineAlias", "AWS::Lambda::Function", "AWS::Lambda::Alias", "AWS::SQS::Queue",
    "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SES::ConfigurationSet",
    "AWS::SES::ConfigurationSetEventDestination", "AWS::Scheduler::ScheduleGroup", "AWS::IAM::Role",
    "AWS::ApiGateway::RestApi", "AWS::CloudWatch::Alarm",
}


def test_given_the_template_when_rehearsed_then_every_output_is_set_and_nothing_the_cli_reads_is_skipped(rehearsal):
    # THEN every Output of the template has a value, the tables and secrets exist
    assert rehearsal.outputs and all(rehearsal.outputs.values())
    assert {"PublicApiUrl", "AdminApiUrl", "ContentTableName", "AlertTopicArn"} <= set(rehearsal.outputs)
    boto3.client("dynamodb").describe_table(TableName=rehearsal.outputs["ContentTableName"])
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=rehearsal.physical["IngestSecret"])
    assert len(secret["SecretString"]) == 64
    # AND what moto skips (stages, queue policies, schedules, ...) is nothing the CLI reads
    assert rehearsal.unsupported and not set(rehearsal.unsupported) & READ_BY_THE_CLI, rehearsal.unsupported
    assert {"AWS::Lambda::Alias", "AWS::SNS::Subscription"} <= set(rehearsal.resource_types().values())


def test_given_the_rehearsal_stack_when_push_runs_with_its_name_then_the_maps_point_at_its_state_machines(
        rehearsal, capsys):
    from automaps.store.content import ContentStore

    # WHEN `automaps push --stack-name automaps` runs against it
    code = main(["push", "--stack-name", rehearsal.name, "--root", str(ROOT)])

    # THEN it pushed everything, into the stack's content table, each map to its state machine
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().endswith("pushed to automaps")
    content = ContentStore(rehearsal.outputs["ContentTableName"])
    machines = {m["name"]: m["stateMachineArn"]
                for m in boto3.client("stepfunctions").list_state_machines()["stateMachines"]}
    welcome = content.get("MAP", "welcome-leads")
    assert welcome is not None
    assert welcome["state_machine_arn"].startswith(machines["automaps-welcome-leads"])
