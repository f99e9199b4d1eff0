"""Auditing one site: the visits, the declarations, then the analysis.

The site's own well-known resources are fetched while the browser visits the
states; the partners' resources and the request-specific TSRs named by ``Tk``
headers are fetched after, since only the visits reveal them. A visit that
fails for a reason another attempt cannot change (a bad certificate, an
unknown name, a redirect loop) ends the site early instead of repeating the
failure for every state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from trackpref.signals.errors import SignalError
from trackpref.signals.parties import normalize_host

from ..signals.tracking_status import is_status_id
from .browser_options import BrowserOptions
from .declarations import OriginDeclarations, SiteDeclarations
from .failures import Failure, FailureKind
from .fetch import DeclarationFetcher
from .observation import Observation
from .site import SiteAudit, analyse_site, cloaked_with, invalid_url, same_party_of
from .site_parties import SiteParties, host_of, site_key
from .states import DEFAULT_STATES, SignalState
from .trackers import TrackerKnowledge
from .traffic import origin_of

if TYPE_CHECKING:
    from .driver import BrowserDriver

__all__ = ["AuditConfig", "SiteAuditor", "normalize_url"]


def normalize_url(text: str) -> str:
    """A URL the auditor can visit, or :class:`ValueError` saying why not.

    A bare host (``example.com``) is read as ``https://example.com/``.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty URL")
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{text!r}: only http and https URLs can be audited")
    if not parts.hostname:
        raise ValueError(f"{text!r} has no host")
    try:
        normalize_host(parts.hostname)
    except SignalError as exc:
        raise ValueError(f"{text!r}: {exc.message}") from None
    del port
    return raw if parts.path else raw + "/"


@dataclass(frozen=True, slots=True)
class AuditConfig:
    states: tuple[SignalState, ...] = DEFAULT_STATES
    #: Visits per state; more than one estimates the noise.
    repeats: int = 1
    #: Extra attempts for a visit that failed in a way that may pass next time.
    retries: int = 1
    browser: BrowserOptions = field(default_factory=BrowserOptions)
    #: Partner origins whose declarations are fetched, at most.
    partner_declarations: int = 6
    dnt_policy_hashes: Mapping[str, str] | None = None
    #: Seconds one site may take in all; ``None`` derives it from the timeouts.
    deadline: float | None = None
    #: Resolve the CNAME chains of the site's own hosts (:mod:`.cname`).
    resolve_cnames: bool = False
    #: ``(host, port)`` of the DNS server for those lookups; None: the system's.
    dns_server: tuple[str, int] | None = None

    @property
    def site_deadline(self) -> float:
        """Seconds one site may take in all, after which it is recorded as failed."""
        if self.deadline is not None:
            return self.deadline
        b = self.browser
        per_visit = b.page_timeout + b.settle + 4 * b.read_timeout + 20
        visits = len(self.states) * self.repeats * (self.retries + 1)
        lookups = 2 * b.read_timeout if self.resolve_cnames else 0.0
        return per_visit * visits + 60 + lookups


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class SiteAuditor:
    """Audits sites with one browser and a shared fetcher."""

    def __init__(
        self,
        driver: BrowserDriver,
        fetcher: DeclarationFetcher,
        config: AuditConfig,
        knowledge: TrackerKnowledge | None = None,
    ) -> None:
        self.driver = driver
        self.fetcher = fetcher
        self.config = config
        self.knowledge = knowledge or TrackerKnowledge()

    async def _visit(self, url: str, state: SignalState) -> Observation:
        attempts = 0
        while True:
            attempts += 1
            obs = await self.driver.visit(url, state)
            failure = obs.failure
            if failure is None or not failure.kind.retryable or attempts > self.config.retries:
                return dataclasses.replace(obs, attempts=attempts)

    async def _visits(self, url: str) -> dict[SignalState, list[Observation]]:
        out: dict[SignalState, list[Observation]] = {}
        stop: Failure | None = None
        for state in self.config.states:
            for _ in range(self.config.repeats):
                if stop is not None:
                    obs = Observation(state, url, failure=stop, started_at=_now(), attempts=0)
                else:
                    obs = await self._visit(url, state)
                    failure = obs.failure
                    if (
                        failure is not None
                        and not failure.kind.retryable
                        and failure.kind
                        not in (
                            FailureKind.HTTP_STATUS,
                            FailureKind.TOO_LARGE,
                        )
                    ):
                        stop = Failure(failure.kind, f"not visited: {failure.message}")
                out.setdefault(state, []).append(obs)
        return out

    async def audit(self, url: str) -> SiteAudit:
        started = _now()
        t0 = time.monotonic()
        try:
            url = normalize_url(url)
        except ValueError as exc:
            return invalid_url(url, str(exc), audited_at=started)
        origin = origin_of(url)
        assert origin is not None
        hashes = self.config.dnt_policy_hashes
        site_task = asyncio.ensure_future(
            self.fetcher.origin_declarations(origin, accepted_policy_hashes=hashes)
        )
        try:
            visits = await self._visits(url)
        except BaseException:
            site_task.cancel()
            raise
        site_decl = await site_task
        site_decl = await self._request_specific(site_decl, visits)
        chains, cloaked = await self._cloaked(url, visits, site_decl)
        partners = await self._partners(url, visits, site_decl, cloaked)
        declarations = SiteDeclarations(site_decl, partners)
        return analyse_site(
            url,
            visits,
            declarations,
            audited_at=started,
            knowledge=self.knowledge,
            duration_ms=round((time.monotonic() - t0) * 1000, 1),
            cloaked=cloaked,
            cname_chains=chains,
        )

    async def _cloaked(
        self,
        url: str,
        visits: Mapping[SignalState, list[Observation]],
        site_decl: OriginDeclarations,
    ) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, tuple[str, ...]]]:
        """The CNAME chains of the site's hosts seen in the visits, and those
        hosts among them that are CNAMEs to a known tracker (never the pages'
        own hosts, nor a target the site may call its own)."""
        if not self.config.resolve_cnames:
            return {}, {}
        # dnspython comes with the audit extra; the analysis works without it.
        from .cname import resolve_cname_chains

        page = host_of(url)
        if page is None:
            return {}, {}
        site = site_key(page)
        pages = {page}
        counts: dict[str, int] = {}
        for observations in visits.values():
            for obs in observations:
                final = host_of(obs.final_url) if obs.final_url else None
                if final is not None:
                    pages.add(final)
                for request in obs.requests:
                    host = host_of(request.url)
                    if host is not None and site_key(host) == site and host not in pages:
                        counts[host] = counts.get(host, 0) + 1
        hosts = sorted(counts, key=lambda h: (-counts[h], h))  # the busiest first
        timeout = self.config.browser.read_timeout
        chains = await resolve_cname_chains(
            hosts, server=self.config.dns_server, timeout=timeout, total=2 * timeout
        )
        same, _ = same_party_of(site_decl.tsr, self.knowledge)
        # A host requested before a later visit landed on it is a page host:
        # never cloaked, and not kept as a chain the report could cloak.
        chains = {host: chain for host, chain in chains.items() if host not in pages}
        return chains, cloaked_with(chains, site, same, self.knowledge, pages=pages)

    async def _request_specific(
        self, decl: OriginDeclarations, visits: Mapping[SignalState, list[Observation]]
    ) -> OriginDeclarations:
        """Fetch ``/.well-known/dnt/<id>`` for status-ids the origin sent in ``Tk``."""
        ids: list[str] = []
        for observations in visits.values():
            for obs in observations:
                for request in obs.requests:
                    if origin_of(request.url) != decl.origin:
                        continue
                    for joined in request.response_header_values("tk"):
                        # Playwright joins repeated headers with newlines; and only
                        # a grammatical status-id names a resource worth fetching
                        # (the Tk check reports the others).
                        for value in joined.split("\n"):
                            _, sep, status_id = value.strip().partition(";")
                            if sep and is_status_id(status_id) and status_id not in ids:
                                ids.append(status_id)
        if not ids:
            return decl
        extra = await self.fetcher.origin_declarations(
            decl.origin,
            status_ids=tuple(ids),
            accepted_policy_hashes=self.config.dnt_policy_hashes,
        )
        return dataclasses.replace(decl, request_specific=extra.request_specific)

    async def _partners(
        self,
        url: str,
        visits: Mapping[SignalState, list[Observation]],
        site_decl: OriginDeclarations,
        cloaked: Mapping[str, tuple[str, ...]] | None = None,
    ) -> tuple[OriginDeclarations, ...]:
        """Declarations of third-party origins that answered during the visits,
        most requested first, up to the configured number."""
        limit = self.config.partner_declarations
        if limit <= 0:
            return ()
        # The same filter as the analysis: a partner the site's TSR cannot
        # declare away keeps its own declarations read.
        same, _ = same_party_of(site_decl.tsr, self.knowledge)
        parties = SiteParties.for_url(url, same_party=same, cloaked=cloaked)
        counts: dict[str, int] = {}
        for observations in visits.values():
            for obs in observations:
                for request in obs.requests:
                    host = host_of(request.url)
                    origin = origin_of(request.url)
                    if host is None or origin is None or not parties.is_third_party(host):
                        continue
                    counts[origin] = counts.get(origin, 0) + 1
        # One origin per partner site is enough to read its claims.
        chosen: dict[str, str] = {}
        for origin, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            host = host_of(origin)
            if host is None:
                continue
            chosen.setdefault(parties.recipient(host), origin)
        origins = list(chosen.values())[:limit]
        hashes = self.config.dnt_policy_hashes
        return tuple(
            await asyncio.gather(
                *(
                    self.fetcher.origin_declarations(o, accepted_policy_hashes=hashes)
                    for o in origins
                )
            )
        )
