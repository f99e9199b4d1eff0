"""Building test messages with the standard ``email`` package."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP, default

from trackpref.mail import MessageReport, RawMessage, scan_messages


def newsletter(
    html: str,
    *,
    text: str | None = None,
    sender: str = "Shop <news@shop.example>",
    to: str = "alice@example.org",
    subject: str = "Spring sale",
    date: str = "Wed, 01 May 2024 09:00:00 +0000",
    crlf: bool = False,
    cte: str = "quoted-printable",
    message_id: str = "<m1@shop.example>",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id
    if text is not None:
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte=cte)
    else:
        msg.set_content(html, subtype="html", cte=cte)
    return msg.as_bytes(policy=SMTP if crlf else default)


def scan_one(raw: bytes) -> MessageReport:
    [report] = scan_messages([RawMessage("test.eml", None, raw)])
    return report


def urls(report: MessageReport, kind: str) -> set[str]:
    return {t.url for t in report.trackers if t.kind.value == kind}
