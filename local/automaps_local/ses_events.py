"""What SES would publish about a message in the local outbox, as its EventBridge destination does.

moto's SES sends nothing anywhere. ``LocalRuntime.ses_event`` plays SES's part: it builds the
event publishing record (``eventType``, ``mail`` with the message's tags, and the event's own
object: ``delivery``, ``open``, ``click``, ``bounce``, ``complaint``) of a message it sent and
puts it on the default event bus with ``source`` aws.ses and SES's ``detail-type``, so the
template's EventBridge rules, the functions and the history really run. The shapes follow SES's
documented event records; addresses, IPs and user agents are placeholders.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
}
"""SES event type -> EventBridge ``detail-type``; the destination's ``MatchingEventTypes`` name
each type in lower case (``open``, ``bounce``)."""

_AGENT = "Mozilla/5.0 (automaps local runtime)"
_MTA = "a8-70.smtp-out.amazonses.com"


def record(
    event_type: str,
    message: dict[str, Any],
    *,
    tags: dict[str, str],
    configuration_set: str,
    account: str,
    region: str,
    sent_at: datetime | None,
    at: datetime,
    link: str | None = None,
    bounce_type: str = "Permanent",
    feedback_type: str = "abuse",
) -> dict[str, Any]:
    """The SES event publishing record of ``event_type`` for ``message`` (an outbox email)."""
    if event_type not in DETAIL_TYPES:
        raise ValueError(f"unknown SES event type {event_type!r}; one of {', '.join(DETAIL_TYPES)}")
    recipients = [parseaddr(address)[1] or address for address in message.get("to") or []]
    sender = parseaddr(message.get("from") or "")[1]
    return {
        "eventType": event_type,
        "mail": _mail(message, recipients, sender, tags, configuration_set, account, region, sent_at or at),
        **_section(event_type, recipients, at, link, bounce_type, feedback_type),
    }


def _mail(
    message: dict[str, Any],
    recipients: list[str],
    sender: str,
    tags: dict[str, str],
    configuration_set: str,
    account: str,
    region: str,
    sent_at: datetime,
) -> dict[str, Any]:
    headers = message.get("headers") or {}
    return {
        "timestamp": _ms(sent_at),
        "source": message.get("from") or sender,
        "sourceArn": f"arn:aws:ses:{region}:{account}:identity/{sender}",
        "sendingAccountId": account,
        "messageId": message["id"],
        "destination": recipients,
        "headersTruncated": False,
        "headers": [{"name": name, "value": value} for name, value in headers.items()],
        "commonHeaders": {
            "from": [message.get("from") or sender],
            "to": recipients,
            "messageId": message["id"],
            "subject": message.get("subject") or "",
        },
        "tags": {
            "ses:configuration-set": [configuration_set],
            "ses:source-ip": ["127.0.0.1"],
            "ses:from-domain": [sender.rpartition("@")[2]],
            "ses:caller-identity": ["automaps-local"],
            "ses:outgoing-ip": ["127.0.0.1"],
            **{name: [value] for name, value in tags.items()},
        },
    }


def _section(
    event_type: str, recipients: list[str], at: datetime, link: str | None, bounce_type: str, feedback_type: str
) -> dict[str, Any]:
    when = _ms(at)
    if event_type == "Send":
        return {"send": {}}
    if event_type == "Delivery":
        return {
            "delivery": {
                "timestamp": when,
                "processingTimeMillis": 512,
                "recipients": recipients,
                "smtpResponse": "250 2.6.0 Message received",
                "remoteMtaIp": "127.0.0.1",
                "reportingMTA": _MTA,
            }
        }
    if event_type == "Open":
        return {"open": {"ipAddress": "192.0.2.1", "timestamp": when, "userAgent": _AGENT}}
    if event_type == "Click":
        if not link:
            raise ValueError("a Click event needs the link that was clicked")
        return {
            "click": {"ipAddress": "192.0.2.1", "link": link, "linkTags": {}, "timestamp": when, "userAgent": _AGENT}
        }
    feedback_id = f"{uuid.uuid4().hex}-000000"
    if event_type == "Bounce":
        if bounce_type not in ("Permanent", "Transient", "Undetermined"):
            raise ValueError(f"bounce_type must be Permanent, Transient or Undetermined, not {bounce_type!r}")
        permanent = bounce_type == "Permanent"
        return {
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General" if permanent else "MailboxFull",
                "bouncedRecipients": [
                    {
                        "emailAddress": address,
                        "action": "failed",
                        "status": "5.1.1" if permanent else "4.2.2",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                        if permanent
                        else "smtp; 452 4.2.2 mailbox full",
                    }
                    for address in recipients
                ],
                "timestamp": when,
                "feedbackId": feedback_id,
                "reportingMTA": f"dsn; {_MTA}",
            }
        }
    return {
        "complaint": {
            "complainedRecipients": [{"emailAddress": address} for address in recipients],
            "timestamp": when,
            "feedbackId": feedback_id,
            "userAgent": _AGENT,
            "complaintFeedbackType": feedback_type,
            "arrivalDate": when,
        }
    }


def _ms(at: datetime) -> str:
    """SES's timestamps: UTC, milliseconds, Z."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
