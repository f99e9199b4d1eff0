"""scan_path / clean_path over every container, with bad mail in the middle."""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
import os
from pathlib import Path

import pytest
from mail_helpers import newsletter

from trackpref.mail import MailFormat, MailSourceError, clean_path, read_messages, scan_path

PIXEL = "https://u1.ct.sendgrid.net/wf/open?upn=abcDEF123456ghiJKL789mno"
TRACKED = (
    '<p>Hello</p><a href="https://www.google.com/url?q=https%3A%2F%2Fshop.example%2Fsale">Sale</a>'
    f'<img src="{PIXEL}" width="1" height="1">'
)


def _good(n: int) -> bytes:
    return newsletter(TRACKED, message_id=f"<good{n}@shop.example>", text="Sale")


BROKEN_MIME = (
    b"From: x@shop.example\nSubject: broken\nContent-Type: multipart/mixed; boundary=zz\n\n"
    b"--zz\nContent-Type: text/html\n\n<img src='" + PIXEL.encode() + b"' width=1 height=1>\n"
)
BAD_CHARSET = (
    b"From: y@shop.example\nSubject: charset\nContent-Type: text/html; charset=x-nonsense\n\n"
    b"<p>\xe9\xff</p><img src='" + PIXEL.encode() + b"' width=1 height=1>\n"
)
HOSTILE_HTML = (
    b"From: z@shop.example\nSubject: hostile\nContent-Type: text/html\n\n"
    + b"<div>" * 20000
    + b"<![bogus[ x ]]> <img src='https://t.example/x.gif'>"
)
ATTACHMENT = (
    b"From: w@shop.example\nSubject: big\nContent-Type: multipart/mixed; boundary=b\n\n"
    b"--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/zip\n"
    b"Content-Transfer-Encoding: base64\n\n" + b"UEsDBBQAAAAIAA==\n" * 200_000 + b"--b--\n"
)
MESSAGES = [_good(1), BROKEN_MIME, BAD_CHARSET, HOSTILE_HTML, ATTACHMENT, _good(2)]


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {
        str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files
    }


def _make(fmt: MailFormat, tmp_path: Path) -> Path:
    if fmt is MailFormat.EML:
        path = tmp_path / "one.eml"
        path.write_bytes(_good(1))
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
        return path
    if fmt is MailFormat.EML_DIR:
        path = tmp_path / "folder"
        path.mkdir()
        for i, raw in enumerate(MESSAGES):
            (path / f"{i:02d}.eml").write_bytes(raw)
        return path
    if fmt is MailFormat.MBOX:
        path = tmp_path / "inbox.mbox"
        box = mailbox.mbox(str(path), create=True)
        for raw in MESSAGES:
            box.add(b"From sender@example.org Wed May  1 09:00:00 2024\n" + raw)
        box.flush()
        box.close()
        return path
    path = tmp_path / "Maildir"
    maildir = mailbox.Maildir(str(path), create=True)
    for i, raw in enumerate(MESSAGES):
        msg = mailbox.MaildirMessage(raw)
        if i % 2:
            msg.set_subdir("cur")
            msg.set_flags("RS")
        maildir.add(msg)
    maildir.close()
    return path


@pytest.mark.parametrize("fmt", list(MailFormat))
def test_scan_and_clean_every_container_without_touching_it(
    fmt: MailFormat, tmp_path: Path
) -> None:
    source = _make(fmt, tmp_path)
    before = _snapshot(source)

    scan = scan_path(source)
    assert scan.format is fmt
    count = 1 if fmt is MailFormat.EML else len(MESSAGES)
    assert len(scan.reports) == count
    good = [r for r in scan.reports if r.message_id and r.message_id.startswith("<good")]
    assert good
    for report in good:
        assert {t.url for t in report.pixels} == {PIXEL}
        assert [t.target for t in report.clicks] == ["https://shop.example/sale"]
        assert report.errors == ()

    out = tmp_path / "out"
    summary = clean_path(source, out)
    assert _snapshot(source) == before  # bytes and mtimes of the originals
    assert summary.output == out / source.name
    assert summary.format is fmt
    assert detect_same_format(summary.output, fmt)
    copies = list(read_messages(summary.output))
    assert len(copies) == count
    originals = {m.location: m.message.data for m in read_messages(source)}
    for copy in copies:
        original = originals[copy.location]
        parsed = email.message_from_bytes(copy.message.data, policy=email.policy.compat32)
        if parsed["Message-ID"] and parsed["Message-ID"].startswith("<good"):
            assert PIXEL.encode() not in copy.message.data
            assert b"https://shop.example/sale" in copy.message.data
        elif parsed["Subject"] in ("hostile", "big"):
            assert copy.message.data == original  # nothing to clean: byte-identical copy
    assert summary.removed_pixels >= len(good)


def detect_same_format(path: Path, fmt: MailFormat) -> bool:
    from trackpref.mail import detect_format

    return detect_format(path) is fmt


def test_bad_messages_get_clear_errors_and_the_scan_goes_on(tmp_path: Path) -> None:
    source = _make(MailFormat.EML_DIR, tmp_path)
    reports = {Path(r.file).name: r for r in scan_path(source).reports}
    assert len(reports) == len(MESSAGES)
    assert any("CloseBoundaryNotFoundDefect" in e for e in reports["01.eml"].errors)
    assert {t.url for t in reports["01.eml"].pixels} == {PIXEL}
    assert any("unknown charset 'x-nonsense'" in e for e in reports["02.eml"].errors)
    assert {t.url for t in reports["02.eml"].pixels} == {PIXEL}
    assert any("HTML could not be parsed to the end" in e for e in reports["03.eml"].errors)
    assert reports["04.eml"].errors == ()
    assert reports["04.eml"].trackers == ()
    assert len(reports["05.eml"].pixels) == 1


def test_clean_refuses_an_output_over_the_original(tmp_path: Path) -> None:
    source = _make(MailFormat.EML, tmp_path)
    before = _snapshot(source)
    with pytest.raises(MailSourceError):
        clean_path(source, tmp_path)
    assert _snapshot(source) == before


def test_clean_twice_replaces_the_previous_copy(tmp_path: Path) -> None:
    source = _make(MailFormat.MBOX, tmp_path)
    first = clean_path(source, tmp_path / "out").output.read_bytes()
    second = clean_path(source, tmp_path / "out").output.read_bytes()
    assert first == second
    assert not list((tmp_path / "out").glob(".trackpref-*"))
