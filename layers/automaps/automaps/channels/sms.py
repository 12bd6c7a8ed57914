"""SMS through Amazon SNS ``Publish(PhoneNumber=...)``, to numbers normalised to E.164."""

from __future__ import annotations

import phonenumbers
from botocore.exceptions import ClientError

from automaps import aws
from automaps.channels.errors import provider_call
from automaps.errors import PermanentError, TransientError
from automaps.store.contacts import mask_phone

SMS_TYPE = "Promotional"  # marketing automation: cheapest route, opt-outs honoured by SNS
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottling",
    }
)


def to_e164(number: str, region: str | None = None) -> str:
    """``number`` in E.164 (``+14155550123``); ``region`` (ISO 3166 alpha-2) places national
    numbers. Raises PermanentError when it is not a valid phone number."""
    try:
        parsed = phonenumbers.parse(number, (region or "").upper() or None)
    except phonenumbers.NumberParseException as error:
        hint = "" if region else " (no country code, and the contact has no country)"
        raise PermanentError(f"not a valid phone number: {mask_phone(number)}{hint}: {_reason(error)}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise PermanentError(f"not a valid phone number: {mask_phone(number)}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _reason(error: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(error.error_type, "cannot be read")


def _attributes(sender_id: str | None) -> dict[str, dict[str, str]]:
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": SMS_TYPE}}
    if sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}
    return attributes


def send(*, to: str, text: str, sender_id: str | None = None, region: str | None = None) -> str:
    """Send ``text`` to ``to``; returns the SNS message id."""
    number = to_e164(to, region)
    with provider_call("SNS", classify):
        response = aws.client("sns").publish(PhoneNumber=number, Message=text, MessageAttributes=_attributes(sender_id))
    return response["MessageId"]


def classify(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError(f"SNS {code or status}")
    # SNS messages can quote the number: keep only the code
    return PermanentError(f"SNS refused the SMS ({code or status})")
