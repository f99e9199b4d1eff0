"""A cleaned copy of one message, changed only where trackers were.

Pure: the original bytes and the scan's report in, new bytes out. Only the
bodies of text parts that held a tracker are re-encoded; headers, boundaries,
attachments and every other part are copied byte for byte. A part that cannot
be rewritten safely (cut short by the size limit, an encoding the cleaner does
not write) is left as it was, and the result says so.
"""

from __future__ import annotations

import email
import email.policy
import string
from dataclasses import dataclass
from urllib.parse import quote

from .message import DEFAULT_LIMITS, Limits, decode_text
from .parts import encode_body, find_leaves
from .report import MessageReport
from .rewrite import Rewrite, rewrite_html, rewrite_text

__all__ = ["CleanResult", "clean_message"]

_URL_SAFE = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%"


@dataclass(frozen=True, slots=True)
class CleanResult:
    data: bytes
    removed_pixels: int
    unwrapped_links: int
    errors: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.removed_pixels or self.unwrapped_links)


def _ascii_url(url: str) -> str:
    """Non-ASCII characters percent-encoded, so any charset can carry the URL."""
    return quote(url, safe=_URL_SAFE)


def clean_message(
    raw: bytes, report: MessageReport, limits: Limits = DEFAULT_LIMITS
) -> CleanResult:
    pixels = frozenset(t.url for t in report.pixels)
    clicks = {t.url: _ascii_url(t.target) for t in report.clicks if t.target}
    if not pixels and not clicks:
        return CleanResult(raw, 0, 0, ())
    if len(raw) > limits.max_message_bytes:
        return CleanResult(raw, 0, 0, ("message over the size limit; copied unchanged",))
    errors: list[str] = []
    edits: list[tuple[int, int, bytes]] = []
    removed: set[str] = set()
    unwrapped: set[str] = set()
    try:
        leaves = find_leaves(raw)
    except Exception as exc:  # header parsing of a hostile part
        return CleanResult(
            raw, 0, 0, (f"MIME structure could not be located ({exc}); copied unchanged",)
        )
    for number, leaf in enumerate(leaves):
        ctype = leaf.content_type
        if ctype not in ("text/html", "text/plain"):
            continue
        if leaf.headers.get_content_disposition() == "attachment":
            continue
        label = f"{ctype} part {number}"
        part = email.message_from_bytes(
            raw[leaf.start : leaf.body_end], policy=email.policy.compat32
        )
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text, codec, _ = decode_text(payload, part.get_content_charset())
        if len(text) > limits.max_text_chars:
            errors.append(f"{label}: too large to clean; left unchanged")
            continue
        result: Rewrite = (
            rewrite_html(text, pixels, clicks)
            if ctype == "text/html"
            else rewrite_text(text, clicks)
        )
        if not result.changed:
            continue
        try:
            data = result.text.encode(codec, "surrogateescape")
        except (UnicodeError, LookupError) as exc:
            errors.append(
                f"{label}: cleaned text cannot be written as {codec!r} ({exc}); left unchanged"
            )
            continue
        original = raw[leaf.body_start : leaf.body_end]
        body = encode_body(data, leaf.transfer_encoding, original)
        if body is None:
            errors.append(
                f"{label}: Content-Transfer-Encoding {leaf.transfer_encoding!r} is not"
                " rewritten; left unchanged"
            )
            continue
        edits.append((leaf.body_start, leaf.body_end, body))
        removed |= result.removed
        unwrapped |= result.unwrapped
    missed_pixels = len(pixels - removed)
    missed_links = len(frozenset(clicks) - unwrapped)
    if missed_pixels or missed_links:
        errors.append(
            f"{missed_pixels} pixel(s) and {missed_links} link(s) found by the scan were not"
            " rewritten (their part could not be cleaned)"
        )
    out = raw
    for start, end, body in sorted(edits, reverse=True):
        out = out[:start] + body + out[end:]
    return CleanResult(out, len(removed), len(unwrapped), tuple(errors))
