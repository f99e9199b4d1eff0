"""One raw message read with the standard ``email`` package, defensively.

Only the parts a reader sees as text are decoded: ``text/html`` and
``text/plain`` that are not attachments. Images, PDFs and archives are never
decoded, however large. Every problem becomes a sentence in ``errors`` (which
part, which charset, which limit), and reading goes on with what can be read.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import quopri
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .parts import plain_parts

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "ParsedMessage",
    "TextPart",
    "clear_header_caches",
    "decode_text",
    "header_text",
    "parse_message",
]

#: Header values up to this length are remembered (``header_text`` and friends).
_MAX_CACHED = 2048
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep one hostile message from stalling a scan.

    ``max_message_bytes``: larger messages are reported and skipped (their
    attachments are the bulk, and a 64 MiB newsletter is not a newsletter).
    ``max_text_chars``: only this much of a decoded text part is parsed; the
    cleaner leaves a part it could not read completely untouched.
    """

    max_message_bytes: int = 64 * 1024 * 1024
    max_text_chars: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class TextPart:
    subtype: str
    text: str
    number: int
    complete: bool


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str | None
    sender: str | None
    sender_address: str | None
    subject: str | None
    list_id: str | None
    sent_day: str | None
    recipients: tuple[str, ...]
    list_unsubscribe: tuple[str, ...]
    parts: tuple[TextPart, ...]
    errors: tuple[str, ...]


def header_text(value: object) -> str | None:
    """A header as readable text, RFC 2047 words decoded, never raising."""
    if value is None:
        return None
    raw = str(value)
    return _header_text(raw) if len(raw) <= _MAX_CACHED else _header_text.__wrapped__(raw)


@lru_cache(maxsize=4096)
def _header_text(raw: str) -> str | None:
    # Cached: a sender's From, a campaign's Subject recur in every copy.
    if "=?" not in raw and raw.isascii():  # nothing encoded: skip the slow path
        return " ".join(raw.split()) or None
    try:
        text = str(email.header.make_header(email.header.decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        text = raw
    text = " ".join(text.split())
    return text.encode("utf-8", "replace").decode("utf-8") or None


class _Fields:
    """``get`` and ``get_all`` over a message's own headers, indexed in one pass.

    ``Message.get`` walks every header for each name asked, and a scan asks
    for a dozen names; the values come out exactly as ``Message`` gives them
    (through its policy's ``header_fetch_parse``).
    """

    __slots__ = ("_fetch", "_index")

    def __init__(self, msg: email.message.Message) -> None:
        self._fetch = msg.policy.header_fetch_parse
        index: dict[str, list[tuple[str, str]]] = {}
        for name, value in msg.raw_items():
            index.setdefault(name.lower(), []).append((name, value))
        self._index = index

    def get(self, name: str) -> object:
        found = self._index.get(name.lower())
        return self._fetch(*found[0]) if found else None

    def get_all(self, name: str) -> list[object]:
        return [self._fetch(key, value) for key, value in self._index.get(name.lower(), ())]


def _addresses(msg: _Fields, names: tuple[str, ...]) -> list[str]:
    values: list[str] = []
    for name in names:
        values.extend(str(v) for v in msg.get_all(name))
    if sum(map(len, values)) <= _MAX_CACHED:
        return list(_address_list(tuple(values)))
    return list(_address_list.__wrapped__(tuple(values)))


@lru_cache(maxsize=4096)
def _address_list(values: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: the same sender and the same few recipients recur message after message.
    try:
        pairs = email.utils.getaddresses(list(values))
    except Exception:  # getaddresses has raised on malformed input in some releases
        return ()
    return tuple(addr for _, addr in pairs if "@" in addr)


def _list_unsubscribe(msg: _Fields) -> tuple[str, ...]:
    value = header_text(msg.get("List-Unsubscribe")) or ""
    urls = []
    for piece in value.split(","):
        piece = piece.strip().strip("<>").strip()
        if piece.lower().startswith(("http://", "https://")):
            urls.append(piece)
    return tuple(urls)


def _sent_day(value: object) -> str | None:
    """The UTC day a message was sent, or ``None`` if its ``Date`` is unusable."""
    if value is None:
        return None
    raw = str(value)
    return _utc_day(raw) if len(raw) <= _MAX_CACHED else _utc_day.__wrapped__(raw)


@lru_cache(maxsize=4096)
def _utc_day(value: str) -> str | None:
    # Cached: copies of a campaign are usually sent with one Date.
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return when.date().isoformat()
    return when.astimezone(datetime.UTC).date().isoformat()


def clear_header_caches() -> None:
    for cached in (_header_text, _address_list, _utc_day, _text_facts_of):
        cached.cache_clear()


def decode_text(payload: bytes, charset: str | None) -> tuple[str, str, str | None]:
    """Bytes to text without losing a byte: ``(text, codec used, problem)``.

    Undecodable bytes become surrogates (``surrogateescape``), so encoding the
    text back with the codec used gives the original bytes; an unknown
    charset is read as Latin-1, which maps every byte and keeps the ASCII
    markup intact.
    """
    name = (charset or "").strip().lower() or None
    if name is not None:
        try:
            text, clean = _decode(payload, name)
        except LookupError:
            return (
                payload.decode("latin-1"),
                "latin-1",
                (f"unknown charset {charset!r}; read as Latin-1 so the markup could be scanned"),
            )
        except ValueError as exc:  # codecs without surrogateescape support, NUL in names
            problem = f"charset {charset!r} failed ({exc}); read as Latin-1"
            return payload.decode("latin-1"), "latin-1", problem[:300]
        if not clean:
            return (
                text,
                name,
                f"bytes not valid in the declared charset {charset!r}; kept as they are",
            )
        return text, name, None
    text, clean = _decode(payload, "utf-8")
    if not clean:
        return text, "utf-8", "no charset declared and the bytes are not UTF-8; kept as they are"
    return text, "utf-8", None


def _decode(payload: bytes, name: str) -> tuple[str, bool]:
    """The text, and whether every byte decoded (no escaped bytes in it)."""
    text = payload.decode(name, "surrogateescape")
    return text, not _has_surrogates(text)


def _has_surrogates(text: str) -> bool:
    if text.isascii():  # O(1): most bodies are ASCII with entities
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _defect_text(where: str, defect: object) -> str:
    name = type(defect).__name__
    detail = str(defect)
    return f"{where}: broken MIME ({name}{': ' + detail if detail else ''})"[:300]


class _Part(NamedTuple):
    """A part in ``walk()`` order, with what ``_parse`` asks of it."""

    number: int
    headers: email.message.Message
    content_type: str
    #: The raw (still transfer-encoded) body of a text part located by
    #: ``plain_parts``; ``None`` where ``email`` holds the payload.
    body: bytes | None = None
    #: The header fields, where ``plain_parts`` read them (a cache key).
    fields: tuple[tuple[str, str], ...] | None = None


def _read(raw: bytes) -> tuple[email.message.Message, Iterable[_Part]]:
    """The message's headers and its parts in ``walk()`` order, numbered.

    A message whose structure is plain is located with ``parts.plain_parts``
    and only its text parts get a body (the raw bytes, decoded later exactly
    as ``email`` decodes them); any other message is read by ``email`` whole.
    """
    plain = plain_parts(raw)
    if plain is None:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        return msg, (_Part(n, part, part.get_content_type()) for n, part in enumerate(msg.walk()))
    walk: list[_Part] = []
    for part in plain:
        body = None
        if part.content_type in ("text/html", "text/plain"):
            body = raw[part.body_start : part.body_end]
        elif part.content_type.startswith("multipart/"):
            part.headers.set_payload([])  # is_multipart(), as ``email`` has it
        walk.append(_Part(part.number, part.headers, part.content_type, body, part.fields))
    return plain[0].headers, walk


class _TextFacts(NamedTuple):
    """What ``_parse`` reads of a text part's headers."""

    disposition: str | None
    charset: str | None
    #: ``Content-Transfer-Encoding`` as ``get_payload`` reads it, and as checked.
    encoding: str
    encoding_checked: str


def _text_facts(part: email.message.Message) -> _TextFacts:
    disposition = part.get_content_disposition()
    # An attachment is skipped before anything else is read of it.
    charset = None if disposition == "attachment" else part.get_content_charset()
    return _TextFacts(
        disposition,
        charset,
        str(part.get("content-transfer-encoding", "")).lower(),
        str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower(),
    )


@lru_cache(maxsize=1024)
def _text_facts_of(fields: tuple[tuple[str, str], ...]) -> _TextFacts:
    # Cached: a sender's text parts carry the same few headers in every message.
    part = email.message.Message(policy=email.policy.compat32)
    for name, value in fields:
        part.set_raw(name, value)
    return _text_facts(part)


_UUENCODE = ("x-uuencode", "uuencode", "uue", "x-uue")


def _payload(part: email.message.Message, body: bytes | None, cte: str) -> object:
    """``part.get_payload(decode=True)``, from the raw body where there is one.

    ``cte`` is the ``Content-Transfer-Encoding`` as ``get_payload`` reads it.
    ``email`` would turn the body into text and back to bytes first (a copy
    of each text part, twice); the decoding itself is the same calls on the
    same bytes. The defects ``email`` notes while decoding are not read by
    anyone, here or there. Anything unusual is left to ``email`` itself.
    """
    if body is None:
        return part.get_payload(decode=True)
    if cte == "quoted-printable":
        return quopri.decodestring(body)
    if cte == "base64":
        # ``email._encoded_words.decode_b``'s first try; it tries harder
        # only where this one fails.
        data = b"".join(body.splitlines())
        padding = b"==="[: 4 - len(data) % 4] if len(data) % 4 else b""
        try:
            return base64.b64decode(data + padding, validate=True)
        except binascii.Error:
            pass
    elif cte not in _UUENCODE:
        return body
    part.set_payload(body)
    return part.get_payload(decode=True)


def parse_message(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedMessage:
    try:
        return _parse(raw, limits)
    except RecursionError:
        # The email package recurses once per nesting level of multiparts.
        problem = "MIME parts are nested too deeply to be read; not scanned"
        return ParsedMessage(None, None, None, None, None, None, (), (), (), (problem,))


def _parse(raw: bytes, limits: Limits) -> ParsedMessage:
    errors: list[str] = []
    if len(raw) > limits.max_message_bytes:
        size = len(raw) / 1024 / 1024
        cap = limits.max_message_bytes / 1024 / 1024
        return ParsedMessage(
            None, None, None, None, None, None, (), (), (),
            (f"message is {size:.1f} MiB, over the {cap:.0f} MiB limit; not scanned",),
        )  # fmt: skip
    msg, walk = _read(raw)
    headers = _Fields(msg)
    sender = header_text(headers.get("From"))
    senders = _addresses(headers, ("from",))
    parts: list[TextPart] = []
    for defect in msg.defects:
        errors.append(_defect_text("message", defect))
    for number, part, ctype, body, fields in walk:
        if number:
            for defect in part.defects:
                errors.append(_defect_text(f"part {number}", defect))
        if part.is_multipart():
            continue
        if ctype not in ("text/html", "text/plain"):
            continue
        facts = _text_facts(part) if fields is None else _text_facts_of(fields)
        if facts.disposition == "attachment":
            continue
        label = f"part {number} ({ctype})"
        payload = _payload(part, body, facts.encoding)
        if not isinstance(payload, bytes):
            errors.append(f"{label}: body could not be decoded")
            continue
        cte = facts.encoding_checked
        if cte not in ("7bit", "8bit", "binary", "base64", "quoted-printable", ""):
            errors.append(f"{label}: unknown Content-Transfer-Encoding {cte!r}; read as-is")
        text, _, problem = decode_text(payload, facts.charset)
        if problem:
            errors.append(f"{label}: {problem}")
        complete = True
        if len(text) > limits.max_text_chars:
            errors.append(
                f"{label}: {len(text):,} characters, over the {limits.max_text_chars:,}-character"
                " limit; only the start was scanned and the part is not cleaned"
            )
            text = text[: limits.max_text_chars]
            complete = False
        parts.append(TextPart(ctype.split("/")[1], text, number, complete))
    return ParsedMessage(
        message_id=header_text(headers.get("Message-ID")),
        sender=sender,
        sender_address=senders[0].lower() if senders else None,
        subject=header_text(headers.get("Subject")),
        list_id=header_text(headers.get("List-Id")),
        sent_day=_sent_day(headers.get("Date")),
        recipients=tuple(_addresses(headers, _RECIPIENT_HEADERS)),
        list_unsubscribe=_list_unsubscribe(headers),
        parts=tuple(parts),
        errors=tuple(errors),
    )
