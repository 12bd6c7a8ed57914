"""`automaps contacts ... --stack-name` in the deploy rehearsal: the stack (template.yaml in moto's
CloudFormation) puts the contact routes on the AdminApi behind AWS_IAM, gives ContactsApiFunction
its least privileges, and the CLI's requests are SigV4-signed for execute-api. A real HTTP server
on 127.0.0.1 stands in for API Gateway: it verifies each signature (tests/rehearsal/test_admin.py's
own SigV4 check, from AWS's specification) and hands the request to the function's handler, which
runs with the environment the stack gave it, on the stack's tables."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator

import boto3
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from automaps import aws as aws_clients
from automaps_local.admin import admin_url
from automaps_local.cli import main
from tests.contacts.calls import call
from tests.rehearsal.test_admin import sigv4_valid

ROUTES = {("/contacts", "get"), ("/contacts/import", "post"), ("/contacts/export", "get"),
          ("/contacts/{contact_id}", "get"), ("/contacts/{contact_id}", "delete"),
          ("/contacts/{contact_id}/data", "get"), ("/contacts/{contact_id}/explain", "get"),
          ("/contacts/{contact_id}/enrollments", "post"), ("/contacts/{contact_id}/enrollments/{map_id}", "delete")}


@pytest.fixture
def stack_env(rehearsal, monkeypatch):
    """GIVEN ContactsApiFunction's environment as the stack set it (its tables, queue, prefix)."""
    configuration = boto3.client("lambda").get_function_configuration(
        FunctionName=rehearsal.physical["ContactsApiFunction"])
    for name, value in configuration["Environment"]["Variables"].items():
        if not name.startswith("AWS_"):  # (moto's placeholder credentials: Lambda's own, not the caller's)
            monkeypatch.setenv(name, str(value))
    aws_clients.reset()
    return rehearsal


@pytest.fixture
def gateway(stack_env) -> Iterator[tuple[str, list[dict]]]:
    """GIVEN API Gateway's stand-in: 403 to a request whose SigV4 signature does not verify, else
    the request as a REST proxy event to the function's handler."""
    received: list[dict] = []
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]  # the caller's key as the stack's account knows it (moto's)

    @Request.application
    def application(request: Request) -> Response:
        body = request.get_data()
        target = request.full_path if request.query_string else request.path
        valid = sigv4_valid(request.method, target, request.headers, body, secret)
        received.append({"method": request.method, "path": request.path, "valid": valid})
        if not valid:
            return Response(json.dumps({"message": "Forbidden"}), 403, content_type="application/json")
        headers = {k: v for k, v in request.headers.items() if k in ("Content-Type", "Idempotency-Key")}
        answer = call(request.method, request.path.removeprefix("/v1"), dict(request.args.items()) or None,
                      body.decode() or None, headers)
        return Response(answer.text, answer.status, headers=answer.headers)

    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", received
    finally:
        server.shutdown()
        thread.join(5)


def cli(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["contacts", *argv, "--stack-name", "automaps", "--url", url])
    return code, out.getvalue(), err.getvalue()


def test_given_the_stack_then_every_contact_route_is_on_the_admin_api_behind_aws_iam(rehearsal):
    paths = rehearsal.template["Resources"]["AdminApi"]["Properties"]["Body"]["paths"]
    found = {(path, method) for path, methods in paths.items() for method in methods if path.startswith("/contacts")}
    assert found == ROUTES
    for path, method in ROUTES:
        assert paths[path][method]["security"] == [{"AWS_IAM": []}], (path, method)
    assert admin_url("automaps") == rehearsal.outputs["AdminApiUrl"]


def test_given_the_stack_then_the_function_may_do_what_it_needs_and_no_more(rehearsal):
    resources = rehearsal.template["Resources"]
    role = resources["ContactsApiFunctionRole"]["Properties"]
    actions = {action for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]
               for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    assert {"sqs:SendMessage*", "states:StopExecution", "scheduler:DeleteSchedule", "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem", "states:GetExecutionHistory"} <= actions
    assert not [a for a in actions if a.endswith(":*")] and "states:DeleteStateMachine" not in actions
    assert not {"dynamodb:DeleteItem", "dynamodb:PutItem"} & {
        action for policy in role["Policies"] if "ContentTable" in json.dumps(policy)
        for statement in policy["PolicyDocument"]["Statement"] for action in statement["Action"]}


def test_given_the_stack_when_the_cli_imports_searches_and_erases_then_signed_requests_change_its_tables(gateway, tmp_path):
    url, received = gateway
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name,tags\njane@example.com,Jane,vip\nbob@example.com,Bob,\n")

    code, out, err = cli(url, "import", str(leads), "--no-progress")
    assert (code, json.loads(out)["created"]) == (0, 2), err
    code, out, _ = cli(url, "search", "--tag", "vip")
    assert code == 0 and out.split("\t")[1] == "jane@example.com"
    contact_id = out.split("\t")[0]

    code, out, _ = cli(url, "erase", "jane@example.com", "--yes", "--suppress")

    assert code == 0 and f"{contact_id} erased:" in out and "suppression hash: added" in out
    # THEN every request was signed, and the stack's table holds nothing of her but the audit
    assert received and all(r["valid"] for r in received)
    items = boto3.client("dynamodb").scan(TableName=stack_table())["Items"]
    assert "jane@example.com" not in json.dumps(items)
    assert {i["pk"]["S"] for i in items if contact_id in json.dumps(i)} == {f"ERASED#{contact_id}"}
    assert cli(url, "show", contact_id)[0] == 1


def test_given_a_request_signed_with_another_key_then_the_gateway_refuses_it_and_the_cli_exits_1(gateway, monkeypatch):
    url, received = gateway
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "someone-elses")

    code, _, err = cli(url, "search", "--email", "jane@example.com")

    assert code == 1 and "HTTP 403: Forbidden" in err and received[-1]["valid"] is False


def stack_table() -> str:
    return os.environ["CONTACTS_TABLE"]
