"""Sending the one-time codes that verify a person's identity.

The sender is pluggable: :class:`SMTPMailer` talks to a real mail server
through :mod:`smtplib` (STARTTLS by default), :class:`FileOutbox` writes each
message as an ``.eml`` file for development and tests, so that nobody needs a
mail server to try the rights portal. Messages are built with
:mod:`email.message`, which refuses header injection (a newline in an address
or subject).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from trackpref.signals.errors import SignalError

from .._untrusted import whole_number

__all__ = [
    "FileOutbox",
    "MailError",
    "Mailer",
    "Message",
    "SMTPMailer",
    "build_message",
    "check_address",
]

_MAX_ADDRESS = 254


class MailError(SignalError):
    """A message could not be built or sent; ``field`` names what was wrong."""


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


def check_address(address: str, field: str) -> str:
    """A single plain ``local@domain`` address, or :class:`MailError` naming ``field``."""
    if not isinstance(address, str) or not 3 <= len(address) <= _MAX_ADDRESS:
        raise MailError(f"{field}: not an e-mail address", field=field)
    if any(c in address for c in "\r\n\x00<>,;\"'\\ ") or address.count("@") != 1:
        raise MailError(f"{field}: not a single plain e-mail address", field=field)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise MailError(f"{field}: not an e-mail address", field=field)
    return address


def build_message(message: Message, *, sender: str) -> EmailMessage:
    """The RFC 5322 message; refuses anything that could inject headers."""
    check_address(message.to, "to")
    check_address(sender, "sender")
    if any(c in message.subject for c in "\r\n") or len(message.subject) > 200:
        raise MailError("subject: one line of at most 200 characters", field="subject")
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(message.body)
    return msg


class SMTPMailer:
    """Sends through an SMTP server: STARTTLS on 587 by default, or implicit TLS."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        security: str = "starttls",  # "starttls" | "tls" | "none" (loopback only)
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise MailError(
                f"security: {security!r} is not starttls, tls or none", field="security"
            )
        if security == "none" and host not in ("localhost", "127.0.0.1", "::1"):
            raise MailError(
                "security: 'none' sends codes in clear; allowed only to a loopback relay",
                field="security",
            )
        check_address(sender, "sender")
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.security = security
        self.timeout = timeout
        self.context = context or ssl.create_default_context()

    def send(self, message: Message) -> None:
        msg = build_message(message, sender=self.sender)
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=self.context)
                if self.username is not None:
                    client.login(self.username, self.password or "")
                client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(
                f"could not send to {message.to} through {self.host}:{self.port}: {exc}",
                field="smtp",
            ) from None


class FileOutbox:
    """Writes each message to ``directory`` as an ``.eml`` file (development)."""

    def __init__(
        self, directory: str | Path, *, sender: str = "privacy@localhost.localdomain"
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        check_address(sender, "sender")
        self.sender = sender

    def send(self, message: Message) -> None:
        msg = build_message(message, sender=self.sender)
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes())
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def prune(self, before: float) -> int:
        """Remove the messages written before ``before`` (a Unix time); how many went.

        Each file holds an address and a one-time code. Once the code has
        expired they serve nobody, and a development outbox left running would
        otherwise keep every address it ever saw.
        """
        cutoff = int(before * 1e9)
        removed = 0
        for path in self.directory.glob("*.eml"):
            written = whole_number(path.name.partition("-")[0], max_digits=24)
            if written is not None and written < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def messages(self) -> list[EmailMessage]:
        """Every message written, oldest first (for development tools and tests)."""
        from email import message_from_bytes
        from email.policy import default

        out: list[EmailMessage] = []
        for path in sorted(self.directory.glob("*.eml")):
            parsed = message_from_bytes(path.read_bytes(), policy=default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out
