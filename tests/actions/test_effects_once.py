"""Once an action has taken effect, nothing after it may make the step run again."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from automaps import aws as aws_clients
from automaps.journeys.steps import TransientError
from functions.send_email import app
from tests.actions.sending import a_contact, history, shipped_template, task_event
from tests.outbox import sent_emails


@pytest.fixture
def history_writes_throttled(aws, clock):
    """GIVEN DynamoDB throttles every history write (the email itself goes out fine)."""
    shipped_template("welcome")
    jane = a_contact(first_name="Jane")

    def throttle(params, **_):
        if params.get("Item", {}).get("sk", {}).get("S", "").startswith("H#"):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

    events = aws_clients.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.PutItem", throttle, unique_id="throttle-history")
    yield jane
    events.unregister("before-parameter-build.dynamodb.PutItem", unique_id="throttle-history")


def test_given_history_writes_fail_after_the_send_when_the_step_is_retried_then_one_email_went_out(
        history_writes_throttled, lambda_context, aws):
    event = task_event("send_email.json", history_writes_throttled)

    # WHEN the first attempt sends, then cannot record email.sent: the state's Retry is asked for
    with pytest.raises(TransientError):
        app.lambda_handler(event, lambda_context)
    aws_clients.client("dynamodb").meta.events.unregister("before-parameter-build.dynamodb.PutItem",
                                                          unique_id="throttle-history")
    retried = app.lambda_handler(event, lambda_context)

    # THEN the retry found the email done (not resent) and repaired the history
    assert retried["outcome"] == "done"
    assert len(sent_emails()) == 1
    [sent] = history(history_writes_throttled, "email.sent")
    assert sent.detail["message_id"] == sent_emails()[0].id
    assert len(history(history_writes_throttled, "step.done")) == 1
