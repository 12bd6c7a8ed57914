"""Phone calls: SSML built safely from a call script, and outbound calls through Amazon Connect.

Spoken-only calls go through AWS End User Messaging voice (automaps.channels.end_user_messaging
``send_voice``). Calls that connect the contact to another number, or are recorded, go through
Amazon Connect ``StartOutboundVoiceContact`` on a ``connect`` connection (instance, contact flow,
queue): the script travels as contact attributes, which the contact flow plays
(``automaps_ssml``), then transfers (``automaps_transfer_to``) and records
(``automaps_record``) as they say.
"""

from __future__ import annotations

from typing import Any, Literal
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from automaps import aws
from automaps.channels.errors import provider_call
from automaps.errors import PermanentError, TransientError

TYPE = "connect"
TRANSIENT_CODES = frozenset(
    {
        "LimitExceededException",
        "InternalServiceException",
        "ThrottlingException",
        "ServiceUnavailableException",
        "TooManyRequestsException",
    }
)
_PERMANENT_REASONS = {
    "InvalidRequestException": "Amazon Connect refused the request",
    "InvalidParameterException": "Amazon Connect refused a parameter",
    "ResourceNotFoundException": "Amazon Connect does not know the instance, contact flow or queue",
    "DestinationNotAllowedException": "Amazon Connect may not call this destination",
    "OutboundContactNotPermittedException": "Amazon Connect does not permit outbound calls here",
    "AccessDeniedException": "Amazon Connect denied access",
}
ATTRIBUTE_PREFIX = "automaps_"


class ConnectConnection(BaseModel):
    """A ``connect`` connection: where Amazon Connect places calls from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["connect"] = "connect"
    instance_id: str = Field(min_length=1, max_length=100, description="the Amazon Connect instance id")
    contact_flow_id: str = Field(
        min_length=1, max_length=500, description="the contact flow that plays automaps_ssml, transfers and records"
    )
    queue_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="the outbound queue (its caller id is used if 'from' is not set)",
    )


def load(name: str) -> ConnectConnection:
    from automaps.store import connections

    try:
        connection = connections.load(name, TYPE)
    except (LookupError, ValueError) as error:
        raise PermanentError(str(error)) from None
    assert isinstance(connection, ConnectConnection)
    return connection


# ------------------------------------------------------------------ SSML


def ssml(parts: list[tuple[str, Any]]) -> str:
    """``<speak>`` from ``("say", text)`` and ``("pause", seconds)``; text is XML-escaped, so
    contact data (and the author's own words) can never become markup."""
    body = []
    for kind, value in parts:
        if kind == "say":
            body.append(escape(str(value), {'"': "&quot;", "'": "&apos;"}))
        elif kind == "pause":
            body.append(f'<break time="{round(float(value) * 1000)}ms"/>')
    return "<speak>" + " ".join(body) + "</speak>"


# ------------------------------------------------------------------ Amazon Connect


def start_outbound_call(
    connection: ConnectConnection,
    *,
    to: str,
    attributes: dict[str, str],
    client_token: str,
    source: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> str:
    """StartOutboundVoiceContact; returns the Connect contact id. ``client_token`` makes a retry
    of the same visit the same call."""
    request: dict[str, Any] = {
        "DestinationPhoneNumber": to,
        "ContactFlowId": connection.contact_flow_id,
        "InstanceId": connection.instance_id,
        "ClientToken": client_token,
        "Attributes": attributes,
    }
    if connection.queue_id:
        request["QueueId"] = connection.queue_id
    if source:
        request["SourcePhoneNumber"] = source
    if name:
        request["Name"] = name[:512]
    if description:
        request["Description"] = description[:4096]
    with provider_call("Amazon Connect", classify):
        return aws.client("connect").start_outbound_voice_contact(**request)["ContactId"]


def classify(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError(f"Amazon Connect {code or status}")
    return PermanentError(f"{_PERMANENT_REASONS.get(code, 'Amazon Connect refused the call')} ({code or status})")
