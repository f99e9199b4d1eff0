"""Per-recipient tokens: the part of a URL that says who opened or clicked.

A tracking pixel is only worth the name if its URL differs per recipient. That
shows in three ways, checked here without looking at the rest of the message:
the recipient's own address (plain, hashed or base64-encoded) in the URL; an
opaque, high-entropy path or query segment; or, across copies of a campaign,
a component that changes from one recipient to the next (``campaigns``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, unquote

from .urls import URLParts

__all__ = [
    "IMAGE_EXTENSIONS",
    "NO_RECIPIENTS",
    "RecipientForms",
    "clear_token_caches",
    "could_vary",
    "entropy",
    "find_recipient",
    "is_digest_name",
    "is_slug",
    "is_token",
    "recipient_forms",
    "split_extension",
    "url_components",
]

IMAGE_EXTENSIONS = frozenset({"gif", "png", "jpg", "jpeg", "webp", "svg", "bmp", "ico", "avif"})

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.~%+")
_HEX = frozenset("0123456789abcdefABCDEF")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")
_SEPARATORS = "-_."
#: Components longer than this are judged on their first part only.
_MAX_JUDGED = 2048
#: Base64 of a JSON object starts like this; only such blobs are decoded in search
#: of an address (the encoded forms of the bare address are matched literally).
_JSON_B64 = ("ey", "eyJ")
#: How many components of one URL are base64-decoded in search of an address.
_MAX_DECODES = 16


def entropy(value: str) -> float:
    """Shannon entropy in bits per character (0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum((c / n) * math.log2(c / n) for c in Counter(value).values())


def split_extension(segment: str) -> tuple[str, str]:
    """``("logo", "png")`` for ``logo.png``; the extension is lower-cased."""
    stem, dot, ext = segment.rpartition(".")
    if dot and stem and 0 < len(ext) <= 5 and ext.isalnum():
        return stem, ext.lower()
    return segment, ""


def _is_word_part(part: str) -> bool:
    if not part:
        return True
    if part.isalpha():
        # words are lower case, Capitalised or UPPER; random base64 mixes case
        return part.islower() or part.isupper() or part.istitle()
    if part.isdigit():
        return len(part) <= 4
    if len(part) <= 3 and part.isalnum():
        return True
    # sizes such as 600x600 or 2x
    left, x, right = part.lower().partition("x")
    return bool(x) and (left.isdigit() or not left) and (right.isdigit() or not right)


def is_slug(value: str) -> bool:
    """Human-made names (``spring-sale-hero_v2``): words, short numbers, sizes.

    Slugs are the same for every recipient, so they are never tokens even when
    they are long and varied.
    """
    parts = [p for p in _split_separators(value) if p]
    if len(parts) < 2:
        return False
    return all(_is_word_part(p) for p in parts) and any(p.isalpha() for p in parts)


def _split_separators(value: str) -> list[str]:
    out = [value]
    for sep in _SEPARATORS:
        out = [piece for chunk in out for piece in chunk.split(sep)]
    return out


@lru_cache(maxsize=65536)
def is_token(value: str) -> bool:
    """An opaque identifier: long, random-looking, not a word or a slug.

    Thresholds: hex with letters and digits from 10 characters (Mailchimp's
    ``e=`` is 10 hex digits), digits alone from 16 (timestamps and product
    numbers are shorter), mixed letters and digits from 16 with at least 3 bits
    of entropy per character, long base64 without digits from 22.
    """
    stem, _ = split_extension(value.strip()[:_MAX_JUDGED])
    n = len(stem)
    if n < 10 or not _TOKEN_CHARS.issuperset(stem):
        return False
    has_digit = any(c.isdigit() for c in stem)
    has_lower = any(c.islower() for c in stem)
    has_upper = any(c.isupper() for c in stem)
    if _HEX.issuperset(stem) and has_digit and (has_lower or has_upper):
        return True
    if stem.isdigit():
        return n >= 16
    if is_slug(stem):
        return False
    if n >= 16 and has_digit and (has_lower or has_upper) and entropy(stem) >= 3.0:
        return True
    return n >= 22 and has_lower and has_upper and entropy(stem) >= 3.8


def is_digest_name(segment: str) -> bool:
    """An asset-pipeline file name: words, then a content digest (``spacer-5c0e1c8a.gif``).

    The digest names the file's content, which is the same for every recipient.
    """
    stem, ext = split_extension(segment)
    if ext not in IMAGE_EXTENSIONS:
        return False
    for sep in _SEPARATORS:
        head, found, digest = stem.rpartition(sep)
        if found and head and len(digest) >= 8 and all(c in _HEX for c in digest):
            words = [p for p in _split_separators(head) if p]
            return bool(words) and all(p.isalpha() and _is_word_part(p) for p in words)
    return False


@lru_cache(maxsize=65536)
def could_vary(value: str) -> bool:
    """Could this component be a per-recipient token if it changed between copies?

    Looser than ``is_token`` (a change between copies is itself evidence), but
    still never a slug or a plain word, so personalised product names do not
    count.
    """
    stem, _ = split_extension(value.strip()[:_MAX_JUDGED])
    if len(stem) < 6 or not _TOKEN_CHARS.issuperset(stem) or is_slug(stem):
        return False
    has_digit = any(c.isdigit() for c in stem)
    mixed_case = any(c.islower() for c in stem) and any(c.isupper() for c in stem)
    return has_digit or mixed_case


def url_components(parts: URLParts) -> list[str]:
    """The path segments and query values of a URL, where tokens live."""
    out = list(parts.segments)
    out.extend(value for _, value in parts.query if value)
    # A bare token as the whole query (``open.aspx?ffcb10-...``) parses as a key.
    out.extend(key for key, value in parts.query if not value and key)
    return out


@dataclass(frozen=True, slots=True)
class RecipientForms:
    """The spellings of the recipients' addresses a tracker might put in a URL.

    ``needles`` are searched in the lower-cased URL (addresses and hex digests
    are case-insensitive); ``exact`` in the URL as written (base64 is not).
    """

    needles: tuple[tuple[str, str], ...] = ()
    exact: tuple[tuple[str, str], ...] = ()
    addresses: tuple[bytes, ...] = ()
    #: Kept: the forms are part of the key of every recipient lookup.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.needles, self.exact, self.addresses)))

    def __hash__(self) -> int:
        return self._hash

    def __bool__(self) -> bool:
        return bool(self.addresses)


NO_RECIPIENTS = RecipientForms()


def recipient_forms(addresses: Iterable[str]) -> RecipientForms:
    # Remembered: a mailbox is one person's, and the same few addresses recur
    # in every message (hashing them three ways each time is most of the cost).
    key = tuple(addresses)
    if len(key) <= _MAX_CACHED_ADDRESSES:
        return _recipient_forms(key)
    return _recipient_forms.__wrapped__(key)


#: Messages with more recipients than this are not remembered.
_MAX_CACHED_ADDRESSES = 16


@lru_cache(maxsize=1024)
def _recipient_forms(addresses: tuple[str, ...]) -> RecipientForms:
    needles: dict[str, str] = {}
    exact: dict[str, str] = {}
    raw: list[bytes] = []
    for address in addresses:
        address = address.strip()
        if "@" not in address or len(address) > 320:
            continue
        lower = address.lower()
        raw.append(lower.encode("utf-8", "surrogatepass"))
        needles.setdefault(lower, "recipient's address")
        needles.setdefault(quote(lower, safe="").lower(), "recipient's address (URL-encoded)")
        for spelling in dict.fromkeys((lower, address)):  # in this order, once each
            data = spelling.encode("utf-8", "surrogatepass")
            for name, fn in (
                ("MD5", hashlib.md5),
                ("SHA-1", hashlib.sha1),
                ("SHA-256", hashlib.sha256),
            ):
                digest = fn(data, usedforsecurity=False).hexdigest()
                needles.setdefault(digest, f"{name} of the recipient's address")
            for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
                text = encoded.decode("ascii").rstrip("=")
                exact.setdefault(text, "recipient's address in base64")
    return RecipientForms(
        needles=tuple(needles.items()), exact=tuple(exact.items()), addresses=tuple(raw)
    )


def clear_token_caches() -> None:
    for cached in (is_token, could_vary, _recipient_forms, _found_recipient):
        cached.cache_clear()


def _b64decode(value: str) -> bytes | None:
    if len(value) < 16 or not value.startswith(_JSON_B64) or not _B64_CHARS.issuperset(value):
        return None
    data = value.rstrip("=").replace("-", "+").replace("_", "/")
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None


def find_recipient(parts: URLParts, forms: RecipientForms) -> str | None:
    """How the URL names a recipient, or ``None``.

    Besides the literal forms, base64 JSON components (``eyJ...``) are
    decoded, so that an address inside an encoded blob is found too.
    """
    if not forms:
        return None
    if len(parts.url) <= _MAX_CACHED_URL:
        return _found_recipient(parts, forms)
    return _found_recipient.__wrapped__(parts, forms)


#: Answers for URLs up to this length are remembered, per set of recipients:
#: a sender's logo and links recur in every message a person gets from it.
_MAX_CACHED_URL = 2048


@lru_cache(maxsize=32768)
def _found_recipient(parts: URLParts, forms: RecipientForms) -> str | None:
    url = parts.url
    lowered = url.lower()
    decoded = unquote(url).lower() if "%" in url else lowered
    for needle, how in forms.needles:
        if needle in lowered or needle in decoded:
            return how
    for needle, how in forms.exact:
        if needle in url:
            return how
    if "ey" not in url and "%" not in url:
        return None  # no component can start like base64 JSON
    for count, component in enumerate(url_components(parts)):
        if count >= _MAX_DECODES:
            break
        if not component.startswith(_JSON_B64):
            continue
        blob = _b64decode(unquote(component)[:_MAX_JUDGED])
        if blob is None:
            continue
        blob = blob.lower()
        if any(address in blob for address in forms.addresses):
            return "recipient's address in a base64-encoded token"
    return None
