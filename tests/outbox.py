"""What moto's SES and SNS recorded as sent: the test-side view of the outbox.

moto keeps every message in memory, per account and region:

* email (SES v1 and v2 share one backend): ``moto.ses.models.ses_backends[account][region]
  .sent_messages``, a list; our raw sends are ``RawMessage`` objects with ``.id``, ``.source``,
  ``.destinations`` (list of addresses) and ``.raw_data`` (the MIME text);
* SMS: ``moto.sns.models.sns_backends[account][region].sms_messages``, a dict
  ``{message_id: (phone_number, text)}`` in sending order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class SentEmail:
    id: str
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: str

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """The plain-text part, decoded, with the line endings a mail client shows (``\\n``)."""
        return self.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)


@dataclass(frozen=True)
class SentSms:
    id: str
    phone_number: str
    text: str


def _where() -> tuple[str, str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID, os.environ.get("AWS_REGION", "us-east-1")


def sent_emails() -> list[SentEmail]:
    from moto.ses.models import ses_backends

    account, region = _where()
    return [SentEmail(id=m.id, sender=m.source, recipients=list(m.destinations),
                      message=message_from_string(m.raw_data, policy=policy.default), raw=m.raw_data)
            for m in ses_backends[account][region].sent_messages]


def sent_sms() -> list[SentSms]:
    from moto.sns.models import sns_backends

    account, region = _where()
    return [SentSms(id=message_id, phone_number=number, text=text)
            for message_id, (number, text) in sns_backends[account][region].sms_messages.items()]
