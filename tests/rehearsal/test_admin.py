"""`automaps admin METHOD PATH`: the admin API (IAM auth) called with a SigV4-signed request.
A real HTTP server on 127.0.0.1 receives it and checks the Authorization header with its own
SigV4 implementation (below, from AWS's Signature Version 4 specification, not botocore's);
with --stack-name the base URL is the rehearsal stack's AdminApiUrl output."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from automaps_local.cli import main

SECRET_KEY = "testing"  # tests/conftest.py's fake credentials
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[\w-]+)/(?P<service>[\w-]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$")


def sigv4_valid(method: str, target: str, headers, body: bytes, secret_key: str = SECRET_KEY) -> bool:
    """Whether the request's Authorization header is the SigV4 signature of what arrived."""
    found = AUTHORIZATION.match(headers.get("Authorization", ""))
    if not found:
        return False
    url = urlsplit(target)
    enc = lambda text: quote(text, safe="-_.~")  # noqa: E731
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(parse_qsl(url.query, keep_blank_values=True)))
    signed = found["signed"].split(";")
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed)
    canonical = "\n".join([method, quote(url.path, safe="/~"), query, canonical_headers, found["signed"],
                           hashlib.sha256(body).hexdigest()])
    scope = f"{found['day']}/{found['region']}/{found['service']}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (found["day"], found["region"], found["service"], "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), found["signature"])


@pytest.fixture
def admin_server() -> Iterator[tuple[str, list[dict]]]:
    """GIVEN an HTTP server standing in for the admin API: it answers 200 with the tasks to a
    request whose SigV4 signature checks out, 403 (as API Gateway) to any other."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            valid = sigv4_valid(self.command, self.path, self.headers, body)
            received.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                             "body": body, "valid": valid})
            answer = {"tasks": [{"id": "t_1", "title": "Call Jane"}]} if valid else {"message": "Forbidden"}
            payload = json.dumps(answer).encode()
            self.send_response(200 if valid else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
        server.server_close()


def test_given_the_admin_api_when_admin_get_runs_then_the_request_is_signed_for_execute_api(admin_server, capsys):
    url, received = admin_server

    # WHEN `automaps admin GET '/tasks?assignee=...&status=open'` runs against it
    code = main(["admin", "GET", "/tasks?status=open&assignee=sam@example.com", "--url", url])

    # THEN the server received a request whose SigV4 signature (service execute-api, the region,
    # the path with its query) it verified, and the answer is printed
    [request] = received
    assert request["valid"], request["headers"]
    assert request["path"] == "/v1/tasks?status=open&assignee=sam%40example.com"  # (RFC 3986, as SigV4 wants)
    found = AUTHORIZATION.match(request["headers"]["Authorization"])
    assert found is not None
    assert (found["key"], found["region"], found["service"]) == ("testing", "us-east-1", "execute-api")
    assert set(found["signed"].split(";")) >= {"host", "x-amz-date", "x-amz-security-token"}
    assert (code, json.loads(capsys.readouterr().out)) == (0, {"tasks": [{"id": "t_1", "title": "Call Jane"}]})


def test_given_a_body_when_admin_post_runs_then_the_body_is_signed_too(admin_server, capsys, tmp_path):
    url, received = admin_server
    note = tmp_path / "note.json"
    note.write_text('{"note": "called, will buy next week"}')

    code = main(["admin", "POST", "/tasks/t_1/complete", "--data", f"@{note}", "--url", url])

    [request] = received
    assert request["valid"] and code == 0
    assert request["body"] == note.read_bytes()
    # AND the verifier is not vacuous: the same headers over another body do not verify
    assert not sigv4_valid("POST", request["path"], request["headers"], b'{"note": "changed"}')


def test_given_a_refused_request_then_admin_exits_1_with_the_answer(admin_server, capsys, monkeypatch):
    url, _ = admin_server
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "someone-elses")  # signed with another key: 403

    code = main(["admin", "GET", "/tasks?assignee=sam@example.com", "--url", url, "--include"])

    assert (code, capsys.readouterr().out) == (1, 'HTTP 403\n{"message": "Forbidden"}\n')


def test_given_the_rehearsal_stack_then_the_admin_url_is_its_admin_api_url_output(rehearsal):
    from automaps_local.admin import admin_url

    assert admin_url("automaps") == rehearsal.outputs["AdminApiUrl"]
    assert re.fullmatch(r"https://\w+\.execute-api\.us-east-1\.amazonaws\.com/v1", admin_url("automaps"))
