"""Who is a third party on the audited site.

The core decides sites by registrable domain (:mod:`trackpref.signals.parties`).
An audit adds two things it learns along the way: the site's own TSR may name
``same-party`` domains, and an imported tracker file (DuckDuckGo's TDS) may say
that two domains belong to one entity. A flow to such a domain is not a flow to
a third party, and counting it as one would blame a site for talking to itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from trackpref.signals.errors import SignalError
from trackpref.signals.parties import domain_matches, normalize_host, site_of

__all__ = ["SiteParties", "host_of", "site_key"]


def host_of(url: str) -> str | None:
    """The normalized host of any URL, or None (data:, blob:, garbage)."""
    try:
        raw = urlsplit(url).hostname
    except ValueError:
        return None
    if not raw:
        return None
    try:
        return normalize_host(raw)
    except SignalError:
        return None


def site_key(host: str) -> str:
    """The site of a host; a host the core refuses is its own site."""
    try:
        return site_of(host)
    except SignalError:
        return host.lower()


_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SiteParties:
    """The audited site's party: its site key, declared same-party domains, and
    entity names from an imported tracker file (domain -> entity)."""

    site: str
    same_party: tuple[str, ...] = ()
    entities: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def for_url(
        cls,
        url: str,
        *,
        same_party: tuple[str, ...] = (),
        entities: Mapping[str, str] = _EMPTY,
    ) -> SiteParties:
        host = host_of(url)
        return cls(site_key(host) if host else url, same_party, entities)

    def is_third_party(self, host: str) -> bool:
        key = site_key(host)
        if key == self.site:
            return False
        for domain in self.same_party:
            try:
                if domain_matches(host, domain):
                    return False
            except SignalError:
                continue
        mine = self.entities.get(self.site)
        return not (mine is not None and self.entities.get(key) == mine)

    def is_third_party_url(self, url: str) -> bool:
        host = host_of(url)
        return host is not None and self.is_third_party(host)
