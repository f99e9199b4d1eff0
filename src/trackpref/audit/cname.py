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
each chain is followed for at most :data:`MAX_CHAIN` names, the hosts most
requested come first (at most :data:`MAX_HOSTS`), all lookups together are
bounded, and a name that does not resolve, or times out, is simply not
cloaked. The page's own host never is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import dns.asyncresolver
import dns.exception

from .site_parties import cloaked_hosts

__all__ = [
    "MAX_CHAIN",
    "MAX_HOSTS",
    "DNSSetupError",
    "check_resolver",
    "cloaked_hosts",
    "resolve_cname_chains",
]

#: CNAME hops followed per host.
MAX_CHAIN = 8
#: Hosts of one site resolved, at most (a page that names hundreds of its own
#: subdomains is not worth hundreds of lookups).
MAX_HOSTS = 50


class DNSSetupError(RuntimeError):
    """No resolver can be made (no ``/etc/resolv.conf``, or one without a nameserver)."""


def check_resolver(server: tuple[str, int] | None) -> None:
    """Raise :class:`DNSSetupError` now, before a crawl, if lookups could not run."""
    _resolver(server, 1.0)


def _resolver(server: tuple[str, int] | None, timeout: float) -> dns.asyncresolver.Resolver:
    if server is None:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.exception.DNSException as exc:  # NoResolverConfiguration and the like
            raise DNSSetupError(
                f"no DNS resolver is configured ({exc}); give --dns-server HOST[:PORT]"
            ) from None
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
    total: float | None = None,
) -> dict[str, tuple[str, ...]]:
    """The CNAME chain of each host (targets in order), for hosts that have one.

    ``hosts`` in order of importance: the first :data:`MAX_HOSTS` are
    resolved. Each lookup gets ``timeout``, all of them together ``total``
    (default: four lookups' worth); what is not resolved by then has no chain.
    A resolver that cannot be made resolves nothing (check it first with
    :func:`check_resolver` to say so).
    """
    wanted = list(dict.fromkeys(hosts))[:MAX_HOSTS]
    if not wanted:
        return {}
    try:
        resolver = _resolver(server, timeout)
    except DNSSetupError:
        return {}
    tasks = [asyncio.ensure_future(_chain(resolver, h)) for h in wanted]
    await asyncio.wait(tasks, timeout=total if total is not None else 4 * timeout)
    out: dict[str, tuple[str, ...]] = {}
    for host, task in zip(wanted, tasks, strict=True):
        if not task.done():
            task.cancel()
            continue
        if task.exception() is None and task.result():
            out[host] = task.result()
    return out
