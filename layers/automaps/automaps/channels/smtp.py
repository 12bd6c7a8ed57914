"""Email through an SMTP server of the user's own (a "connection" of type ``smtp``).

A connection (``content/connections/<name>.yaml``) names the server, its port and security
(``starttls``: plain connect then STARTTLS, required; ``tls``: TLS from the first byte; ``none``:
no encryption, only for servers on a private network and never with a password), the user name
and the Secrets Manager secret holding the password (a plain string, or JSON with ``password``),
named ``<stack name>/connections/<anything>``: the send_email function may read only those.

``send`` delivers one built message and returns its Message-ID. Errors are classified for the
step runner: a 4xx SMTP reply, a timeout or a refused connection is transient (the state's Retry
runs again); a 5xx reply, a failed login or an untrusted certificate is permanent. A 250 to the
end of DATA is a sent message whatever follows; a connection lost while waiting for that 250 is
an unknown outcome, never resent.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import secrets
from automaps.channels.email import mask_addresses
from automaps.errors import OutcomeUnknown, PermanentError, TransientError

TYPE = "smtp"


class SmtpConnection(BaseModel):
    """The settings of an SMTP connection (validated by ``automaps push`` and on use)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (usually port 587), tls (usually 465) or none"
    )
    username: str | None = Field(default=None, min_length=1)
    secret_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[\w-]*:secretsmanager:",
        description="Secrets Manager secret holding the password",
    )
    from_address: str = Field(alias="from", min_length=3, description="the From of every message")
    timeout_seconds: float = Field(default=15, gt=0, le=60)
    ca_certificate: str | None = Field(default=None, description="PEM of a private CA to trust (optional)")

    @model_validator(mode="after")
    def _consistent(self) -> SmtpConnection:
        if (self.username is None) != (self.secret_arn is None):
            raise ValueError("give both username and secret_arn (the password's secret), or neither")
        if self.security == "none" and self.username:
            raise ValueError(
                "security 'none' would send the password unencrypted; "
                "use starttls or tls, or drop username and secret_arn"
            )
        if "@" not in parseaddr(self.from_address)[1]:
            raise ValueError(
                f"'from' must be an email address such as 'Shop <news@shop.example>'; got {self.from_address!r}"
            )
        return self


def load(name: str) -> SmtpConnection:
    """The named SMTP connection; PermanentError if it is missing or not SMTP."""
    from automaps.store import connections

    try:
        connection = connections.load(name, TYPE)
    except (LookupError, ValueError) as error:
        raise PermanentError(str(error)) from None
    assert isinstance(connection, SmtpConnection)
    return connection


# ------------------------------------------------------------------ the password


def password(connection: SmtpConnection) -> str:
    """The password from Secrets Manager: the secret itself, or its JSON ``password`` member."""
    try:
        return secrets.get(connection.secret_arn or "", "password")
    except secrets.SecretUnavailable as error:
        raise PermanentError(f"the SMTP password cannot be read: {error}") from None


# ------------------------------------------------------------------ sending


def message_id_for(connection: SmtpConnection) -> str:
    domain = parseaddr(connection.from_address)[1].rpartition("@")[2] or None
    return make_msgid(domain=domain)


def send(connection: SmtpConnection, message: EmailMessage) -> str:
    """Deliver ``message`` (From, To and Message-ID already set) and return its Message-ID.

    The server has the message once it answers 250 to the end of DATA: whatever happens after
    (QUIT answered 421, the connection dropped) it is sent. A connection lost while waiting for
    that answer leaves it unknown (:class:`automaps.journeys.steps.OutcomeUnknown`): never sent again."""
    import smtplib
    import ssl

    message_id = str(message["Message-ID"]).strip("<>")
    stage = {"data_sent": False}
    try:
        client = _connect(connection)
        try:
            client.ehlo()
            if connection.security == "starttls":
                if not client.has_extn("starttls"):
                    raise PermanentError(
                        f"SMTP server {connection.host} does not offer STARTTLS; "
                        f"set security to tls or none in the connection"
                    )
                client.starttls(context=_tls_context(connection))
                client.ehlo()
            if connection.username:
                client.login(connection.username, password(connection))
            _transmit(client, message, stage)
        finally:
            _quit(client)
    except smtplib.SMTPRecipientsRefused as refused:
        code, reply = next(iter(refused.recipients.values()), (550, b""))
        raise _classify(connection, code, reply, "refused the recipient") from None
    except smtplib.SMTPAuthenticationError as error:
        raise PermanentError(f"SMTP server {connection.host} refused the login ({error.smtp_code})") from None
    except smtplib.SMTPResponseException as error:
        raise _classify(connection, error.smtp_code, error.smtp_error, "refused the message") from None
    except smtplib.SMTPNotSupportedError as error:
        raise PermanentError(f"SMTP server {connection.host}: {error}") from None
    except ssl.SSLCertVerificationError as error:
        raise PermanentError(
            f"SMTP server {connection.host}: certificate not trusted ({error.verify_message})"
        ) from None
    except (OSError, smtplib.SMTPException) as error:  # refused, reset, timed out, disconnected
        if stage["data_sent"]:
            raise OutcomeUnknown(
                "email",
                f"SMTP server {connection.host} received the whole message but the "
                f"connection was lost before its answer ({type(error).__name__})",
            ) from None
        raise TransientError(
            f"SMTP server {connection.host}:{connection.port} could not be reached: {type(error).__name__}"
        ) from None
    return message_id


def _transmit(client: Any, message: EmailMessage, stage: dict[str, bool]) -> None:
    """MAIL, RCPT and DATA, as ``smtplib.send_message`` does, noting when the final ``.`` is out:
    from then on a lost connection does not prove the message was refused."""
    import io
    import smtplib
    from email.generator import BytesGenerator
    from email.utils import getaddresses

    sender = parseaddr(str(message["From"]))[1]
    recipients = [
        address
        for _, address in getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])])
        if address
    ]
    import copy

    shown = message
    if message["Bcc"] is not None:
        shown = copy.copy(message)
        del shown["Bcc"]
    buffer = io.BytesIO()
    BytesGenerator(buffer).flatten(shown, linesep="\r\n")
    client.ehlo_or_helo_if_needed()
    code, reply = client.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for address in recipients:
        code, reply = client.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = client.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = re.sub(rb"(?m)^\.", b"..", buffer.getvalue())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    client.send(data + b".\r\n")
    stage["data_sent"] = True
    code, reply = client.getreply()
    if code != 250:
        stage["data_sent"] = False  # answered: refused, not delivered
        raise smtplib.SMTPDataError(code, reply)


def _quit(client: Any) -> None:
    """QUIT, ignoring its answer: after a 250 to DATA the message is the server's (a 421 to QUIT,
    or a dropped connection, changes nothing)."""
    import smtplib

    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _connect(connection: SmtpConnection) -> Any:
    import smtplib

    if connection.security == "tls":
        return smtplib.SMTP_SSL(
            connection.host, connection.port, timeout=connection.timeout_seconds, context=_tls_context(connection)
        )
    return smtplib.SMTP(connection.host, connection.port, timeout=connection.timeout_seconds)


def _tls_context(connection: SmtpConnection) -> Any:
    import ssl

    context = ssl.create_default_context()
    if connection.ca_certificate:
        context.load_verify_locations(cadata=connection.ca_certificate)
    return context


def _classify(connection: SmtpConnection, code: int, reply: bytes | str, what: str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP server {connection.host} {what} ({code} {mask_addresses(text)})".replace(" )", ")")
    return TransientError(reason) if 400 <= code < 500 else PermanentError(reason)
