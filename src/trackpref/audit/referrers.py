"""Referrer leaks: the page's full URL, path and query included, reaching
another site.

A search page's URL carries what the person searched for. Browsers trim
cross-site ``Referer`` to the origin by default (``strict-origin-when-cross-origin``),
so a full URL at a third party means the site asked for it (a permissive
``Referrer-Policy``) or a script copied ``location.href`` into a request. Both
are sharing, and both are found here, the second by looking for the page's
URLs inside query strings and bodies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .observation import Observation
from .site_parties import SiteParties, host_of

__all__ = ["ReferrerLeak", "find_referrer_leaks", "leaked_parts"]

_MAX_SHOWN = 200


@dataclass(frozen=True, slots=True)
class ReferrerLeak:
    recipient: str
    leaked_url: str
    via: str
    #: ``name=value`` pairs of the leaked URL's query: the search terms, often.
    query_terms: tuple[str, ...]
    requests: int

    @property
    def severity(self) -> str:
        return "query" if self.query_terms else "path"


def leaked_parts(url: str, parties: SiteParties) -> tuple[str, tuple[str, ...]] | None:
    """If ``url`` is a first-party URL with more than an origin, return it and
    its query terms; otherwise None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    host = host_of(url)
    if host is None or parties.is_third_party(host):
        return None
    if parts.path in ("", "/") and not parts.query:
        return None
    terms = tuple(f"{k}={v}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return url[:_MAX_SHOWN], terms


def find_referrer_leaks(obs: Observation, parties: SiteParties) -> tuple[ReferrerLeak, ...]:
    found: dict[tuple[str, str, str], tuple[tuple[str, ...], set[int]]] = defaultdict(
        lambda: ((), set())
    )
    for index, request in enumerate(obs.requests):
        host = host_of(request.url)
        if host is None or not parties.is_third_party(host):
            continue
        recipient = parties.recipient(host)
        candidates: list[tuple[str, str]] = []
        referer = request.header("referer")
        if referer:
            candidates.append(("referer", referer))
        try:
            query = urlsplit(request.url).query
        except ValueError:
            query = ""
        for name, value in parse_qsl(query, keep_blank_values=False):
            if "://" in value:
                candidates.append((f"query:{name}", unquote(value) if "%" in value else value))
        if request.post_data:
            text = request.post_data[:16384].decode("utf-8", "replace")
            for name, value in parse_qsl(text, keep_blank_values=False):
                if "://" in value:
                    candidates.append((f"body:{name}", value))
        for via, url in candidates:
            leak = leaked_parts(url, parties)
            if leak is None:
                continue
            key = (recipient, leak[0], via)
            _, indexes = found[key]
            indexes.add(index)
            found[key] = (leak[1], indexes)
    return tuple(
        ReferrerLeak(recipient, url, via, terms, len(indexes))
        for (recipient, url, via), (terms, indexes) in sorted(found.items())
    )
