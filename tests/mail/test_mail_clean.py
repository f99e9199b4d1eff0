"""Cleaning one message: trackers out, every other byte where it was."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from mail_helpers import newsletter, scan_one, urls

from trackpref.mail import clean_message
from trackpref.mail.parts import find_leaves

TARGET = "https://shop.example/sale?utm_source=news"
WRAPPED = "https://www.google.com/url?q=" + quote(TARGET, safe="")
PIXEL = (
    "https://zeit.us12.list-manage.com/track/open.php?u=3c9e9e13d7e6dae8faf375bed&id=ce66ec2f9f&"
    "e=c9edb6a9f6"
)
OPAQUE = (
    "https://brand.us5.list-manage.com/track/click?u=3c9e9e13d7e6dae8faf375bed&id=ab12cd34ef&"
    "e=c9edb6a9f6"
)
HTML = (
    '<html><body><img src="https://cdn.shop.example/logo.png" width="180" height="40" alt="Shop">'
    f'<p>Caf\u00e9 <a href="{WRAPPED.replace("&", "&amp;")}" class="cta">Sale</a> '
    f'<a href="{OPAQUE.replace("&", "&amp;")}">More</a></p>'
    f'<img src="{PIXEL.replace("&", "&amp;")}" height="1" width="1"></body></html>'
)
TEXT = f"Sale: {WRAPPED}\nMore: {OPAQUE}\n"


def _with_attachment(cte: str, crlf: bool) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Shop <news@shop.example>"
    msg["To"] = "alice@example.org"
    msg["Subject"] = "Sale"
    msg.set_content(TEXT, cte="quoted-printable")
    msg.add_alternative(HTML, subtype="html", cte=cte)
    msg.add_attachment(
        bytes(range(256)) * 50, maintype="application", subtype="pdf", filename="terms.pdf"
    )
    return msg.as_bytes(policy=email.policy.SMTP if crlf else email.policy.default)


@pytest.mark.parametrize("cte", ["quoted-printable", "base64", "8bit"])
@pytest.mark.parametrize("crlf", [False, True])
def test_clean_removes_pixels_unwraps_links_and_preserves_the_rest(cte: str, crlf: bool) -> None:
    raw = _with_attachment(cte, crlf)
    report = scan_one(raw)
    assert urls(report, "pixel") == {PIXEL}
    assert urls(report, "click") == {WRAPPED, OPAQUE}
    result = clean_message(raw, report)
    assert result.errors == ()
    assert (result.removed_pixels, result.unwrapped_links) == (1, 1)

    before, after = find_leaves(raw), find_leaves(result.data)
    assert [leaf.content_type for leaf in after] == ["text/plain", "text/html", "application/pdf"]
    # headers of the message and of every part, and the attachment, are byte-identical
    assert raw[: before[0].start] == result.data[: after[0].start]
    for old, new in zip(before, after, strict=True):
        assert raw[old.start : old.body_start] == result.data[new.start : new.body_start]
    assert (
        raw[before[2].start : before[2].body_end] == result.data[after[2].start : after[2].body_end]
    )
    assert raw[before[2].body_end :] == result.data[after[2].body_end :]

    cleaned = email.message_from_bytes(result.data, policy=email.policy.default)
    html = cleaned.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = cleaned.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "track/open.php" not in html
    assert f'href="{TARGET}"' in html
    assert 'class="cta"' in html
    assert OPAQUE.replace("&", "&amp;") in html  # destination unknown: left alone
    assert "Caf\u00e9" in html
    assert text.replace("\r\n", "\n") == f"Sale: {TARGET}\nMore: {OPAQUE}\n"
    rescan = scan_one(result.data)
    assert urls(rescan, "pixel") == set()
    assert urls(rescan, "click") == {OPAQUE}


def test_a_message_without_trackers_is_returned_as_is() -> None:
    raw = newsletter('<img src="https://cdn.shop.example/logo.png" width="180" height="40">')
    result = clean_message(raw, scan_one(raw))
    assert result.data is raw
    assert not result.changed


def test_parts_that_cannot_be_cleaned_are_left_and_reported() -> None:
    raw = (
        b"From: news@shop.example\r\nTo: a@example.org\r\nSubject: x\r\nContent-Type: text/html\r\n"
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\n"
        b'<img src="https://u1.ct.sendgrid.net/wf/open?upn=abcDEF123456ghiJKL">\r\n'
    )
    report = scan_one(raw)
    assert len(report.pixels) == 1
    result = clean_message(raw, report)
    assert result.data == raw
    assert any("x-uuencode" in e for e in result.errors)
    assert any("were not rewritten" in e for e in result.errors)


def test_wrong_charset_bytes_survive_cleaning() -> None:
    raw = (
        b"From: news@shop.example\r\nTo: a@example.org\r\nSubject: x\r\n"
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        b'<p>caf\xe9 \xff</p><img src="https://u1.ct.sendgrid.net/wf/open?upn=abcDEF123456ghiJKL" '
        b"width=1 height=1>\r\n"
    )
    report = scan_one(raw)
    result = clean_message(raw, report)
    assert result.removed_pixels == 1
    assert result.data.endswith(b"<p>caf\xe9 \xff</p>\r\n")


def test_scan_and_clean_read_the_same_urls() -> None:
    # "&timestamp=" is not "×tamp=": the cleaner must find the very URL the scan reported.
    pixel = "https://t.shop.example/open?u=Zk3jd9Qx81LmPq2zT7vB&timestamp=1714550400&region=eu"
    html = (
        f'<p>Hi</p><img src="{pixel}" width="1" height="1">'
        '<img src="https://cdn.shop.example/logo.png" width="180" height="40">'
    )
    raw = newsletter(html)
    report = scan_one(raw)
    assert urls(report, "pixel") == {pixel}
    result = clean_message(raw, report)
    assert result.errors == ()
    assert result.removed_pixels == 1
    assert urls(scan_one(result.data), "pixel") == set()
