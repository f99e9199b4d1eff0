"""Reading one message defensively: charsets, broken MIME, limits, attachments."""

from __future__ import annotations

import email.message
from email.message import EmailMessage
from email.policy import SMTP, default
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.mail import message
from trackpref.mail.message import Limits, decode_text, header_text, parse_message
from trackpref.mail.parts import plain_parts


def _raw(
    body: bytes, ctype: str = 'text/html; charset="utf-8"', cte: str = "8bit", extra: str = ""
) -> bytes:
    head = (
        "From: =?utf-8?q?Caf=C3=A9?= <news@cafe.example>\r\nTo: a@example.org, B <b@example.org>"
        "\r\n"
        f"Subject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: "
        f"{cte}\r\n{extra}\r\n"
    )
    return head.encode() + body


def test_headers_and_recipients() -> None:
    parsed = parse_message(
        _raw(
            b"<p>x</p>",
            extra="List-Unsubscribe: <mailto:u@x.example>, <https://x.example/u?t=1>\r\n",
        )
    )
    assert parsed.sender == "Café <news@cafe.example>"
    assert parsed.sender_address == "news@cafe.example"
    assert parsed.recipients == ("a@example.org", "b@example.org")
    assert parsed.list_unsubscribe == ("https://x.example/u?t=1",)
    assert parsed.errors == ()
    assert parsed.parts[0].text == "<p>x</p>"


def test_unknown_charset_is_read_as_latin1_and_reported() -> None:
    parsed = parse_message(
        _raw(
            '<img src="https://t.example/o.gif">\xe9'.encode("latin-1"),
            'text/html; charset="x-klingon"',
        )
    )
    assert parsed.parts[0].text.startswith('<img src="https://t.example/o.gif">')
    assert parsed.errors == (
        "part 0 (text/html): unknown charset 'x-klingon'; read as Latin-1 so the markup could be "
        "scanned",
    )


def test_wrong_charset_keeps_the_bytes_and_says_so() -> None:
    parsed = parse_message(_raw(b"<p>caf\xe9</p>", 'text/html; charset="utf-8"'))
    [error] = parsed.errors
    assert "not valid in the declared charset 'utf-8'" in error
    text, codec, _ = decode_text(b"<p>caf\xe9</p>", "utf-8")
    assert text.encode(codec, "surrogateescape") == b"<p>caf\xe9</p>"


@pytest.mark.parametrize("charset", ["rot13", "base64", "utf-8\x00", "idna"])
def test_non_text_codecs_are_refused(charset: str) -> None:
    text, codec, problem = decode_text(b"<p>x</p>", charset)
    assert text == "<p>x</p>"
    assert codec == "latin-1"
    assert problem is not None


def test_broken_mime_is_reported_and_reading_goes_on() -> None:
    raw = (
        b"From: a@shop.example\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="BOUND"\r\n\r\n'
        b"--BOUND\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"PGltZyBzcmM9Imh0dHBzOi8vdC5leGFtcGxlL28uZ2lmIj4=!!!\r\n"
    )  # no closing boundary, junk in the base64
    parsed = parse_message(raw)
    assert any("CloseBoundaryNotFoundDefect" in e for e in parsed.errors)
    assert parsed.parts[0].text.startswith('<img src="https://t.example/o.gif">')


def test_limits_cut_text_parts_and_skip_huge_messages() -> None:
    parsed = parse_message(_raw(b"<p>" + b"x" * 5000 + b"</p>"), Limits(max_text_chars=1000))
    assert len(parsed.parts[0].text) == 1000
    assert not parsed.parts[0].complete
    assert "over the 1,000-character limit" in parsed.errors[0]
    huge = parse_message(_raw(b"x" * 3000), Limits(max_message_bytes=2000))
    assert huge.parts == ()
    assert "over the" in huge.errors[0]


def test_attachments_and_non_text_parts_are_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = EmailMessage()
    msg["From"] = "a@shop.example"
    msg.set_content("<p>hi</p>", subtype="html")
    msg.add_attachment(b"\x89PNG" * 200_000, maintype="image", subtype="png", filename="big.png")
    msg.add_attachment("<p>attached page</p>", subtype="html", filename="page.html")
    decoded: list[str] = []
    original: Any = email.message.Message.get_payload
    original_body: Any = message._payload

    # Bodies are decoded by ``email`` (``get_payload``) or from the raw bytes
    # (``message._payload``): neither may see the attachments.
    def spy(self: email.message.Message, i: int | None = None, decode: bool = False) -> object:
        if decode:
            decoded.append(self.get_content_type())
        return original(self, i, decode)

    def spy_body(part: email.message.Message, body: bytes | None, cte: str) -> object:
        if body is not None:
            decoded.append(part.get_content_type())
        return original_body(part, body, cte)

    monkeypatch.setattr(email.message.Message, "get_payload", spy)
    monkeypatch.setattr(message, "_payload", spy_body)
    parsed = parse_message(msg.as_bytes())
    assert decoded == ["text/html"]
    assert [p.text for p in parsed.parts] == ["<p>hi</p>\n"]
    decoded.clear()
    with patch("trackpref.mail.message.plain_parts", return_value=None):  # read by email whole
        assert parse_message(msg.as_bytes()) == parsed
    assert decoded == ["text/html"]


def test_header_text() -> None:
    assert header_text("=?utf-8?q?Caf=C3=A9?=  news") == "Café news"
    assert header_text("=?x-unknown?q?abc?=") is not None
    assert header_text(None) is None


@given(st.text(max_size=120))
def test_header_text_never_raises(value: str) -> None:
    result = header_text(value)
    assert result is None or isinstance(result, str)


@given(st.binary(max_size=2000))
def test_parse_message_never_raises(raw: bytes) -> None:
    parse_message(raw)


def test_absurdly_deep_nesting_is_a_clear_error() -> None:
    raw = b"From: a@shop.example\nSubject: deep\n"
    for level in range(3000):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (level, level)
    raw += b"Content-Type: text/html\n\n<p>x</p>\n"
    parsed = parse_message(raw)
    assert parsed.errors == ("MIME parts are nested too deeply to be read; not scanned",)


def _read_by_email_alone(raw: bytes) -> object:
    """``parse_message`` with the fast structure walk switched off."""
    with patch("trackpref.mail.message.plain_parts", return_value=None):
        return parse_message(raw)


_MUTATIONS = ["none", "drop line", "double line", "bare CR", "truncate", "junk line", "swap"]


def _mutate(raw: bytes, how: str, at: float, other: float) -> bytes:
    lines = raw.splitlines(keepends=True)
    i = min(int(at * len(lines)), len(lines) - 1)
    j = min(int(other * len(lines)), len(lines) - 1)
    if how == "drop line":
        del lines[i]
    elif how == "double line":
        lines.insert(i, lines[i])
    elif how == "bare CR":
        pos = int(at * len(raw))
        return raw[:pos] + b"\r" + raw[pos:]
    elif how == "truncate":
        return raw[: int(at * len(raw))]
    elif how == "junk line":
        lines.insert(i, b"junk without a colon\n")
    elif how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


@settings(max_examples=300, deadline=None)
@given(
    html=st.text(max_size=200),
    text=st.one_of(st.none(), st.text(max_size=100)),
    cte=st.sampled_from(["quoted-printable", "base64", "8bit", "7bit"]),
    charset=st.sampled_from(["utf-8", "latin-1", "x-unknown"]),
    crlf=st.booleans(),
    attach=st.sampled_from(["", "binary", "html", "message"]),
    how=st.sampled_from(_MUTATIONS),
    at=st.floats(0, 1),
    other=st.floats(0, 1),
)
def test_the_fast_structure_walk_reads_every_message_as_email_does(
    html: str,
    text: str | None,
    cte: str,
    charset: str,
    crlf: bool,
    attach: str,
    how: str,
    at: float,
    other: float,
) -> None:
    msg = EmailMessage()
    msg["From"] = "Shop <news@shop.example>"
    msg["To"] = "a@example.org"
    msg["Subject"] = "Sale"
    if text is not None:
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte=cte if cte != "7bit" else "8bit")
    else:
        msg.set_content(html, subtype="html", cte=cte if cte != "7bit" else "8bit")
    if attach == "binary":
        msg.add_attachment(b"\x89PNG\r\n" * 20, maintype="image", subtype="png", filename="a.png")
    elif attach == "html":
        msg.add_attachment("<p>page</p>", subtype="html", filename="page.html")
    elif attach == "message":
        inner = EmailMessage()
        inner["Subject"] = "inner"
        inner.set_content("<p>inner</p>", subtype="html")
        msg.add_attachment(inner)
    raw = msg.as_bytes(policy=SMTP if crlf else default)
    raw = raw.replace(b"charset=utf-8", f"charset={charset}".encode(), 1)
    raw = _mutate(raw, how, at, other)
    assert parse_message(raw) == _read_by_email_alone(raw)


def test_the_fast_structure_walk_reads_the_corpus_as_email_does(corpus_module: Any) -> None:
    items = corpus_module.corpus(seed=11, campaigns=30, size="typical")
    fast = 0
    for item in items:
        assert parse_message(item.data) == _read_by_email_alone(item.data)
        fast += plain_parts(item.data) is not None
    assert fast == len(items)  # every generated message takes the fast path


@settings(max_examples=1000)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.sampled_from([b"QUJD", b"ZA==", b"=", b"\r\n", b"\n", b"=3D", b"=\n", b" ", b"!"])
        ).map(b"".join),
    ),
    cte=st.sampled_from(["base64", "BASE64", "base64 ", "quoted-printable", "x-uue", "7bit", ""]),
)
def test_bodies_are_decoded_as_email_decodes_them(body: bytes, cte: str) -> None:
    headers = email.message.Message()
    if cte:
        headers["Content-Transfer-Encoding"] = cte
    expected = email.message.Message()
    for name, value in headers.items():
        expected[name] = value
    expected.set_payload(body)
    read = str(headers.get("content-transfer-encoding", "")).lower()
    assert message._payload(headers, body, read) == expected.get_payload(decode=True)
