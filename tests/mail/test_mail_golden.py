"""Every report on the generated corpora is the one recorded (``mail_golden``).

The scanner remembers results across messages and takes fast paths around
``email`` and lexbor; none of that may change what it reports. The digests
were recorded before the speed work of issue #6, and are re-recorded only for
a change in detection that was meant (``python tests/mail/mail_golden.py
--update``, then review the counts that changed).
"""

from __future__ import annotations

import json

from mail_golden import GOLDEN, lines, mailboxes, scan

from trackpref.mail import scan_messages
from trackpref.mail.scanner import clear_caches


def _differences(expected: list[str], got: list[str]) -> list[str]:
    out = []
    for want, have in zip(expected, got, strict=False):
        if want != have:
            out.append(f"- {want}\n+ {have}")
    if len(expected) != len(got):
        out.append(f"{len(expected)} messages recorded, {len(got)} scanned")
    return out


def test_reports_are_the_recorded_ones() -> None:
    clear_caches()
    reports = scan()
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    differences = _differences(expected, lines(reports))
    if differences:
        # The first changed report in full, to see what moved.
        first = next(
            r for r, line in zip(reports, lines(reports), strict=False) if line not in expected
        )
        shown = json.dumps(first.to_json(), indent=1)[:4000]
        raise AssertionError(
            f"{len(differences)} reports differ from {GOLDEN.name}:\n"
            + "\n".join(differences[:20])
            + f"\nfirst changed report now:\n{shown}"
        )


def test_remembered_results_change_no_report() -> None:
    # Cold, then with every cache filled by the run before, then cold again in
    # the opposite order of mailboxes: the same reports each time.
    boxes = mailboxes()
    clear_caches()
    cold = [scan_messages(box) for box in boxes]
    warm = [scan_messages(box) for box in boxes]
    clear_caches()
    reverse = [scan_messages(box) for box in reversed(boxes)][::-1]
    assert warm == cold
    assert reverse == cold


def test_the_golden_file_covers_damaged_mail() -> None:
    # The fallbacks (``email`` reading a message whole, unknown charsets and
    # encodings, attachments) are part of what is pinned.
    recorded = GOLDEN.read_text(encoding="utf-8").splitlines()
    kinds = {line.split("/")[0] for line in recorded}
    assert {"7-typical", "11-small"} <= kinds
    assert sum(kind.startswith("damaged-") for kind in kinds) == 8
    errors = [
        line for line in recorded if line.startswith("damaged-") and line.split("\t")[3] != "0"
    ]
    assert len(errors) >= 10
