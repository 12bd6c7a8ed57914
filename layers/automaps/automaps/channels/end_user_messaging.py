"""AWS End User Messaging (the ``pinpoint-sms-voice-v2`` API): SMS and voice messages sent from
an origination identity of the account (a phone number, sender ID, pool, or its ARN).

``send_text`` (SendTextMessage) and ``send_voice`` (SendVoiceMessage, SSML or text) return the
message id. Errors are classified for the step runner: throttling and internal errors are
transient; validation, access, missing identities, opted-out numbers (Conflict) and spending
quotas are permanent (a retry minutes later would not change them).
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError

from automaps import aws
from automaps.channels.errors import provider_call
from automaps.errors import PermanentError, TransientError

SERVICE = "pinpoint-sms-voice-v2"
TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceUnavailable", "Throttling", "InternalFailure"}
)
_PERMANENT_REASONS = {
    "ValidationException": "End User Messaging refused the request",
    "AccessDeniedException": "End User Messaging denied access",
    "ResourceNotFoundException": "End User Messaging does not know the origination identity or configuration set",
    "ConflictException": "End User Messaging refused the message (opted out or a conflicting resource)",
    "ServiceQuotaExceededException": "End User Messaging spending or message quota exceeded",
}


def send_text(
    *,
    to: str,
    text: str,
    origination_identity: str,
    message_type: Literal["TRANSACTIONAL", "PROMOTIONAL"] = "PROMOTIONAL",
    configuration_set: str | None = None,
) -> str:
    """SendTextMessage to ``to`` (E.164); returns the message id."""
    request: dict[str, Any] = {
        "DestinationPhoneNumber": to,
        "OriginationIdentity": origination_identity,
        "MessageBody": text,
        "MessageType": message_type,
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    with provider_call("End User Messaging SMS", classify):
        return aws.client(SERVICE).send_text_message(**request)["MessageId"]


def send_voice(
    *, to: str, ssml: str, origination_identity: str, voice_id: str, configuration_set: str | None = None
) -> str:
    """SendVoiceMessage speaking ``ssml`` to ``to`` (E.164); returns the message id."""
    request: dict[str, Any] = {
        "DestinationPhoneNumber": to,
        "OriginationIdentity": origination_identity,
        "MessageBody": ssml,
        "MessageBodyTextType": "SSML",
        "VoiceId": voice_id,
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    with provider_call("End User Messaging voice", classify):
        return aws.client(SERVICE).send_voice_message(**request)["MessageId"]


def classify(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    reason = str(error.response.get("Reason") or "")  # e.g. DESTINATION_PHONE_NUMBER_OPTED_OUT
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError(f"End User Messaging {code or status}")
    # messages can quote the number: keep the code and the machine-readable reason only
    base = _PERMANENT_REASONS.get(code, "End User Messaging refused the request")
    return PermanentError(f"{base} ({code or status}{', ' + reason if reason else ''})")
