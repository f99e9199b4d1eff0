"""Byte ranges of MIME leaves must agree with what ``email`` itself reads."""

from __future__ import annotations

import email
import email.parser
import email.policy
from email.message import EmailMessage
from email.policy import SMTP, default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.mail.parts import encode_body, find_leaves, header_fields, plain_parts


def _message(html: str, text: str, cte: str, crlf: bool, attach: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@shop.example"
    msg["Subject"] = "s"
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte=cte)
    if attach:
        msg.add_attachment(attach, maintype="application", subtype="octet-stream", filename="a.bin")
    return msg.as_bytes(policy=SMTP if crlf else default)


def _payloads(raw: bytes) -> list[bytes]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out.append(payload)
    return out


def _leaf_payloads(raw: bytes) -> list[bytes]:
    out = []
    for leaf in find_leaves(raw):
        part = email.message_from_bytes(
            raw[leaf.start : leaf.body_end], policy=email.policy.compat32
        )
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append(payload)
    return out


@settings(deadline=None, max_examples=60)
@given(
    st.text(max_size=300),
    st.text(max_size=100),
    st.sampled_from(["quoted-printable", "base64", "8bit"]),
    st.booleans(),
    st.binary(max_size=200),
)
def test_leaves_match_the_email_package(
    html: str, text: str, cte: str, crlf: bool, attach: bytes
) -> None:
    raw = _message(html, text, cte, crlf, attach)
    assert _leaf_payloads(raw) == _payloads(raw)


def test_nested_multiparts_and_forwarded_messages() -> None:
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("<p>inner</p>", subtype="html")
    outer = EmailMessage()
    outer["Subject"] = "outer"
    outer.set_content("hello")
    outer.add_alternative("<p>outer</p>", subtype="html")
    outer.add_attachment(inner)
    raw = outer.as_bytes()
    types = [leaf.content_type for leaf in find_leaves(raw)]
    assert types == ["text/plain", "text/html", "text/html"]


def test_boundary_prefix_of_another_boundary() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: multipart/alternative;'
        b' boundary="bb"\n\n'
        b"--bb\nContent-Type: text/plain\n\none\n--bb\nContent-Type: text/html\n\n<p>two</p>"
        b"\n--bb--\n--b--\n"
    )
    leaves = find_leaves(raw)
    assert [raw[leaf.body_start : leaf.body_end] for leaf in leaves] == [b"one", b"<p>two</p>"]


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "7bit", "8bit"])
@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_encode_body_follows_the_original_shape(cte: str, eol: bytes) -> None:
    data = ("<p>" + "é" * 100 + "</p>").encode() + eol + b"<p>end</p>" + eol
    original = b"line" + eol + b"line" + eol
    body = encode_body(data, cte, original)
    assert body is not None
    assert body.endswith(eol)
    if eol == b"\r\n":
        assert b"\n" not in body.replace(b"\r\n", b"")
    msg = email.message_from_bytes(
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
        + cte.encode()
        + b"\r\n\r\n"
        + body
    )
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.replace(b"\r\n", b"\n").rstrip(b"\n") == data.replace(b"\r\n", b"\n").rstrip(
        b"\n"
    )
    assert encode_body(data, "x-uuencode", original) is None


@given(st.binary(max_size=2000))
def test_find_leaves_never_raises(raw: bytes) -> None:
    for leaf in find_leaves(raw):
        assert 0 <= leaf.start <= leaf.body_start <= leaf.body_end <= len(raw)


def test_plain_parts_are_numbered_as_walk_numbers_them() -> None:
    raw = _message("<p>html</p>", "text", "base64", True, b"\x00\x01")
    parts = plain_parts(raw)
    assert parts is not None
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    walked = [(n, p.get_content_type()) for n, p in enumerate(msg.walk())]
    assert [(p.number, p.headers.get_content_type()) for p in parts] == walked
    leaves = [p for p in parts if p.headers.get_content_maintype() != "multipart"]
    assert [raw[p.body_start : p.body_end] for p in leaves] == [
        raw[leaf.body_start : leaf.body_end] for leaf in find_leaves(raw)
    ]


@pytest.mark.parametrize(
    "raw",
    [
        # no closing delimiter
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/html\n\n'
        b"<p>x</p>\n",
        # a bare CR, where email ends a line
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\rContent-Type: text/html\n\n'
        b"x\n--b--\n",
        # delimiters back to back
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n--b\nContent-Type: text/html\n\nx\n'
        b"--b--\n",
        # a forwarded message
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: message/rfc822\n\n'
        b"Subject: in\n\nx\n--b--\n",
        # a broken header
        b"Subject: x\n junk\nno colon here\n\n<p>x</p>",
        # a multipart without a boundary
        b"Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
    ],
)
def test_plain_parts_leaves_anything_doubtful_to_email(raw: bytes) -> None:
    assert plain_parts(raw) is None


_HEADER_PIECES = st.sampled_from(
    [
        *(b"Subject", b"From", b"From ", b"To", b"Content-Type: text/html", b"x", b"a b"),
        *(b":", b": ", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\n\n"),
        *(b"=?utf-8?q?a?=", b"\xe9", b"-", b"\x00", b"From x"),
    ]
)
_EMAIL_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@settings(max_examples=3000)
@given(st.lists(_HEADER_PIECES, max_size=25).map(b"".join))
def test_header_fields_are_the_fields_email_stores(block: bytes) -> None:
    fields = header_fields(block)
    if fields is None:
        return  # left to email's parser
    parsed = _EMAIL_HEADERS.parsebytes(block)
    assert not parsed.defects
    assert fields == (tuple(parsed.raw_items()), parsed.get_unixfrom())
    assert parsed.get_payload() == ""


def test_header_fields_read_the_usual_blocks_and_leave_the_rest() -> None:
    assert header_fields(b"From a b\r\nSubject: x\r\n y\r\nTo:  z\r\n\r\n") == (
        (("Subject", "x\r\n y"), ("To", "z")),
        "From a b",
    )
    assert header_fields(b"Content-Type: text/html;\n\tcharset=utf-8\n\n") == (
        (("Content-Type", "text/html;\n\tcharset=utf-8"),),
        None,
    )
    for block in (
        b" leading: continuation\n\n",  # a defect
        b"no colon\n\n",  # a defect: the body starts here
        b": no name\n\n",  # a defect
        b"A: b\nFrom x\n\n",  # a From line after the first
        b"A: b\rB: c\n\n",  # a bare CR ends a line for email
        b"A: b\n\nbody\n",  # a body after the headers
    ):
        assert header_fields(block) is None, block
