"""Golden reports: what the scanner says about the generated corpora, pinned.

Speed work on the scanner (caches, fast paths around ``email`` and around
lexbor) must not change a single report. ``test_mail_golden`` scans the
generated corpora, plus damaged copies of their messages that send the reader
down its slower, fallback paths, and compares every report with the digest
recorded in ``golden_reports.tsv``.

The file holds one line per message: its name, how many pixels, clicks and
errors it reports, and a digest of its whole JSON report (trackers in order,
reasons, services, targets, errors). A change in detection that is meant must
be reviewed and recorded again::

    python tests/mail/mail_golden.py --update
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from trackpref.mail import MessageReport, RawMessage, scan_messages

GOLDEN = Path(__file__).with_name("golden_reports.tsv")

#: ``(seed, campaigns, size)`` of each generated corpus.
CORPORA = ((7, 80, "typical"), (11, 40, "small"))


def _line_endings(raw: bytes) -> bytes:
    if b"\r\n" in raw:
        return raw.replace(b"\r\n", b"\n")
    return raw.replace(b"\n", b"\r\n")


def _unixfrom(raw: bytes) -> bytes:
    # As an mbox stores it: a ``From`` line before the headers.
    return b"From news@example.com Wed May  1 09:00:00 2024\n" + raw


def _bare_cr(raw: bytes) -> bytes:
    # A bare CR anywhere makes the message one for ``email`` to read whole.
    at = raw.find(b"\n\n")
    at = raw.find(b"\r\n\r\n") if at == -1 else at
    return raw[:at] + b"\r" + raw[at:]


def _truncated(raw: bytes) -> bytes:
    # No closing delimiter: a multipart ``email`` reports a defect in.
    return raw[: len(raw) * 3 // 5]


def _bad_charset(raw: bytes) -> bytes:
    return raw.replace(b'charset="utf-8"', b'charset="x-no-such-charset"').replace(
        b"charset=utf-8", b"charset=x-no-such-charset"
    )


def _header_defect(raw: bytes) -> bytes:
    # A header line without a colon ends the headers early, with a defect.
    return raw.replace(b"MIME-Version: 1.0", b"MIME-Version 1.0", 1)


def _attachment(raw: bytes) -> bytes:
    # A text part turned into an attachment, which is not scanned.
    ctype = (
        b"Content-Type: text/plain"
        if b"Content-Type: text/plain" in raw
        else b"Content-Type: text/html"
    )
    return raw.replace(ctype, b"Content-Disposition: attachment\n" + ctype, 1)


def _unknown_cte(raw: bytes) -> bytes:
    return raw.replace(
        b"Content-Transfer-Encoding: quoted-printable", b"Content-Transfer-Encoding: x-uue", 1
    )


#: Damage applied to every fifth message of the first corpus, in turn, by name.
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "line-endings": _line_endings,
    "unixfrom": _unixfrom,
    "bare-cr": _bare_cr,
    "truncated": _truncated,
    "bad-charset": _bad_charset,
    "header-defect": _header_defect,
    "attachment": _attachment,
    "unknown-cte": _unknown_cte,
}


def mailboxes() -> list[list[RawMessage]]:
    """The messages of the golden run: each list is scanned as one mailbox.

    The damaged copies are a mailbox of their own, so that they cannot change
    what the copies of a campaign reveal about the intact messages.
    """
    # tests/ on the path: this file also runs as a script (``--update``).
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from support.mail_corpus import load_corpus_module

    gen = load_corpus_module()
    out: list[list[RawMessage]] = []
    for seed, campaigns, size in CORPORA:
        items = gen.corpus(seed=seed, campaigns=campaigns, size=size)
        out.append([RawMessage(f"{seed}-{size}/{item.name}", None, item.data) for item in items])
    damaged = []
    for index, message in enumerate(out[0][::5]):
        name, damage = list(DAMAGE.items())[index % len(DAMAGE)]
        damaged.append(RawMessage(f"damaged-{name}/{message.file}", None, damage(message.data)))
    out.append(damaged)
    return out


def digest(report: MessageReport) -> str:
    text = json.dumps(report.to_json(), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:24]


def lines(reports: list[MessageReport]) -> list[str]:
    return [
        f"{r.file}\t{len(r.pixels)}\t{len(r.clicks)}\t{len(r.errors)}\t{digest(r)}" for r in reports
    ]


def scan() -> list[MessageReport]:
    return [report for box in mailboxes() for report in scan_messages(box)]


def main() -> int:
    if sys.argv[1:] != ["--update"]:
        print(__doc__)
        return 2
    GOLDEN.write_text("\n".join(lines(scan())) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
