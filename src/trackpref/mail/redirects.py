"""Redirect-wrapped links: finding the destination a click tracker hides.

Click trackers either carry the destination in the open (a query parameter,
a percent-encoded path segment, base64 JSON) or keep it on their server behind
an opaque token. Only the first kind can be unwrapped; for the second the
cleaner leaves the link alone rather than guess.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import lru_cache
from urllib.parse import unquote

from .urls import URLParts, split_url

__all__ = ["embedded_url"]

_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")
#: Base64 of "http" and of a JSON object ('{"'): the only blobs worth decoding.
_B64_PREFIXES = ("aHR0c", "eyJ", "eyAi")
#: Decoded blobs larger than this are not parsed as JSON.
_MAX_BLOB = 16_384
_MAX_COMPONENTS = 32
#: Preferred parameter names, checked before any other parameter.
_TARGET_KEYS = (
    "url",
    "u",
    "q",
    "target",
    "redirect",
    "redirect_url",
    "redirect_uri",
    "destination",
    "dest",
    "link",
    "to",
    "href",
    "r",
)


def _absolute(value: str) -> str | None:
    """``value`` if it is an absolute web URL with a dotted host."""
    text = value.strip()
    if text[:7].lower() != "http://" and text[:8].lower() != "https://":
        return None
    parts = split_url(text)
    if parts is None or "." not in parts.host:
        return None
    return parts.url


def _from_text(value: str) -> str | None:
    """A URL carried in ``value`` once or twice percent-encoded."""
    found = _absolute(value)
    if found is None and "%" in value:
        once = unquote(value)
        found = _absolute(once)
        if found is None and "%" in once:
            found = _absolute(unquote(once))
    return found


def _json_url(obj: object, depth: int = 0) -> str | None:
    if depth > 3:
        return None
    if isinstance(obj, str):
        found = _absolute(obj)
        if found is None and obj.lstrip().startswith(("{", "[")) and len(obj) <= _MAX_BLOB:
            try:
                found = _json_url(json.loads(obj), depth + 1)
            except (ValueError, RecursionError):  # not JSON, or absurdly nested
                return None
        return found
    if isinstance(obj, dict):
        for value in obj.values():
            found = _json_url(value, depth + 1)
            if found:
                return found
    if isinstance(obj, list):
        for value in obj[:16]:
            found = _json_url(value, depth + 1)
            if found:
                return found
    return None


def _from_base64(value: str) -> str | None:
    """A URL inside a base64 blob: the blob itself, or a JSON value in it."""
    value = value.strip()
    if len(value) < 16 or len(value) > _MAX_BLOB * 2 or not value.startswith(_B64_PREFIXES):
        return None
    if not _B64_CHARS.issuperset(value):
        return None
    data = value.rstrip("=").replace("-", "+").replace("_", "/")
    data += "=" * (-len(data) % 4)
    try:
        blob = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return None
    plain = text.isprintable() and " " not in text
    found = _absolute(text) if plain else None
    if found is None and text.lstrip().startswith(("{", "[")):
        try:
            found = _json_url(json.loads(text))
        except (ValueError, RecursionError):  # not JSON, or absurdly nested
            return None
    return found


def _may_carry(parts: URLParts) -> bool:
    """Can the path or query hold a URL at all? Most links and images cannot.

    Every form looked for below shows in the raw text: a scheme (``http``, in
    any case), percent-encoding, or the start of a base64 blob.
    """
    raw = parts.path + "?" + parts.raw_query
    return "%" in raw or "http" in raw.lower() or any(prefix in raw for prefix in _B64_PREFIXES)


@lru_cache(maxsize=32768)
def embedded_url(parts: URLParts) -> tuple[str, str] | None:
    """The URL this one carries, and where it was found (for the report)."""
    if not _may_carry(parts):
        return None
    query = parts.query
    by_key = {key.lower(): value for key, value in reversed(query)}
    for key in _TARGET_KEYS:
        value = by_key.get(key)
        if value:
            found = _from_text(value)
            if found:
                return found, f"query parameter {key!r}"
    for count, (key, value) in enumerate(query):
        if count >= _MAX_COMPONENTS:
            break
        found = _from_text(value) if value else None
        if found:
            return found, f"query parameter {key!r}"
    lowered = parts.path.lower()
    for scheme in ("/https://", "/http://", "/https:/", "/http:/"):
        at = lowered.find(scheme)
        if at != -1:
            path_start = parts.url.find("/", parts.url.find("//") + 2)
            rest = parts.url[path_start + at + 1 :]
            fixed = rest if "://" in rest[:8] else rest.replace(":/", "://", 1)
            found = _absolute(fixed)
            if found:
                return found, "path"
    for count, segment in enumerate(parts.segments):
        if count >= _MAX_COMPONENTS:
            break
        found = _from_text(segment) if "%" in segment else None
        if found:
            return found, "percent-encoded path segment"
    # Standard base64 may contain "/", which splits it over several path
    # segments: try the longest tails of the path first.
    segments = parts.segments
    for i in range(max(0, len(segments) - 6), len(segments) - 1):
        if segments[i].startswith(_B64_PREFIXES):
            found = _from_base64(unquote("/".join(segments[i:])))
            if found:
                return found, "base64-encoded path"
    components = [*segments, *(v for _, v in query)]
    for count, component in enumerate(components):
        if count >= _MAX_COMPONENTS:
            break
        if not component.startswith(_B64_PREFIXES):
            continue
        found = _from_base64(unquote(component))
        if found:
            return found, "base64-encoded token"
    return None
