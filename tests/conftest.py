"""Shared fixtures: moto as the AWS account, set up from template.yaml itself."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from automaps.clock import FixedClock
    from automaps.store.contacts import ContactStore
    from automaps_local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
LOCAL_URL = "http://localhost:3000"


@pytest.fixture(scope="session", autouse=True)
def _no_dns_or_udp_outside() -> Iterator[None]:
    """pytest-socket refuses TCP connects outside loopback (pyproject's addopts); this also refuses
    DNS lookups of non-local names and UDP sends outside loopback, in this process (tests/network_guard.py)."""
    from tests import network_guard

    with network_guard.installed():
        yield


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so nothing can ever reach a real account."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "AutomapsTest", "POWERTOOLS_SERVICE_NAME": "automaps",
        "POWERTOOLS_DEV": "false", "SAM_CLI_TELEMETRY": "0",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator["LocalStack"]:
    """GIVEN an AWS account (moto) with the tables, secret and queues template.yaml declares,
    the functions' environment set from the template, and its SQS event sources delivering to
    their handlers in-process when a message is sent (no redelivery: that needs the runtime), its
    DynamoDB stream event sources right after the writing request returns (no retries)."""
    from moto import mock_aws

    from automaps import aws as aws_clients
    from automaps_local import sqs_events, stream_events
    from automaps_local.moto_patches import atomic_dynamodb
    from automaps_local.stack import LocalStack
    from automaps_local.template import Template

    # moto checks a write's condition and then writes, and undoes a cancelled transaction by
    # restoring a copy of the table: requests are serialised, as each is atomic in DynamoDB
    with mock_aws(), atomic_dynamodb():
        aws_clients.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        stack.resolver.refs.setdefault("PublicApi", "local")
        for key, value in stack.export_environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PUBLIC_API_URL", LOCAL_URL)
        aws_clients.client("sesv2").create_email_identity(EmailIdentity=os.environ["EMAIL_FROM"])
        handlers = sqs_events.template_handlers(stack)
        with sqs_events.in_process(stack.sqs_event_sources(), handlers), \
                stream_events.in_process(stack.dynamodb_event_sources(), handlers):
            yield stack
        aws_clients.reset()


@pytest.fixture
def store(aws) -> "ContactStore":
    """GIVEN the contacts store on that account."""
    from automaps.store.contacts import ContactStore

    return ContactStore()


@pytest.fixture
def clock() -> Iterator["FixedClock"]:
    """GIVEN the clock stands at a known instant (advance it with ``clock.advance(days=1)``)."""
    from automaps.clock import FixedClock, using

    with using(FixedClock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC))) as fixed:
        yield fixed


def load_event(name: str) -> dict:
    """A fixture event from events/ (the same files `sam local invoke -e` would use)."""
    return json.loads((EVENTS / name).read_text())


def table_resource(name: str) -> dict:
    """A CloudFormation table of the stack's key shape (pk, sk), for a small stack on moto's
    CloudFormation that the --stack-name commands find their tables in."""
    return {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}}


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "automaps-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:automaps-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/automaps-test"
    log_stream_name: str = "2026/11/22/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
