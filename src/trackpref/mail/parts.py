"""Where each MIME leaf's body lies in the raw bytes, and how to re-encode one.

The ``email`` package can parse and regenerate a message, but regeneration
rewrites headers, boundaries and line endings. The cleaner must change only
the bodies it cleans, so it finds their byte ranges here (headers parsed by
``email``, boundaries located per RFC 2046) and splices new bytes into exactly
those ranges.
"""

from __future__ import annotations

import base64
import binascii
import email.message
import email.parser
import email.policy
from dataclasses import dataclass

__all__ = ["Leaf", "encode_body", "find_leaves"]

_MAX_DEPTH = 32
_MAX_LEAVES = 1000


@dataclass(frozen=True, slots=True)
class Leaf:
    """A non-multipart part: its headers and the byte range of its body."""

    start: int
    body_start: int
    body_end: int
    headers: email.message.Message

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def transfer_encoding(self) -> str:
        return str(self.headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()


def _header_end(raw: bytes, start: int, end: int) -> int:
    """Where the body starts: after the first empty line (or at once, if empty)."""
    if raw.startswith(b"\r\n", start):
        return start + 2
    if raw.startswith(b"\n", start):
        return start + 1
    best = end
    lf = raw.find(b"\n\n", start, end)
    if lf != -1:
        best = min(best, lf + 2)
    crlf = raw.find(b"\n\r\n", start, end)
    if crlf != -1:
        best = min(best, crlf + 3)
    return best


def _delimiters(raw: bytes, boundary: bytes, start: int, end: int) -> list[tuple[int, int, bool]]:
    """``(line start, line end incl. EOL, is_close)`` for each delimiter line."""
    marker = b"--" + boundary
    out: list[tuple[int, int, bool]] = []
    at = start
    while at < end:
        pos = raw.find(marker, at, end)
        if pos == -1:
            break
        at = pos + len(marker)
        if pos != start and raw[pos - 1 : pos] != b"\n":
            continue
        rest = pos + len(marker)
        close = raw.startswith(b"--", rest)
        if close:
            rest += 2
        eol = raw.find(b"\n", rest, end)
        line_end = end if eol == -1 else eol + 1
        if raw[rest:line_end].strip(b" \t\r\n"):
            continue  # "--boundaryX": another boundary that starts with this one
        out.append((pos, line_end, close))
        if close:
            break
    return out


def _before_eol(raw: bytes, pos: int, floor: int) -> int:
    """The end of a part: the EOL before its delimiter belongs to the delimiter."""
    if pos - 2 >= floor and raw[pos - 2 : pos] == b"\r\n":
        return pos - 2
    if pos - 1 >= floor and raw[pos - 1 : pos] == b"\n":
        return pos - 1
    return pos


def _walk(raw: bytes, start: int, end: int, depth: int, out: list[Leaf]) -> None:
    if len(out) >= _MAX_LEAVES:
        return
    body_start = _header_end(raw, start, end)
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        raw[start:body_start]
    )
    ctype = headers.get_content_type()
    if depth < _MAX_DEPTH and headers.get_content_maintype() == "multipart":
        boundary = headers.get_boundary()
        if boundary:
            lines = _delimiters(raw, boundary.encode("utf-8", "surrogateescape"), body_start, end)
            for (_, line_end, close), following in zip(lines, [*lines[1:], None], strict=True):
                if close:
                    break
                part_end = end if following is None else _before_eol(raw, following[0], line_end)
                _walk(raw, line_end, part_end, depth + 1, out)
            if lines:
                return
    if depth < _MAX_DEPTH and ctype == "message/rfc822":
        cte = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()
        if cte in ("7bit", "8bit", "binary", ""):
            _walk(raw, body_start, end, depth + 1, out)
            return
    out.append(Leaf(start, body_start, end, headers))


def find_leaves(raw: bytes) -> list[Leaf]:
    """Every leaf of the MIME tree, in document order."""
    leaves: list[Leaf] = []
    _walk(raw, 0, len(raw), 0, leaves)
    return leaves


def encode_body(data: bytes, transfer_encoding: str, original: bytes) -> bytes | None:
    """``data`` in the part's transfer encoding, shaped like ``original``.

    Line endings follow the original body, and so does a final line ending.
    ``None`` for encodings the cleaner does not write (uuencode and unknown).
    """
    eol = b"\r\n" if b"\r\n" in original else b"\n"
    if transfer_encoding in ("7bit", "8bit", "binary", ""):
        return data
    if transfer_encoding == "base64":
        encoded = base64.encodebytes(data).replace(b"\n", eol)
    elif transfer_encoding == "quoted-printable":
        text = data.replace(b"\r\n", b"\n")
        encoded = binascii.b2a_qp(text, quotetabs=False, istext=True, header=False)
        encoded = encoded.replace(b"\n", eol)
    else:
        return None
    if original.endswith(eol) and not encoded.endswith(eol):
        encoded += eol
    elif not original.endswith(eol) and encoded.endswith(eol):
        encoded = encoded[: -len(eol)]
    return encoded
