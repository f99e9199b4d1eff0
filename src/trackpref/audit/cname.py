"""CNAME cloaking: a tracker behind one of the site's own names.

A site can point ``metrics.shop.example`` at a tracker with a DNS CNAME. The
browser then sees a first-party host: the tracker's requests carry the site's
cookies, slip past third-party cookie rules, and an auditor that tells sites
apart by name counts its identifiers as the site talking to itself.

So the auditor resolves the CNAME chain of every host of the audited site
that took part in a visit, and a host whose chain reaches a *known tracker*
(learned across the crawl or listed in an imported tracker file) is treated
as that tracker: a third party, named after the site its chain ends in. A
chain that ends at a CDN or a hosting provider is the ordinary way to serve a
site and changes nothing, which is why only known trackers count.

The lookups use dnspython's asyncio resolver, with the system's resolver
configuration or a given ``host:port`` (``trackpref audit --dns-server``);
each chain is followed for at most :data:`MAX_CHAIN` names, and a name that
does not resolve, or times out, is simply not cloaked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import dns.asyncresolver
import dns.exception

from .site_parties import site_key

__all__ = ["MAX_CHAIN", "MAX_HOSTS", "cloaked_hosts", "resolve_cname_chains"]

#: CNAME hops followed per host.
MAX_CHAIN = 8
#: Hosts of one site resolved, at most (a page that names hundreds of its own
#: subdomains is not worth hundreds of lookups).
MAX_HOSTS = 50


def _resolver(server: tuple[str, int] | None, timeout: float) -> dns.asyncresolver.Resolver:
    if server is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


async def _chain(resolver: dns.asyncresolver.Resolver, host: str) -> tuple[str, ...]:
    chain: list[str] = []
    name = host
    for _ in range(MAX_CHAIN):
        try:
            answer = await resolver.resolve(name, "CNAME", raise_on_no_answer=False)
        except (dns.exception.DNSException, OSError, ValueError):
            break
        targets = [str(rr.target).rstrip(".").lower() for rr in answer if hasattr(rr, "target")]
        if not targets or targets[0] in chain or targets[0] == host:
            break
        chain.append(targets[0])
        name = targets[0]
    return tuple(chain)


async def resolve_cname_chains(
    hosts: Iterable[str],
    *,
    server: tuple[str, int] | None = None,
    timeout: float = 2.0,
) -> dict[str, tuple[str, ...]]:
    """The CNAME chain of each host (targets in order), for hosts that have one."""
    wanted = sorted(set(hosts))[:MAX_HOSTS]
    if not wanted:
        return {}
    resolver = _resolver(server, timeout)
    chains = await asyncio.gather(*(_chain(resolver, h) for h in wanted))
    return {h: c for h, c in zip(wanted, chains, strict=True) if c}


def cloaked_hosts(
    chains: Mapping[str, tuple[str, ...]], site: str, is_tracker: Callable[[str], bool]
) -> Mapping[str, tuple[str, ...]]:
    """The hosts of ``site`` whose chain reaches a known tracker of another site.

    The chain is kept up to and including its first tracker name: that is the
    party the host stands for.
    """
    out: dict[str, tuple[str, ...]] = {}
    for host, chain in sorted(chains.items()):
        if site_key(host) != site:
            continue
        for i, target in enumerate(chain):
            other = site_key(target)
            if other != site and (is_tracker(target) or is_tracker(other)):
                out[host] = chain[: i + 1]
                break
    return MappingProxyType(out)
