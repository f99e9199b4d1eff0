from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from ledger_loopback import SMTPServer

from trackpref.ledger.mailer import FileOutbox, MailError, Message, SMTPMailer, build_message


def test_file_outbox_writes_readable_messages(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "out", sender="privacy@news.example")
    outbox.send(Message("alice@mail.example", "Your code", "Code: 123456\n"))
    outbox.send(Message("bob@mail.example", "Your code", "Code: 654321\n"))
    [a, b] = outbox.messages()
    assert a["To"] == "alice@mail.example"
    assert a["From"] == "privacy@news.example"
    assert "123456" in a.get_content()
    assert b["To"] == "bob@mail.example"
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_file_outbox_forgets_messages_once_their_codes_are_dead(tmp_path: Path) -> None:
    import time

    outbox = FileOutbox(tmp_path / "out")
    outbox.send(Message("old@mail.example", "Your code", "Code: 111111\n"))
    cutoff = time.time()
    time.sleep(0.01)
    outbox.send(Message("new@mail.example", "Your code", "Code: 222222\n"))
    (tmp_path / "out" / "notes.eml").write_text("not one of ours")
    assert outbox.prune(cutoff) == 1
    [kept] = [m for m in outbox.messages() if m["To"]]
    assert kept["To"] == "new@mail.example"
    assert (tmp_path / "out" / "notes.eml").exists(), "a file it did not write is left alone"
    assert outbox.prune(cutoff) == 0


@pytest.mark.parametrize(
    ("to", "subject", "field"),
    [
        ("alice@mail.example\r\nBcc: all@evil.example", "x", "to"),
        ("alice@mail.example, eve@evil.example", "x", "to"),
        ("not-an-address", "x", "to"),
        ("a@b", "x", "to"),
        ("alice@mail.example", "hi\r\nBcc: eve@evil.example", "subject"),
        ("alice@mail.example", "x" * 201, "subject"),
    ],
)
def test_header_injection_is_refused(tmp_path: Path, to: str, subject: str, field: str) -> None:
    outbox = FileOutbox(tmp_path)
    with pytest.raises(MailError) as info:
        outbox.send(Message(to, subject, "body"))
    assert info.value.field == field
    assert outbox.messages() == []


def test_smtp_to_a_loopback_server(smtp_server: SMTPServer) -> None:
    mailer = SMTPMailer(
        smtp_server.host, smtp_server.port, sender="privacy@news.example", security="none"
    )
    mailer.send(Message("alice@mail.example", "Your code", "Code: 246810\n"))
    [(sender, rcpts, data)] = smtp_server.messages
    assert sender == "<privacy@news.example>"
    assert rcpts == ["<alice@mail.example>"]
    parsed = message_from_bytes(data, policy=default)
    assert parsed["Subject"] == "Your code"
    assert "246810" in parsed.get_body().get_content()  # type: ignore[union-attr]


def test_smtp_errors_are_mail_errors() -> None:
    mailer = SMTPMailer("127.0.0.1", 1, sender="p@news.example", security="none", timeout=2)
    with pytest.raises(MailError, match="could not send") as info:
        mailer.send(Message("alice@mail.example", "x", "y"))
    assert info.value.field == "smtp"


def test_plain_smtp_only_on_loopback() -> None:
    with pytest.raises(MailError, match="loopback"):
        SMTPMailer("mail.example", 25, sender="p@news.example", security="none")
    with pytest.raises(MailError, match="security"):
        SMTPMailer("mail.example", 25, sender="p@news.example", security="maybe")


def test_build_message_headers() -> None:
    msg = build_message(Message("a@mail.example", "S", "B"), sender="p@news.example")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@news.example>")
