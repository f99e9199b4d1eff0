"""URLs found in mail, split once into the pieces the detectors look at.

Mail is hostile input: a ``src`` or ``href`` can be anything, and ``urllib``
raises on some of it (a broken IPv6 literal, an out-of-range port). Every
function here answers ``None`` instead of raising, so one bad attribute costs
one URL, never the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ..signals.errors import SignalError
from ..signals.parties import site_of

__all__ = [
    "MAX_URL_CHARS",
    "URLParts",
    "registrable_domain",
    "same_site",
    "split_url",
    "strip_query_keys",
]

#: Longer values are not URLs anyone clicks; analysing them only costs time.
MAX_URL_CHARS = 16_384


@dataclass(frozen=True, slots=True, eq=False)
class URLParts:
    """An absolute http(s) URL (or a scheme-relative one) taken apart.

    ``segments`` keep their percent-encoding, because tokens and wrapped URLs
    are recognised in both forms; ``query`` is decoded by ``parse_qsl``.

    Two parts are equal when their URLs are: every other field is computed
    from ``url`` by ``split_url``. The caches keyed by parts then hash one
    string (whose hash Python keeps) instead of every segment and parameter.
    """

    url: str
    scheme: str
    host: str
    path: str
    segments: tuple[str, ...]
    raw_query: str
    query: tuple[tuple[str, str], ...]
    #: The query's keys, lower-cased; asked for by every endpoint lookup.
    query_keys: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_keys", frozenset([key.lower() for key, _ in self.query]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, URLParts):
            return NotImplemented
        return self.url == other.url

    def __hash__(self) -> int:
        return hash(self.url)


def _split_plain(value: str) -> tuple[str, str, str, str | None] | None:
    """``(scheme, path, query, hostname)`` as ``urlsplit`` gives them, for a plain URL.

    Plain: printable ASCII, ``http://``, ``https://`` or ``//``, and a host
    without user info, brackets or a ``%``. Those are most of the URLs in mail,
    and for them ``urlsplit`` does only what is done here, at a third of the
    cost; ``None`` sends everything else to ``urlsplit`` (tests compare the two).
    """
    if not (value.isascii() and value.isprintable()):
        return None
    head = value[:8].lower()
    if head == "https://":
        scheme, rest = "https", value[8:]
    elif head.startswith("http://"):
        scheme, rest = "http", value[7:]
    elif head.startswith("//"):
        scheme, rest = "", value[2:]
    else:
        return None
    end = len(rest)
    for delimiter in "/?#":
        at = rest.find(delimiter)
        if at != -1 and at < end:
            end = at
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc or "[" in netloc or "]" in netloc or "%" in netloc:
        return None
    path, _, query = tail.partition("#")[0].partition("?")
    host = netloc.partition(":")[0]
    return scheme, path, query, (host.lower() or None)


def _split_general(value: str) -> tuple[str, str, str, str | None] | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    return parts.scheme.lower(), parts.path, parts.query, host


def _parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    """``parse_qsl(raw, keep_blank_values=True)``, without its per-pair overhead.

    Every URL in a message is split, and most carry a query: this loop does
    what ``parse_qsl`` does for these arguments (``&`` only, ``+`` is a space,
    UTF-8 with replacement), calling ``unquote`` only where there is a ``%``
    (tests compare the two).
    """
    out = []
    for pair in raw.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = name.replace("+", " ")
        value = value.replace("+", " ")
        if "%" in name:
            name = unquote(name)
        if "%" in value:
            value = unquote(value)
        out.append((name, value))
    return tuple(out)


def _has_blank(host: str) -> bool:
    return (
        " " in host or "\t" in host or "\n" in host or "\r" in host or "\f" in host or "\v" in host
    )


@lru_cache(maxsize=32768)
def split_url(url: str) -> URLParts | None:
    """Take a web URL apart; ``None`` for anything that is not one.

    Cached: a campaign's URLs recur in every copy and in both alternatives.
    """
    value = url.strip()
    if not value or len(value) > MAX_URL_CHARS:
        return None
    split = _split_plain(value) or _split_general(value)
    if split is None:
        return None
    scheme, path, raw_query, host = split
    if scheme not in ("http", "https", "") or not host:
        return None
    if scheme == "" and not value.startswith("//"):
        return None
    host = host.rstrip(".")
    if not host or _has_blank(host):
        return None
    query = _parse_query(raw_query) if raw_query else ()
    return URLParts(
        url=value,
        scheme=scheme,
        host=host,
        path=path,
        segments=tuple(filter(None, path.split("/"))),
        raw_query=raw_query,
        query=query,
    )


@lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """The site a host belongs to (``u1.ct.sendgrid.net`` -> ``sendgrid.net``).

    The signals core decides (one Public Suffix List for the whole project);
    a name it cannot place (``localhost``, a bare suffix, odd labels) is its
    own site, so two such hosts are the same site only if they are equal.
    """
    try:
        return site_of(host)
    except SignalError:
        return host.lower().rstrip(".")


def same_site(host_a: str, host_b: str) -> bool:
    return registrable_domain(host_a) == registrable_domain(host_b)


def strip_query_keys(url: str, keys: frozenset[str]) -> str:
    """``url`` without the query parameters named in ``keys`` (lower case).

    Works on the raw query string so that every other parameter keeps its exact
    spelling and encoding: the link a person lands on should be the link the
    sender meant, minus the part that identifies them.
    """
    head, sep, rest = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = rest.partition("#")
    kept = []
    for pair in query.split("&"):
        name = unquote(pair.partition("=")[0].replace("+", " ")).strip().lower()
        if name in keys:
            continue
        kept.append(pair)
    new_query = "&".join(p for p in kept if p)
    out = head + ("?" + new_query if new_query else "")
    return out + (hash_sep + fragment if hash_sep else "")
