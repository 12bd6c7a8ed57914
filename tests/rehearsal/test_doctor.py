"""`automaps doctor --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): a stack set up as docs/deploy.md says passes every check; one where each step
was skipped fails each check, saying what is missing and how to fix it, and exits 1.

moto has SES identities, configuration sets, secrets, SNS, Step Functions and DynamoDB; what it
lacks is answered in tests/rehearsal/helpers.py (sesv2 GetAccount and the event destinations)
and by botocore's Stubber (End User Messaging and Bedrock's model access, absent from moto)."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from automaps_local.cli import main
from tests.conftest import ROOT
from tests.rehearsal.helpers import answer, event_destinations_from_moto

MODEL = "us.anthropic.claude-3-haiku-20240307-v1:0"  # an inference profile: its model is anthropic.claude-...
NUMBER = "+18005550100"

# a compiled map (as `automaps compile` writes) with the steps the repository's maps do not have
AI_AND_SMS = {"StartAt": "Summarize", "States": {
    "Summarize": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Text",
                  "Parameters": {"FunctionName": "${AiAssistantFunctionArn}", "Payload": {
                      "action": "ai_assistant", "settings": {"model_id": MODEL, "prompt": "Summarize {{ notes }}"}}}},
    "Text": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
             "Parameters": {"FunctionName": "${SendSmsFunctionArn}", "Payload": {
                 "action": "send_sms", "settings": {"provider": "end_user_messaging", "from": NUMBER,
                                                    "text": "Hi {{ first_name }}"}}}}}}


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of the repository's maps, compiled machines and content, plus a compiled machine
    with an ai_assistant step and a text sent from an End User Messaging number."""
    root = tmp_path / "repo"
    for folder in ("maps", "statemachines", "content"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    (root / "statemachines" / "ai-notes.asl.json").write_text(json.dumps(AI_AND_SMS))
    return root


def stub_sms(status: str) -> None:
    from automaps import aws

    stubber = Stubber(aws.client("pinpoint-sms-voice-v2"))
    stubber.add_response("describe_phone_numbers", {"PhoneNumbers": [{
        "PhoneNumberArn": "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-1", "PhoneNumberId": "phone-1",
        "PhoneNumber": NUMBER, "Status": status, "IsoCountryCode": "US", "MessageType": "PROMOTIONAL",
        "NumberCapabilities": ["SMS"], "NumberType": "TOLL_FREE", "MonthlyLeasingPrice": "2.00",
        "TwoWayEnabled": False, "SelfManagedOptOutsEnabled": False, "OptOutListName": "Default",
        "DeletionProtectionEnabled": False, "CreatedTimestamp": datetime(2026, 11, 1, tzinfo=UTC)}]})
    stubber.add_response("describe_sender_ids", {"SenderIds": []})
    stubber.add_response("describe_pools", {"Pools": []})
    stubber.activate()


def stub_bedrock(authorization: str) -> None:
    from automaps import aws

    stubber = Stubber(aws.client("bedrock"))
    stubber.add_response("get_foundation_model_availability", {
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0", "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": authorization, "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE"}, {"modelId": "anthropic.claude-3-haiku-20240307-v1:0"})
    stubber.activate()


def write_stripe_connection(root: Path, arn: str) -> None:
    (root / "content" / "connections").mkdir(exist_ok=True)
    (root / "content" / "connections" / "stripe.yaml").write_text(f"type: stripe\nsecret_arn: {arn}\n")


def doctor(root: Path, capsys) -> tuple[int, dict[str, list[str]], str]:
    code = main(["doctor", "--stack-name", "automaps", "--root", str(root)])
    out = capsys.readouterr().out
    found: dict[str, list[str]] = {}
    for line in out.splitlines()[:-1]:
        if not line.startswith(" "):
            status, check = line.split()[:2]
            found.setdefault(check, []).append(status)
    return code, found, out


def test_given_a_stack_set_up_as_the_deploy_guide_says_when_doctor_runs_then_every_check_is_ok(
        rehearsal, repo, monkeypatch, capsys):
    from automaps import aws

    # GIVEN the sender's domain verified with DKIM, production access, the configuration set's
    # destination (the stack's), an active toll-free number, access to the model
    aws.client("sesv2").create_email_identity(EmailIdentity="example.com", DkimSigningAttributes={
        "DomainSigningSelector": "automaps", "DomainSigningPrivateKey": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"})
    answer(aws.client("sesv2"), "GetAccount", {"ProductionAccessEnabled": True, "SendingEnabled": True, "SendQuota": {
        "Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0}})
    event_destinations_from_moto(aws.client("sesv2"))
    stub_sms("ACTIVE")
    stub_bedrock("AUTHORIZED")
    # AND the Stripe connection's key stored with `automaps secret set`, named in its file
    monkeypatch.setattr("sys.stdin", io.StringIO("sk_test_4eC39HqLyjWDarjtT1zdp7dc\n"))
    assert main(["secret", "set", "stripe", "--stack-name", "automaps", "--root", str(repo)]) == 0
    arn = capsys.readouterr().out.split()[2]
    write_stripe_connection(repo, arn)
    # AND everything pushed
    assert main(["push", "--stack-name", "automaps", "--root", str(repo)]) == 0
    capsys.readouterr()

    # WHEN doctor runs against the stack
    code, found, out = doctor(repo, capsys)

    # THEN every check passed
    assert code == 0, out
    assert out.splitlines()[-1] == "automaps: ready to send"
    assert set(found) == {"ses-identity", "ses-dkim", "ses-production", "configuration-set", "sms", "bedrock",
                          "connection-secrets", "ingest-secret", "signing-secret", "maps", "alarms"}
    assert all(statuses == ["OK"] * len(statuses) for statuses in found.values()), out
    assert len(found["maps"]) == len(list((repo / "maps").glob("*.yaml")))
    assert f"OK       sms                 {NUMBER}: active toll_free" in out
    assert "14 emails/s" in out
    alarms = sum(r["Type"] == "AWS::CloudWatch::Alarm" for r in rehearsal.template["Resources"].values())
    assert f"OK       alarms              all {alarms} alarms notify a confirmed subscriber (email)" in out


def test_given_a_stack_where_every_step_was_skipped_when_doctor_runs_then_each_check_says_what_to_do(
        rehearsal, repo, capsys):
    from automaps import aws

    # GIVEN no SES identity, the SES sandbox (a request pending), no event destination, a number
    # still in registration, no model access, a connection naming a secret never stored, nothing
    # pushed, the ingestion secret deleted and the alert email unsubscribed
    answer(aws.client("sesv2"), "GetAccount", {"ProductionAccessEnabled": False, "Details": {
        "ReviewDetails": {"Status": "PENDING", "CaseId": "1"}}})
    answer(aws.client("sesv2"), "GetConfigurationSetEventDestinations", {"EventDestinations": []})
    stub_sms("PENDING")
    stub_bedrock("NOT_AUTHORIZED")
    write_stripe_connection(repo, "arn:aws:secretsmanager:us-east-1:123456789012:secret:automaps/connections/stripe")
    boto3.client("secretsmanager").delete_secret(SecretId=rehearsal.physical["IngestSecret"],
                                                 ForceDeleteWithoutRecovery=True)
    sns = boto3.client("sns")
    for subscription in sns.list_subscriptions_by_topic(TopicArn=rehearsal.outputs["AlertTopicArn"])["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    # WHEN doctor runs against the stack
    code, found, out = doctor(repo, capsys)

    # THEN it exits 1, and each check (but the signing secret) is missing, with its fix
    assert code == 1
    assert {check for check, statuses in found.items() if "MISSING" in statuses} == {
        "ses-identity", "ses-dkim", "ses-production", "configuration-set", "sms", "bedrock",
        "connection-secrets", "ingest-secret", "maps", "alarms"}, out
    assert found["signing-secret"] == ["OK"]
    assert out.splitlines()[-1] == f"automaps: {sum(s.count('MISSING') for s in found.values())} missing"
    for fix in ("aws sesv2 create-email-identity --email-identity example.com",
                "aws sesv2 put-account-details --production-access-enabled",
                "(request pending); SesSandbox is false, so even sends to verified addresses are refused",
                "no enabled EventBridge destination",
                f"{NUMBER}: pending toll_free (its registration is not finished)",
                f"{MODEL}: authorization not_authorized",
                "connection stripe: the secret does not exist",
                "fix: automaps secret set stripe --stack-name automaps",
                "welcome-leads: not pushed", "fix: automaps push --stack-name automaps",
                "alarms notify nobody (the alert topic has no confirmed subscriber)", "AlertEmail="):
        assert fix in out, fix


def test_given_a_connection_secret_outside_the_stacks_prefix_or_without_its_member_then_doctor_says_so(
        rehearsal, repo, capsys):
    from automaps_local.doctor import Deployment, check_connection_secrets

    # GIVEN a stripe connection whose secret lacks api_key, and a wordpress one outside <stack>/connections/
    sm = boto3.client("secretsmanager")
    stripe = sm.create_secret(Name="automaps/connections/stripe", SecretString='{"key": "sk_x"}')["ARN"]
    other = sm.create_secret(Name="shared/wordpress", SecretString="app-password")["ARN"]
    write_stripe_connection(repo, stripe)
    (repo / "content" / "connections" / "blog.yaml").write_text(f"type: wordpress\nsecret_arn: {other}\n")

    # WHEN the connection secrets are checked
    findings = check_connection_secrets(Deployment.of("automaps", repo))

    # THEN both are missing, each with its reason
    assert [(f.ok, f.detail) for f in findings] == [
        (False, f"connection blog: {other} is not named automaps/connections/..., which the functions may not read"),
        (False, "connection stripe: the secret has no 'api_key' member"),
    ]


def test_given_a_check_that_cannot_run_when_doctor_runs_then_it_is_reported_and_the_others_still_run(
        rehearsal, repo, capsys):
    # GIVEN nothing answers sesv2 GetAccount (moto does not implement it), nor End User Messaging
    # WHEN doctor runs
    code, found, out = doctor(repo, capsys)

    # THEN those checks say they could not check, and every other check ran
    assert code == 1
    assert "MISSING  ses-production      could not check: NotImplementedError" in out
    assert found["maps"] == ["MISSING"] * len(list((repo / "maps").glob("*.yaml")))
    assert found["signing-secret"] == ["OK"] and found["alarms"] == ["OK"]
