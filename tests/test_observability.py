"""template.yaml operates safely: logs with retention, API access logs and traces, alarms to the
AlertTopic, a dashboard that finds every map's metrics, scoped SES sending, a failure destination
for every function invoked asynchronously (issue 11, "Observability and safe operation")."""

from __future__ import annotations

import json
import re
from typing import Any

from automaps_local.template import Template
from tests.conftest import ROOT

TEMPLATE = Template.load(ROOT / "template.yaml")
RESOURCES = TEMPLATE.resources
# event sources through which Lambda is invoked asynchronously (SQS, streams and APIs are not)
ASYNC_EVENT_TYPES = {"EventBridgeRule", "Schedule", "ScheduleV2", "SNS", "S3", "CloudWatchEvent", "CloudWatchLogs"}


def alarm(name: str) -> dict[str, Any]:
    resource = TEMPLATE.of_type("AWS::CloudWatch::Alarm")[name]
    return resource["Properties"]


def test_given_the_template_then_every_function_logs_to_a_log_group_kept_log_retention_days():
    parameter = TEMPLATE.body["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30 and parameter["Description"]
    for logical in TEMPLATE.of_type("AWS::Serverless::Function"):
        group = TEMPLATE.function_properties(logical)["LoggingConfig"]["LogGroup"]
        [(name,)] = [tuple(group.values())]
        assert RESOURCES[name]["Type"] == "AWS::Logs::LogGroup", logical
        assert RESOURCES[name]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical


def test_given_both_apis_then_globals_api_traces_them_and_writes_json_access_logs_without_tokens_or_addresses():
    api = TEMPLATE.body["Globals"]["Api"]
    apis = TEMPLATE.of_type("AWS::Serverless::Api")

    assert set(apis) == {"PublicApi", "AdminApi"}
    assert all("AccessLogSetting" not in a["Properties"] and "TracingEnabled" not in a["Properties"] for a in apis.values())
    assert api["TracingEnabled"] is True
    [(group, _)] = [api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"]]
    assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(api["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "resource", "latencyMs", "traceId"} <= set(fields)
    variables = set(re.findall(r"\$context\.[\w.]+", api["AccessLogSetting"]["Format"]))
    assert not variables & {"$context.path", "$context.identity.sourceIp"}   # tokens ride in paths; no IPs
    assert "$context.resourcePath" in variables


def test_given_access_logs_then_the_stages_wait_for_the_accounts_cloudwatch_logs_role_unless_it_exists():
    account = RESOURCES["ApiGatewayAccount"]
    role = RESOURCES["ApiGatewayLogsRole"]["Properties"]

    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Condition"] == RESOURCES["ApiGatewayLogsRole"]["Condition"] == "CreatesApiGatewayLogsRole"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    assert any(p.endswith("AmazonAPIGatewayPushToCloudWatchLogs") for p in json.dumps(role["ManagedPolicyArns"]).split('"'))
    variable = TEMPLATE.body["Globals"]["Api"]["Variables"]["logsRole"]
    assert variable == {"Fn::If": ["CreatesApiGatewayLogsRole", {"Ref": "ApiGatewayAccount"}, "account"]}
    assert TEMPLATE.body["Parameters"]["CreateApiGatewayLogsRole"]["Description"]


def test_given_the_template_then_no_lambda_loads_the_xray_sdk():
    """API Gateway and the state machines trace; a function with Tracing: Active would only add
    its own segments, and the X-Ray SDK (Powertools Tracer) would add ~400 ms to cold starts."""
    for logical in TEMPLATE.of_type("AWS::Serverless::Function"):
        assert TEMPLATE.function_properties(logical).get("Tracing", "PassThrough") == "PassThrough", logical
    sources = "\n".join(p.read_text() for p in [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/automaps/automaps/**/*.py")])
    assert "Tracer(" not in sources and "aws_xray_sdk" not in sources
    requirements = (ROOT / "layers/automaps/requirements.txt").read_text()
    assert "aws-xray-sdk" not in requirements and "[tracer]" not in requirements


def test_given_the_alarms_then_throttles_and_api_5xx_notify_the_alert_topic():
    for name in ("LambdaThrottlesAlarm", "StateMachineThrottlesAlarm", "PublicApi5xxAlarm", "AdminApi5xxAlarm",
                 "AsyncFailuresAlarm", "EnrollDeadLetterAlarm", "RouteDeadLetterAlarm", "FailedExecutionsAlarm"):
        props = alarm(name)
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}], name
        assert props["AlarmDescription"] and props["TreatMissingData"] == "notBreaching", name
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold"), name

    assert (alarm("LambdaThrottlesAlarm")["Namespace"], alarm("LambdaThrottlesAlarm")["MetricName"]) == (
        "AWS/Lambda", "Throttles")
    assert "Dimensions" not in alarm("LambdaThrottlesAlarm")   # all functions, whatever they are called
    [query] = alarm("StateMachineThrottlesAlarm")["Metrics"]
    assert query["Expression"] == 'SELECT SUM(ExecutionThrottled) FROM SCHEMA("AWS/States", StateMachineArn)'
    for name, api in (("PublicApi5xxAlarm", "PublicApi"), ("AdminApi5xxAlarm", "AdminApi")):
        props = alarm(name)
        assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Sum")
        dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert dimensions == {"ApiName": RESOURCES[api]["Properties"]["Name"], "Stage": {"Ref": "StageName"}}


def test_given_every_function_invoked_asynchronously_then_its_failures_reach_a_queue_whose_depth_alarms():
    asynchronous = {
        logical
        for logical, resource in TEMPLATE.of_type("AWS::Serverless::Function").items()
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] in ASYNC_EVENT_TYPES
    }
    assert asynchronous == {"EmailEventsFunction", "SegmentSweepFunction"}
    for logical in asynchronous:
        props = TEMPLATE.function_properties(logical)
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]}}, logical
        assert 0 <= props["EventInvokeConfig"]["MaximumRetryAttempts"] <= 2
        for event in props["Events"].values():   # what the rule or schedule itself cannot deliver
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]}}
    assert alarm("AsyncFailuresAlarm")["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AsyncFailuresQueue", "QueueName"]}}]
    [statement] = RESOURCES["AsyncFailuresQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"


def test_given_every_function_that_sends_email_then_ses_allows_only_the_senders_identity_and_the_configuration_set():
    senders = {}
    for logical in TEMPLATE.of_type("AWS::Serverless::Function"):
        for policy in TEMPLATE.function_properties(logical).get("Policies") or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if "ses:" in json.dumps(statement["Action"]):
                    senders[logical] = statement

    assert set(senders) == {"SendEmailFunction", "NotifyTeamEmailFunction", "AddToLeadRouterFunction"}
    for logical, statement in senders.items():
        assert statement["Action"] == "ses:SendEmail", logical
        resources = json.dumps(statement["Resource"])
        assert '"*"' not in resources, logical
        assert "identity/${EmailFrom}" in resources and "identity/${Domain}" in resources, logical
        assert "configuration-set/${EmailConfigurationSet}" in resources, logical
        [sandbox] = [r for r in statement["Resource"] if "Fn::If" in r]
        assert sandbox["Fn::If"][0] == "InSesSandbox" and sandbox["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert TEMPLATE.body["Parameters"]["SesSandbox"]["Default"] == "false"


def dashboard() -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard body, with the stack's names substituted (as CloudFormation would), and its substitutions."""
    body, substitutions = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = re.sub(r"\$\{([^}!]+)\}", lambda m: str(substitutions.get(m.group(1), f"<{m.group(1)}>")), body)
    return json.loads(text), substitutions


def test_given_the_dashboard_then_search_expressions_show_every_maps_outcomes_by_step_without_regenerating_it():
    body, substitutions = dashboard()
    expressions = [m[0]["expression"] for w in body["widgets"] for m in w["properties"]["metrics"]
                   if isinstance(m[0], dict) and "expression" in m[0]]
    namespace = TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]

    assert substitutions["Namespace"] == namespace
    assert all(e.startswith("SEARCH(") for e in expressions)
    text = "\n".join(expressions)
    for metric in ("StepDone", "StepSkipped", "StepFailed", "StepUnknown", "EmailSent", "EmailOpened", "MapEnrolled",
                   "MapExited"):
        assert f'MetricName="{metric}"' in text, metric
    assert "{Automaps,map,service,step}" in text and "{Automaps,map,service}" in text
    assert not any(m in json.dumps(body) for m in ("welcome-leads", "lead-nurture"))   # no map is named
    for queue in ("EnrollDeadLetterQueue", "RouteDeadLetterQueue", "FailedExecutionsQueue", "AsyncFailuresQueue"):
        assert f"<{queue}.QueueName>" in json.dumps(body), queue
    assert all(w["properties"]["region"] == "<AWS::Region>" for w in body["widgets"])


def test_given_the_outputs_then_the_dashboard_log_groups_and_failure_queue_are_named():
    outputs = TEMPLATE.body["Outputs"]
    assert {"DashboardUrl", "FunctionsLogGroupName", "ApiAccessLogGroupName", "AsyncFailuresQueueUrl"} <= set(outputs)
