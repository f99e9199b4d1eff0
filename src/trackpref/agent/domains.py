"""Domain-suffix lookups: the prefilter every per-request decision goes through.

A tracker list, an entity map or an exception list answers "does this host, or
a domain it belongs to, appear here?". Walking the host's labels and doing one
dict lookup per suffix answers that in well under a microsecond whatever the
size of the list; a regular expression over the list would cost milliseconds
per request at the size of a real tracker list (``docs/proxy.md``).

Hosts must already be in canonical form (``trackpref.signals.parties.normalize_host``);
:func:`canonical_host` memoizes that, because the same few hundred hosts
recur on every page.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from ..signals.errors import SignalError
from ..signals.parties import normalize_host, site_of

__all__ = ["DomainMap", "DomainSet", "canonical_host", "host_site", "suffixes"]

V = TypeVar("V")


def suffixes(host: str, *, bare_tld: bool = False) -> Iterator[str]:
    """``a.b.example.com``, ``b.example.com``, ``example.com`` (and ``com`` with
    ``bare_tld``): the host and every parent domain, longest first."""
    yield host
    i = host.find(".")
    while i != -1:
        rest = host[i + 1 :]
        nxt = rest.find(".")
        if nxt == -1 and not bare_tld:
            return
        yield rest
        i = i + 1 + nxt if nxt != -1 else -1


class DomainMap(Generic[V]):
    """An immutable map from domains to values, searched by host suffix.

    A host matches a domain when it is that domain or a subdomain of it; the
    longest (most specific) matching domain wins. A bare top-level label never
    matches unless ``bare_tld`` is set: a list that named ``com`` would
    otherwise cover every ``.com`` host.
    """

    __slots__ = ("_bare_tld", "_map")

    def __init__(
        self, items: Mapping[str, V] | Iterable[tuple[str, V]] = (), *, bare_tld: bool = False
    ):
        pairs = items.items() if isinstance(items, Mapping) else items
        self._map: dict[str, V] = {str(k): v for k, v in pairs}
        self._bare_tld = bare_tld

    def __len__(self) -> int:
        return len(self._map)

    def __bool__(self) -> bool:
        return bool(self._map)

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and self.find(host) is not None

    def exact(self, domain: str) -> V | None:
        return self._map.get(domain)

    def domains(self) -> Iterator[str]:
        return iter(self._map)

    def find(self, host: str) -> tuple[str, V] | None:
        """The most specific ``(domain, value)`` the host falls under, or None."""
        m = self._map
        if not m:
            return None
        value = m.get(host)
        if value is not None:
            return host, value
        i = host.find(".")
        while i != -1:
            rest = host[i + 1 :]
            nxt = rest.find(".")
            if nxt == -1 and not self._bare_tld:
                return None
            value = m.get(rest)
            if value is not None:
                return rest, value
            i = i + 1 + nxt if nxt != -1 else -1
        return None

    def get(self, host: str) -> V | None:
        found = self.find(host)
        return None if found is None else found[1]


class DomainSet:
    """A set of domains, each covering its subdomains (a cookie domain-match)."""

    __slots__ = ("_map",)

    def __init__(self, domains: Iterable[str] = ()):
        self._map: DomainMap[bool] = DomainMap((d, True) for d in domains)

    def __len__(self) -> int:
        return len(self._map)

    def __bool__(self) -> bool:
        return bool(self._map)

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and self._map.find(host) is not None

    def __iter__(self) -> Iterator[str]:
        return self._map.domains()

    def covers(self, host: str | None) -> bool:
        return host is not None and bool(self._map) and self._map.find(host) is not None

    def any_of(self, *hosts: str | None) -> bool:
        # The empty set (the usual case: no switches configured) costs nothing.
        return bool(self._map) and any(
            h is not None and self._map.find(h) is not None for h in hosts
        )


@functools.lru_cache(maxsize=65536)
def canonical_host(raw: str) -> str | None:
    """``normalize_host`` memoized; None for anything that is not a host."""
    try:
        return normalize_host(raw)
    except SignalError:
        return None


@functools.lru_cache(maxsize=65536)
def host_site(host: str) -> str:
    """``site_of`` (registrable domain, or the host for a public suffix), memoized.

    ``host`` must be canonical.
    """
    return site_of(host)
