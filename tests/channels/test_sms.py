"""The SNS SMS channel: numbers normalised to E.164, bad numbers refused, SNS errors classified."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from automaps import aws as aws_clients
from automaps.channels import sms
from automaps.journeys.steps import PermanentError, TransientError
from tests.outbox import sent_sms


@pytest.mark.parametrize("number, region, e164", [
    ("+1 (415) 555-0123", None, "+14155550123"),
    ("415.555.0123", "US", "+14155550123"),
    ("020 7946 0958", "gb", "+442079460958"),
    ("+33 6 12 34 56 78", "US", "+33612345678"),
])
def test_given_a_number_in_any_usual_format_when_normalised_then_it_is_e164(number, region, e164):
    assert sms.to_e164(number, region) == e164


@pytest.mark.parametrize("number, region", [
    ("415 555 0123", None),      # national, and no country to place it
    ("+1 555", None),            # too short
    ("call me maybe", "US"),
    ("+1 415 555 01234567", None),
])
def test_given_something_that_is_not_a_phone_number_when_normalised_then_it_fails_permanently(number, region):
    with pytest.raises(PermanentError, match="not a valid phone number"):
        sms.to_e164(number, region)


def test_given_a_text_when_sent_then_sns_records_it_for_the_e164_number(aws):
    message_id = sms.send(to="(415) 555-0123", text="Thanks Jane! Code WELCOME", region="US")

    assert sent_sms() == [sent_sms()[0]]
    [sent] = sent_sms()
    assert (sent.id, sent.phone_number, sent.text) == (message_id, "+14155550123", "Thanks Jane! Code WELCOME")


def test_given_an_invalid_number_when_sent_then_nothing_is_sent_and_the_number_is_not_in_the_error(aws):
    with pytest.raises(PermanentError) as failure:
        sms.send(to="+1 555 01", text="hi")

    assert "55501" not in str(failure.value)
    assert sent_sms() == []


def test_given_a_sender_id_when_sent_then_it_and_the_promotional_type_are_requested(aws):
    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_response("publish", {"MessageId": "m-1"}, {
            "PhoneNumber": "+14155550123", "Message": "hi",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"},
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "EXAMPLE"}}})
        assert sms.send(to="+14155550123", text="hi", sender_id="EXAMPLE") == "m-1"


@pytest.mark.parametrize("code, status", [("Throttling", 400), ("InternalError", 500), ("KMSThrottling", 400)])
def test_given_sns_throttles_or_fails_when_sending_then_the_error_is_transient(aws, code, status):
    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_client_error("publish", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientError):
            sms.send(to="+14155550123", text="hi")


def test_given_sns_refuses_the_message_when_sending_then_the_error_is_permanent(aws):
    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_client_error("publish", service_error_code="InvalidParameter", http_status_code=400,
                             service_message="Invalid parameter: PhoneNumber +14155550123")
        with pytest.raises(PermanentError) as failure:
            sms.send(to="+14155550123", text="hi")

    assert "InvalidParameter" in str(failure.value) and "0123" not in str(failure.value)
