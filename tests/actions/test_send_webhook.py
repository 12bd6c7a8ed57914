"""send_webhook: the contact's data sent to an outside URL (rendered, signed, once per visit),
chosen answer fields saved on the contact; and no way to reach our own network with it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket

import pytest
from automaps import aws as aws_clients
from automaps.actions.send_webhook import Settings
from automaps.store.content import ContentStore
from automaps.providers import safe_http
from automaps.journeys.steps import TransientError
from pydantic import ValidationError

from functions.send_webhook import app
from tests.actions.conftest import event_for, kinds
from tests.actions.endpoint import Answer, serving


@pytest.fixture
def endpoint():
    """GIVEN a webhook receiver listening on 127.0.0.1."""
    with serving() as server:
        yield server


@pytest.fixture
def allow_loopback(aws, monkeypatch):
    """GIVEN the deployment allows webhooks to 127.0.0.1 (only there: the test's server)."""
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")


@pytest.fixture
def no_allow_list(aws, monkeypatch):
    """GIVEN the default deployment: no network allowed beyond public addresses."""
    monkeypatch.delenv("WEBHOOK_ALLOWED_NETWORKS", raising=False)


def settings(url: str, **changes) -> dict:
    return {"url": url, "json": {"email": "{{ contact.email }}", "name": "{{ contact.first_name }}",
                                 "age": 52, "tags": ["lead", "{{ contact.cold_reason }}"]}, **changes}


def call(contact, lambda_context, **step_settings) -> dict:
    return app.lambda_handler(event_for("send_webhook", contact, settings=step_settings), lambda_context)


# ------------------------------------------------------------------ delivering


def test_given_a_json_template_when_the_webhook_runs_then_the_rendered_body_is_posted_and_the_answer_saved(
        allow_loopback, contact, store, endpoint, lambda_context):
    endpoint.answer(Answer(201, {"lead": {"id": "L-42", "score": 7}}))

    result = call(contact, lambda_context, **settings(f"{endpoint.url}/hooks/leads?src=am",
                                                      headers={"X-Source": "{{ contact.first_name }}"},
                                                      save={"crm_id": "lead.id", "crm_score": "lead.score"}))

    assert result["outcome"] == "done"
    [request] = endpoint.received
    assert (request.method, request.path) == ("POST", "/hooks/leads?src=am")
    assert request.json() == {"email": "jane@example.com", "name": "Jane", "age": 52, "tags": ["lead", "bounced"]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-source"] == "Jane"
    assert request.headers["host"] == f"127.0.0.1:{endpoint.port}"
    assert len(request.headers["x-automaps-delivery"]) == 32
    assert "x-automaps-signature" not in request.headers
    fields = store.require(contact.id).fields
    assert (fields["crm_id"], fields["crm_score"]) == ("L-42", 7)
    [sent] = store.history(contact.id, ["webhook.sent"])
    assert sent.detail == {"method": "POST", "host": "127.0.0.1", "path": "/hooks/leads", "status": 201,
                           "signed": False, "saved": ["crm_id", "crm_score"]}


def test_given_a_form_body_when_the_webhook_runs_then_it_is_urlencoded(allow_loopback, contact, endpoint,
                                                                       lambda_context):
    call(contact, lambda_context, url=f"{endpoint.url}/form", method="PUT",
         form={"email": "{{ contact.email }}", "note": "a&b=c"})

    [request] = endpoint.received
    assert request.method == "PUT"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"email": "jane@example.com", "note": "a&b=c"}


def test_given_a_secret_arn_when_the_webhook_runs_then_the_body_is_signed_with_hmac_sha256(
        allow_loopback, contact, endpoint, lambda_context, clock):
    arn = aws_clients.client("secretsmanager").create_secret(Name="automaps/crm-hook",
                                                             SecretString="whsec_test")["ARN"]

    call(contact, lambda_context, **settings(f"{endpoint.url}/signed", secret_arn=arn))

    [request] = endpoint.received
    stamp = int(clock.now().timestamp())
    expected = hmac.new(b"whsec_test", f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-automaps-signature"] == f"t={stamp},v1={expected}"


def test_given_a_webhook_connection_when_a_step_names_it_then_its_headers_and_json_secret_key_are_used(
        allow_loopback, contact, store, endpoint, lambda_context):
    arn = aws_clients.client("secretsmanager").create_secret(
        Name="automaps/zap", SecretString=json.dumps({"signing_key": "k3y"}))["ARN"]
    ContentStore().put("CONNECTION", "zap", {"type": "webhook", "secret_arn": arn, "secret_key": "signing_key",
                                             "signature_header": "X-Zap-Signature",
                                             "headers": {"Authorization": "Bearer abc"}})

    call(contact, lambda_context, url=f"{endpoint.url}/zap", connection="zap", json={"id": "{{ contact.id }}"})

    [request] = endpoint.received
    stamp, digest = [part.split("=", 1)[1] for part in request.headers["x-zap-signature"].split(",")]
    assert digest == hmac.new(b"k3y", f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["authorization"] == "Bearer abc"
    assert store.history(contact.id, ["webhook.sent"])[0].detail["signed"] is True


def test_given_the_same_task_event_twice_when_run_then_the_webhook_is_called_once(allow_loopback, contact,
                                                                                  endpoint, lambda_context):
    event = event_for("send_webhook", contact, settings=settings(f"{endpoint.url}/once"))

    first = app.lambda_handler(event, lambda_context)
    second = app.lambda_handler(event, lambda_context)

    assert first == second
    assert len(endpoint.received) == 1


def test_given_an_answer_without_a_saved_field_when_run_then_the_others_are_saved_and_the_gap_recorded(
        allow_loopback, contact, store, endpoint, lambda_context):
    endpoint.answer(Answer(200, {"id": "x1"}))

    call(contact, lambda_context, url=f"{endpoint.url}/x", save={"crm_id": "id", "crm_stage": "stage"})

    assert store.require(contact.id).fields["crm_id"] == "x1"
    assert "crm_stage" not in store.require(contact.id).fields
    assert store.history(contact.id, ["webhook.sent"])[0].detail["not_in_answer"] == ["crm_stage"]


def test_given_an_answer_that_is_not_json_when_fields_should_be_saved_then_the_call_is_recorded_and_the_step_fails(
        allow_loopback, contact, store, endpoint, lambda_context):
    endpoint.answer(Answer(200, "<html>ok</html>"))

    result = call(contact, lambda_context, url=f"{endpoint.url}/x", save={"crm_id": "id"})

    assert result["outcome"] == "failed" and "not JSON" in result["reason"]
    assert kinds(store, contact).count("webhook.sent") == 1


# ------------------------------------------------------------------ skipping and failing


def test_given_a_missing_merge_field_in_the_url_when_run_then_the_step_is_skipped_and_nothing_sent(
        allow_loopback, contact, endpoint, lambda_context):
    result = call(contact, lambda_context, url=f"{endpoint.url}/leads/{{{{ contact.crm_id }}}}")

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.crm_id")
    assert endpoint.received == []


def test_given_the_receiver_answers_4xx_when_run_then_the_failure_is_recorded_without_retry(
        allow_loopback, contact, store, endpoint, lambda_context):
    endpoint.answer(Answer(422, {"error": "email already exists"}))

    result = call(contact, lambda_context, **settings(f"{endpoint.url}/x"))

    assert result["outcome"] == "failed"
    assert result["reason"] == 'the webhook answered 422: {"error": "email already exists"}'
    assert len(endpoint.received) == 1
    assert "webhook.sent" not in kinds(store, contact) and "step.failed" in kinds(store, contact)


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_given_the_receiver_answers_5xx_or_429_when_run_then_the_state_retries(
        allow_loopback, contact, store, endpoint, lambda_context, status):
    endpoint.answer(Answer(status, "busy"))
    event = event_for("send_webhook", contact, settings=settings(f"{endpoint.url}/x"))

    with pytest.raises(TransientError, match=f"answered {status}"):
        app.lambda_handler(event, lambda_context)

    endpoint.answer(Answer(200, {}))
    assert app.lambda_handler(event, lambda_context)["outcome"] == "done"   # the retry runs again
    assert len(endpoint.received) == 2


def test_given_a_receiver_slower_than_the_timeout_when_run_then_the_outcome_is_unknown_and_it_is_not_called_again(
        allow_loopback, contact, endpoint, lambda_context):
    endpoint.answer(Answer(200, {}, delay=1.5))
    event_settings = settings(f"{endpoint.url}/slow", timeout_seconds=0.3)

    first = call(contact, lambda_context, **event_settings)

    # THEN the POST reached the receiver, its answer did not come in time: not sent again
    assert first["outcome"] == "unknown"
    assert "may have accepted the POST but its answer was lost (ReadTimeoutError)" in first["reason"]


def test_given_nothing_listens_when_run_then_the_state_retries(allow_loopback, contact, lambda_context):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # closed again at once: a port nobody listens on

    with pytest.raises(TransientError):
        call(contact, lambda_context, url=f"http://127.0.0.1:{port}/")


# ------------------------------------------------------------------ refusing our own network


@pytest.mark.parametrize("host", [
    "127.0.0.1",            # loopback
    "localhost",            # a name resolving to loopback
    "2130706433",           # 127.0.0.1 written as one decimal number
    "0x7f.1",               # ... and in hex shorthand
    "[::ffff:127.0.0.1]",   # IPv4-mapped IPv6
    "[::1]",
])
def test_given_no_allow_list_when_the_url_points_at_this_machine_then_nothing_is_sent(
        no_allow_list, contact, store, endpoint, lambda_context, host):
    result = call(contact, lambda_context, **settings(f"http://{host}:{endpoint.port}/x"))

    assert result["outcome"] == "failed"
    assert result["reason"].startswith("webhook not sent: refused:")
    assert endpoint.received == []
    assert "webhook.sent" not in kinds(store, contact)


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://10.0.0.12/admin", "not a public address"),
    ("http://192.168.1.1/", "not a public address"),
    ("http://100.64.0.7/", "not a public address"),
    ("http://169.254.10.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.251/", "multicast"),
    ("http://0.0.0.0:8080/", "not a public address"),
])
def test_given_no_allow_list_when_the_url_points_at_a_private_or_metadata_address_then_it_is_refused(
        no_allow_list, contact, lambda_context, url, why):
    # refused before any connection: pytest-socket would fail a connection outside 127.0.0.1
    result = call(contact, lambda_context, **settings(url))

    assert result["outcome"] == "failed" and why in result["reason"]


def test_given_an_allow_list_covering_metadata_when_the_url_is_the_metadata_service_then_it_is_still_refused(
        monkeypatch, contact, lambda_context):
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "169.254.0.0/16, 127.0.0.1/32")

    result = call(contact, lambda_context, url="http://169.254.169.254/latest/api/token", method="PUT")

    assert result["outcome"] == "failed" and "cloud metadata" in result["reason"]


def test_given_a_name_resolving_to_a_public_and_a_private_address_then_it_is_refused(monkeypatch, no_allow_list):
    # a DNS answer is stood in for: the suite has no DNS
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
               (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)

    with pytest.raises(safe_http.BlockedAddress, match="10.1.2.3"):
        safe_http.resolve("hooks.example.com", 443)


def test_given_a_redirect_to_a_private_address_when_followed_then_the_second_hop_is_refused(
        allow_loopback, contact, endpoint, lambda_context):
    endpoint.answer(Answer(307, "", {"Location": f"http://127.0.0.2:{endpoint.port}/internal"}))

    result = call(contact, lambda_context, **settings(f"{endpoint.url}/start"))

    assert result["outcome"] == "failed" and "127.0.0.2 is a loopback address" in result["reason"]
    assert [request.route for request in endpoint.received] == ["/start"]


def test_given_a_redirect_to_the_metadata_service_when_followed_then_it_is_refused(
        allow_loopback, contact, endpoint, lambda_context):
    endpoint.answer(Answer(302, "", {"Location": "http://169.254.169.254/latest/meta-data/"}))

    result = call(contact, lambda_context, **settings(f"{endpoint.url}/start"))

    assert result["outcome"] == "failed" and "cloud metadata" in result["reason"]


def test_given_allowed_redirects_when_followed_then_303_turns_into_a_get_and_the_answer_is_from_the_last_hop(
        allow_loopback, contact, store, endpoint, lambda_context):
    def answer(request):
        if request.route == "/start":
            return Answer(303, "", {"Location": "/middle"})
        if request.route == "/middle":
            return Answer(308, "", {"Location": f"{endpoint.url}/final"})
        return Answer(200, {"id": "final"})
    endpoint.answer(answer)

    result = call(contact, lambda_context, **settings(f"{endpoint.url}/start", save={"crm_id": "id"}))

    assert result["outcome"] == "done"
    assert [(r.method, r.route) for r in endpoint.received] == [("POST", "/start"), ("GET", "/middle"),
                                                               ("GET", "/final")]
    assert store.require(contact.id).fields["crm_id"] == "final"


def test_given_a_redirect_loop_when_followed_then_it_stops_after_three_and_fails(
        allow_loopback, contact, endpoint, lambda_context):
    endpoint.answer(Answer(302, "", {"Location": "/again"}))

    result = call(contact, lambda_context, url=f"{endpoint.url}/again", method="GET")

    assert result["outcome"] == "failed" and "more than 3 redirects" in result["reason"]
    assert len(endpoint.received) == 4


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize("bad, message", [
    ({"url": "ftp://example.com/x"}, "must start with http:// or https://"),
    ({"url": "https://e.example", "json": {}, "form": {}}, "either json or form"),
    ({"url": "https://e.example", "method": "GET", "json": {"a": 1}}, "GET request has no body"),
    ({"url": "https://e.example", "timeout_seconds": 31}, "less than or equal to 30"),
    ({"url": "https://e.example", "save": {"crm_id": "lead.[id"}}, "not a JMESPath expression"),
    ({"url": "https://e.example", "save": {"email": "email"}}, "may not change the contact's email"),
    ({"url": "https://e.example", "headers": {"Host": "evil"}}, "is set by automaps"),
    ({"url": "https://e.example", "headers": {"Bad Header": "x"}}, "not a valid header name"),
    ({"url": "https://e.example", "method": "TRACE"}, "Input should be"),
    ({"url": "https://e.example", "connection": "c", "secret_arn": "arn:x"}, "not both"),
])
def test_given_bad_settings_when_validated_then_they_are_rejected_with_what_to_change(bad, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(bad)


def test_given_a_url_with_credentials_when_run_then_it_is_refused(allow_loopback, contact, endpoint,
                                                                 lambda_context):
    result = call(contact, lambda_context, url=f"http://user:pw@127.0.0.1:{endpoint.port}/")

    assert result["outcome"] == "failed" and "credentials" in result["reason"]
    assert endpoint.received == []
