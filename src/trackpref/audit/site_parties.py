"""Who is a third party on the audited site.

The core decides sites by registrable domain (:mod:`trackpref.signals.parties`).
An audit adds two things it learns along the way: the site's own TSR may name
``same-party`` domains, and an imported tracker file (DuckDuckGo's TDS) may say
that two domains belong to one entity. A flow to such a domain is not a flow to
a third party, and counting it as one would blame a site for talking to itself.

A third thing puts flows back in: a host of the site that is a CNAME to a
known tracker (``cloaked``, see :mod:`.cname`) is that tracker, a third party.

The first two take flows out of the audit, so neither is taken on trust or silently:
the site's ``same-party`` list is filtered first (:func:`.site.same_party_of`),
the entries refused are kept in ``ignored_same_party``, and
:meth:`SiteParties.exemption` says why a host of another site was not counted,
for the evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from trackpref.signals.errors import SignalError
from trackpref.signals.parties import domain_matches, normalize_host, site_of

__all__ = ["SiteParties", "cloaked_hosts", "host_of", "site_key"]


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
_EMPTY_CHAINS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SiteParties:
    """The audited site's party: its site key, declared same-party domains, and
    entity names from an imported tracker file (domain -> entity)."""

    site: str
    same_party: tuple[str, ...] = ()
    entities: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    #: ``(domain, why)``: entries of the TSR's ``same-party`` that were not honored.
    ignored_same_party: tuple[tuple[str, str], ...] = ()
    #: Hosts of the site that are CNAMEs to a known tracker (:mod:`.cname`):
    #: host -> the chain up to the tracker's name. Such a host is that tracker.
    cloaked: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY_CHAINS)

    @classmethod
    def for_url(
        cls,
        url: str,
        *,
        same_party: tuple[str, ...] = (),
        entities: Mapping[str, str] = _EMPTY,
        ignored_same_party: tuple[tuple[str, str], ...] = (),
        cloaked: Mapping[str, tuple[str, ...]] | None = None,
    ) -> SiteParties:
        host = host_of(url)
        return cls(
            site_key(host) if host else url,
            same_party,
            entities,
            ignored_same_party,
            MappingProxyType(dict(cloaked or {})),
        )

    def recipient(self, host: str) -> str:
        """The party a request to ``host`` reaches: its site, or for a cloaked
        host the site of the tracker its CNAME chain leads to."""
        chain = self.cloaked.get(host)
        return site_key(chain[-1]) if chain else site_key(host)

    def exemption(self, host: str) -> tuple[str, str] | None:
        """Why ``host``, of another site, is not a third party, as ``(kind,
        reason)`` with kind ``same-party`` (the TSR) or ``same-entity`` (a
        tracker file); None when it is one, or is the audited site itself."""
        key = site_key(host)
        if key == self.site:
            return None
        for domain in self.same_party:
            try:
                if domain_matches(host, domain):
                    return "same-party", f"declared same-party ({domain!r}) in the site's TSR"
            except SignalError:
                continue
        mine = self.entities.get(self.site)
        if mine is not None and self.entities.get(key) == mine:
            return "same-entity", f"the same entity ({mine}) as the site in the tracker file"
        return None

    def is_third_party(self, host: str) -> bool:
        if host in self.cloaked:
            return True
        return site_key(host) != self.site and self.exemption(host) is None

    def is_third_party_url(self, url: str) -> bool:
        host = host_of(url)
        return host is not None and self.is_third_party(host)


def cloaked_hosts(
    chains: Mapping[str, tuple[str, ...]],
    site: str,
    is_tracker: Callable[[str], bool],
    *,
    pages: Iterable[str] = (),
    exempt: Callable[[str], bool] = lambda name: False,
) -> Mapping[str, tuple[str, ...]]:
    """The hosts of ``site`` whose chain reaches a known tracker of another site.

    Pure, so that the report can apply it again with the crawl's final
    knowledge (:mod:`.cname` resolves the chains).

    The chain is kept up to and including its first tracker name: that is the
    party the host stands for. The hosts of the pages themselves (``pages``)
    are never cloaked: a site served through a platform its tracker file
    lists would otherwise be a third party on its own pages. A target that
    is ``exempt`` (declared same-party, or the site's own entity) is the site.
    """
    own = set(pages)
    out: dict[str, tuple[str, ...]] = {}
    for host, chain in sorted(chains.items()):
        if site_key(host) != site or host in own:
            continue
        for i, target in enumerate(chain):
            other = site_key(target)
            if other == site or exempt(target):
                continue
            if is_tracker(target) or is_tracker(other):
                out[host] = chain[: i + 1]
                break
    return MappingProxyType(out)
