"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the specifications of SMTP sending.

``SmtpServer`` runs plain, STARTTLS or implicit TLS with a self-signed certificate for
127.0.0.1/localhost made here with ``cryptography``; it can demand a login and answer DATA or
RCPT with a chosen reply (``451 ...``, ``550 ...``) the way a real server refuses mail.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "mailer"
PASSWORD = "correct horse battery staple"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    secure: bool
    login: str | None

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None     # e.g. "451 4.3.0 try later" instead of accepting
    rcpt_reply: str | None = None     # e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_reply:
            return self.data_reply
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        self.received.append(Received(
            sender=envelope.mail_from, recipients=list(envelope.rcpt_tos),
            message=message_from_bytes(envelope.original_content, policy=policy.default),
            secure=server.transport.get_extra_info("ssl_object") is not None, login=login))
        return "250 2.0.0 queued"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USERNAME \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=good, handled=False, auth_data=USERNAME if good else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path, str]:
    """A certificate for 127.0.0.1 and localhost: (cert file, key file, cert PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, pem.decode()


class SmtpServer:
    """``with SmtpServer(tmp_path, security="starttls", login=True) as server: ...``"""

    def __init__(self, folder: Path, *, security: str = "none", login: bool = False,
                 offer_starttls: bool = True) -> None:
        self.security, self.login = security, login
        self.handler = Handler()
        self.port = free_port()
        self.ca_pem: str | None = None
        kwargs: dict = {}
        if security in ("starttls", "tls"):
            cert_file, key_file, self.ca_pem = self_signed(folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file, key_file)
            if security == "tls":
                kwargs["ssl_context"] = context
            elif offer_starttls:
                kwargs.update(tls_context=context, require_starttls=True)
        if login:
            kwargs.update(authenticator=_authenticate, auth_require_tls=security == "starttls")
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def connection(self, **changes) -> dict:
        """The body of content/connections/<name>.yaml for this server."""
        body = {"type": "smtp", "host": "127.0.0.1", "port": self.port, "security": self.security,
                "from": "Example Shop <news@shop.example>", "timeout_seconds": 5}
        if self.ca_pem:
            body["ca_certificate"] = self.ca_pem
        return {**body, **changes}

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
