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
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

__all__ = [
    "Leaf",
    "Part",
    "clear_part_caches",
    "encode_body",
    "find_leaves",
    "header_fields",
    "plain_parts",
]

_MAX_DEPTH = 32
_MAX_LEAVES = 1000
#: ``plain_parts`` leaves deeper or larger trees to the ``email`` package.
_PLAIN_MAX_DEPTH = 16
_PLAIN_MAX_PARTS = 256
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)
#: A CR not followed by LF, where ``email`` ends a line and this module does not.
_BARE_CR = re.compile(rb"\r(?!\n)")
#: A line ``email``'s parser takes for a header line: a field name and a
#: colon, a continuation (white space first) or an mbox ``From `` line (the
#: pattern is ``email.feedparser.headerRE``).
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")


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
    # The first empty line, CRLF or LF: an LF LF can only come first if it
    # starts before the first LF CR LF, so the second search stops there.
    crlf = raw.find(b"\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, end if crlf == -1 else crlf + 1)
    if lf != -1:
        return lf + 2
    return end if crlf == -1 else crlf + 3


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
    headers = _HEADERS.parsebytes(raw[start:body_start])
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


@dataclass(frozen=True, slots=True)
class Part:
    """A node of the MIME tree, numbered as ``email.message.Message.walk`` numbers it."""

    number: int
    headers: email.message.Message
    body_start: int
    body_end: int
    content_type: str
    #: The header fields ``headers`` holds, as ``email`` stores them: the same
    #: tuple for every part with the same header block (a cache key).
    fields: tuple[tuple[str, str], ...] = ()


def plain_parts(raw: bytes) -> list[Part] | None:
    """Every part of a message whose MIME structure leaves no room for doubt.

    The ``email`` package reads a message line by line in Python, and with
    every subpart searches the whole payload with a regular expression for its
    last line ending: most of the cost of reading a newsletter. Here the
    headers are still parsed by ``email``, but the bodies are only located
    (``bytes.find`` for the boundaries) and never split into lines.

    ``None`` whenever ``email`` could read the message differently or would
    report a defect: a header defect, a multipart without a boundary, a
    missing first or closing delimiter, delimiters back to back, a bare CR
    (``email`` ends lines there), a non-ASCII boundary, ``message/*`` parts
    and digests (read as nested messages), deep or huge trees. The caller then
    reads the message with ``email`` itself, so that broken mail gets the same
    report as before.
    """
    if b"\r" in raw and _BARE_CR.search(raw) is not None:
        return None
    out: list[Part] = []
    if not _plain(raw, 0, len(raw), 0, out):
        return None
    return out


def _plain(raw: bytes, start: int, end: int, depth: int, out: list[Part]) -> bool:
    if depth > _PLAIN_MAX_DEPTH or len(out) >= _PLAIN_MAX_PARTS:
        return False
    body_start = min(_header_end(raw, start, end), end)
    known = _headers(raw[start:body_start])
    if known is None:
        return False
    headers, fields = known
    ctype = headers.get_content_type()
    maintype, _, subtype = ctype.partition("/")
    if maintype == "message":
        return False
    out.append(Part(len(out), headers, body_start, end, ctype, fields))
    if maintype != "multipart":
        return True
    boundary = headers.get_boundary()
    cte = str(headers.get("Content-Transfer-Encoding", "8bit")).lower()
    if (
        subtype == "digest"
        or not boundary
        or not boundary.isascii()
        or cte not in ("7bit", "8bit", "binary")
    ):
        return False
    lines = _delimiters(raw, boundary.encode("ascii"), body_start, end)
    if len(lines) < 2 or lines[0][2] or not lines[-1][2]:
        return False
    for (_, line_end, _), (following, _, _) in pairwise(lines):
        if following == line_end:  # ``email`` reads back-to-back delimiters as one
            return False
        part_end = max(_before_eol(raw, following, line_end), line_end)
        if not _plain(raw, line_end, part_end, depth + 1, out):
            return False
    return True


#: Header blocks up to this size are remembered: a part's few headers
#: (``Content-Type``, ``Content-Transfer-Encoding``) recur in every message of a
#: sender, while a message's own headers are longer and never recur.
_MAX_CACHED_BLOCK = 512

_Fields = tuple[tuple[tuple[str, str], ...], str | None]


def _headers(block: bytes) -> tuple[email.message.Message, tuple[tuple[str, str], ...]] | None:
    """The headers of a block as ``email`` parses them, and their fields.

    ``None`` if the parser finds a defect.
    """
    if len(block) > _MAX_CACHED_BLOCK:
        known = _header_items.__wrapped__(block)
    else:
        known = _header_items(block)
    if known is None:
        return None
    items, unixfrom = known
    msg = email.message.Message(policy=email.policy.compat32)
    for name, value in items:
        msg.set_raw(name, value)
    if unixfrom is not None:
        msg.set_unixfrom(unixfrom)
    msg.set_payload("")  # as the parser leaves a header block's empty body
    return msg, items


@lru_cache(maxsize=1024)
def _header_items(block: bytes) -> _Fields | None:
    fields = header_fields(block)
    if fields is not None:
        return fields
    parsed = _HEADERS.parsebytes(block)
    if parsed.defects:
        return None
    return tuple(parsed.raw_items()), parsed.get_unixfrom()


def header_fields(block: bytes) -> _Fields | None:
    """The fields of a header block and its mbox ``From `` line, as ``email`` stores them.

    ``email``'s parser is general (it feeds lines one by one through a stack
    of predicates); a header block is read here in one pass over its lines,
    with the parser's rules: a field runs from its name and colon over the
    lines that start with white space, and its value is the rest of the first
    line without the leading blanks, then the following lines as they are,
    without the final line ending (``compat32.header_source_parse``).

    ``None`` wherever the parser would do anything else: note a defect (a
    line that is no header, a continuation first, an empty field name), read
    a line as the body, meet a ``From `` line after the first, or end a line
    at a bare CR. The caller then asks the parser itself.
    """
    text = block.decode("ascii", "surrogateescape")
    if text.count("\r") != text.count("\r\n"):
        return None
    lines = text.split("\n")
    last = lines.pop()  # what follows the last line ending: a line without one
    ends = len(lines)
    items: list[tuple[str, str]] = []
    unixfrom: str | None = None
    field: list[str] = []
    for number, line in enumerate(lines if not last else [*lines, last]):
        if number < ends:
            line += "\n"
        if line == "\n" or line == "\r\n":  # the empty line: the headers end
            if number != len(lines) - 1 or last:
                return None  # more after it would be the body
            break
        if _HEADER_LINE.match(line) is None:
            return None
        if line[0] in " \t":
            if not field:
                return None
            field.append(line)
            continue
        if field:
            items.append(_field(field))
            field = []
        if line.startswith("From "):
            if number:
                return None
            unixfrom = line.removesuffix("\n").removesuffix("\r")
            continue
        if line.find(":") == 0:
            return None
        field = [line]
    if field:
        items.append(_field(field))
    return tuple(items), unixfrom


def _field(lines: list[str]) -> tuple[str, str]:
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(lines[1:])
    return name, value.rstrip("\r\n")


def clear_part_caches() -> None:
    _header_items.cache_clear()


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
