"""URLs found in mail, split once into the pieces the detectors look at.

Mail is hostile input: a ``src`` or ``href`` can be anything, and ``urllib``
raises on some of it (a broken IPv6 literal, an out-of-range port). Every
function here answers ``None`` instead of raising, so one bad attribute costs
one URL, never the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

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


@dataclass(frozen=True, slots=True)
class URLParts:
    """An absolute http(s) URL (or a scheme-relative one) taken apart.

    ``segments`` keep their percent-encoding, because tokens and wrapped URLs
    are recognised in both forms; ``query`` is decoded by ``parse_qsl``.
    """

    url: str
    scheme: str
    host: str
    path: str
    segments: tuple[str, ...]
    raw_query: str
    query: tuple[tuple[str, str], ...]

    @property
    def query_keys(self) -> frozenset[str]:
        return frozenset(key.lower() for key, _ in self.query)


@lru_cache(maxsize=32768)
def split_url(url: str) -> URLParts | None:
    """Take a web URL apart; ``None`` for anything that is not one.

    Cached: a campaign's URLs recur in every copy and in both alternatives.
    """
    value = url.strip()
    if not value or len(value) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "") or not host:
        return None
    if scheme == "" and not value.startswith("//"):
        return None
    host = host.rstrip(".")
    if not host or not set(host).isdisjoint(" \t\r\n\f\v"):
        return None
    try:
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    except ValueError:
        query = ()
    segments = tuple(s for s in parts.path.split("/") if s)
    return URLParts(
        url=value,
        scheme=scheme,
        host=host,
        path=parts.path,
        segments=segments,
        raw_query=parts.query,
        query=query,
    )


@lru_cache(maxsize=1)
def _psl() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """The site a host belongs to (``u1.ct.sendgrid.net`` -> ``sendgrid.net``).

    Falls back to the host itself for names the Public Suffix List cannot place
    (``localhost``, a bare suffix), so two such hosts are the same site only if
    they are equal.
    """
    host = host.lower().rstrip(".")
    try:
        found = _psl().privatesuffix(host)  # type: ignore[attr-defined]
    except Exception:  # the list raises on odd labels; treat them as opaque
        found = None
    return found if isinstance(found, str) and found else host


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
