"""Crawls: many sites, a bounded number of browsers, results that survive Ctrl-C.

Each browser is a worker that takes the next URL, audits it under a hard
deadline, and writes the result to the store before taking another, so the
store always holds every finished site. A browser that dies is relaunched and
the site tried once more; a site that blows its deadline is recorded as a
failure and the browser is replaced, since it may be wedged. The crawl goes on
whatever one site does.

Interrupting is safe at any point: the sites in flight are dropped (nothing of
them was written), and the same command resumes with the URLs not yet done.

With a shared store (PostgreSQL), several machines run the same command: each
claims sites one at a time instead of taking them from its own queue, and the
crawl is finished when every site has a result, whoever audited it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from .driver import BrowserBroken, BrowserDriver
from .failures import Failure, FailureKind
from .fetch import DeclarationFetcher
from .history import compare
from .report import (
    build_report,
    names_anything,
    order_dependence,
    site_to_json,
    write_json,
)
from .report_html import write_html
from .runner import AuditConfig, SiteAuditor
from .site import SiteAudit, failed_site
from .states import SignalState
from .store import CrawlInfo, ResultStore
from .trackers import TrackerKnowledge, sightings_from

__all__ = ["MAX_BROWSERS", "AuditSetupError", "CrawlResult", "run_crawl", "write_reports"]

log = logging.getLogger("trackpref.audit")


class _ClaimLost(Exception):
    """This machine's lease on a site ran out and another machine took it."""

    def __init__(self, driver: BrowserDriver | None) -> None:
        super().__init__("the claim was lost")
        self.driver = driver  # still this worker's, open or not


#: Browsers at once, at most: each takes ~350 MiB and a core under load.
MAX_BROWSERS = 2
#: A claim's lease beyond the site deadline: a browser launch and a close
#: (30 s each at most), twice over, with room to spare.
LEASE_MARGIN = 150.0
#: Seconds between looks for a site to claim while others hold the rest.
CLAIM_POLL = 2.0

#: Times a finished crawl audits again the sites that trackers learned after
#: them could judge otherwise (each pass can teach trackers of its own).
RECHECK_PASSES = 2

SiteHook = Callable[[Mapping[str, Any]], None]
StartHook = Callable[[CrawlInfo], None]
RecheckHook = Callable[[Sequence[str]], None]


class AuditSetupError(RuntimeError):
    """The crawl cannot start (no browser, unusable store); nothing was audited."""


def _check_dns(server: tuple[str, int] | None) -> None:
    """CNAME lookups need dnspython and a resolver: say so before any site is visited."""
    try:
        from .cname import DNSSetupError, check_resolver
    except ImportError:
        raise AuditSetupError(
            "--resolve-cnames needs dnspython: pip install 'trackpref[audit]'"
        ) from None
    try:
        check_resolver(server)
    except DNSSetupError as exc:
        raise AuditSetupError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class CrawlResult:
    crawl: CrawlInfo
    knowledge: TrackerKnowledge


#: Errors Playwright leaves in orphaned futures when its driver dies with the
#: crawl (Ctrl-C reaches the whole process group); reported already, not news.
_SHUTDOWN_NOISE = (
    "Connection closed while reading from the driver",
    "Target page, context or browser has been closed",
)


def _quiet_shutdown(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if exc is not None and any(text in str(exc) for text in _SHUTDOWN_NOISE):
        return
    loop.default_exception_handler(context)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def crawl_options(config: AuditConfig) -> dict[str, Any]:
    """The options that change what is measured, and so identify a crawl."""
    options: dict[str, Any] = {
        "states": [s.value for s in config.states],
        "repeats": config.repeats,
    }
    if config.resolve_cnames:  # absent otherwise: crawls from before it still match
        options["cnames"] = True
    return options


async def run_crawl(
    urls: Sequence[str],
    *,
    store: ResultStore,
    config: AuditConfig,
    concurrency: int = 1,
    fresh: bool = False,
    base_knowledge: TrackerKnowledge | None = None,
    on_start: StartHook | None = None,
    on_site: SiteHook | None = None,
    recheck: bool = True,
    on_recheck: RecheckHook | None = None,
) -> CrawlResult:
    """Audit ``urls`` (resuming an unfinished crawl of the same list) and store
    each result as it completes.

    With ``recheck``, once every site is done, the sites audited before the
    crawl learned trackers that could change their verdicts (a same-party
    exemption, a CNAME; :func:`~.report.order_dependence`) are audited again
    with everything learned, up to :data:`RECHECK_PASSES` times, so the
    order of the list does not decide verdicts (a site whose second look fails
    keeps its first result, see :func:`replaces`). Not on a shared store:
    the other machines may still be learning; its report names such sites.
    """
    if not 1 <= concurrency <= MAX_BROWSERS:
        raise AuditSetupError(f"concurrency {concurrency}: use 1 to {MAX_BROWSERS} browsers")
    if config.resolve_cnames:
        _check_dns(config.dns_server)
    asyncio.get_running_loop().set_exception_handler(_quiet_shutdown)
    info = store.open_crawl(urls, crawl_options(config), fresh=fresh)
    base = base_knowledge or TrackerKnowledge()

    def known_now() -> TrackerKnowledge:
        return store.knowledge(
            threshold=base.threshold, tds_trackers=base.tds_trackers, entities=base.entities
        )

    knowledge = known_now()
    if on_start is not None:
        on_start(info)
    recheck = recheck and not store.shared

    def stale() -> tuple[dict[str, dict[str, Any]], TrackerKnowledge]:
        """The results to audit again (url -> the stored result), and everything
        the store knows now. Every result is read, as the report will be."""
        known = known_now()
        found = {
            s["url"]: s
            for s in store.results(info.id)
            if names_anything(order_dependence(s, known))
        }
        return found, known

    pending = list(info.pending)
    first_look = stale() if recheck and not pending else None
    if not pending and not (first_look and first_look[0]):
        store.finish_crawl(info.id)
        return CrawlResult(info, knowledge)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in pending:
        queue.put_nowait(url)
    # A shared store (several machines): sites are claimed one at a time, with
    # a lease renewed at each attempt and longer than an attempt may take (the
    # audit, a browser launch, a browser close), so a dead machine's site goes
    # back to the others when its lease runs out, and a live one's never does.
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    lease = config.site_deadline + LEASE_MARGIN

    async def next_url(me: str) -> str | None:
        if not store.shared:
            try:
                return queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
        while True:
            url = store.claim(info.id, me, lease)
            if url is not None:
                return url
            if store.remaining(info.id) == 0:
                return None
            await asyncio.sleep(CLAIM_POLL)  # the rest is held by others, for now

    state = {"knowledge": knowledge}
    #: In a recheck pass: the results being looked at again (url -> result).
    earlier: dict[str, dict[str, Any]] = {}
    browser = config.browser
    async with (
        async_playwright() as playwright,
        DeclarationFetcher(
            host_rules=browser.host_rules,
            timeout=min(browser.page_timeout, 15.0),
            verify=not browser.ignore_https_errors,
        ) as fetcher,
    ):

        async def launch() -> BrowserDriver:
            try:
                return await BrowserDriver.launch(playwright, browser)
            except (FileNotFoundError, PlaywrightError) as exc:
                raise AuditSetupError(f"cannot start Chromium: {exc}") from exc

        async def audit_one(
            driver: BrowserDriver | None, url: str, me: str
        ) -> tuple[SiteAudit, BrowserDriver | None]:
            failure = Failure(FailureKind.BROWSER, "the browser failed twice on this site")
            for _ in range(2):
                if store.shared and not store.renew(info.id, url, me, lease):
                    raise _ClaimLost(driver)  # another machine audits it now
                if driver is None or not driver.connected:
                    driver = await launch()
                auditor = SiteAuditor(driver, fetcher, config, state["knowledge"])
                try:
                    audit = await asyncio.wait_for(auditor.audit(url), config.site_deadline)
                except BrowserBroken as exc:
                    failure = Failure(FailureKind.BROWSER, f"the browser failed: {exc}")
                    await driver.close()
                    driver = None
                    continue
                except TimeoutError:
                    await driver.close()
                    message = f"the audit took longer than {config.site_deadline:g} s"
                    return failed_site(
                        url, Failure(FailureKind.TIMEOUT, message), audited_at=_now()
                    ), None
                return audit, driver
            return failed_site(url, failure, audited_at=_now()), driver

        def record(
            audit: SiteAudit, url: str, me: str
        ) -> tuple[dict[str, Any], set[tuple[str, str]]]:
            """Save one site's result. A result that cannot be turned into JSON or
            saved (whatever a hostile page put in it) is saved as that site's
            error instead: otherwise the crawl would stop at the site, and
            resuming would stop at it again, forever, with no report."""
            holder = me if store.shared else None
            try:
                site_json = site_to_json(audit)
                site_json["url"] = url
                sightings = sightings_from(
                    audit.site, (r.identifiers for r in audit.states.values())
                )
                store.save(info.id, site_json, sightings, holder=holder)
            except Exception as exc:
                log.warning("could not save the result of %s: %r", url, exc)
                message = f"the result could not be recorded: {type(exc).__name__}: {exc}"
                failed = failed_site(
                    url,
                    Failure(FailureKind.OTHER, message[:500]),
                    audited_at=audit.audited_at,
                    site=audit.site,
                )
                site_json = site_to_json(failed)
                site_json["url"] = url
                sightings = set()
                store.save(info.id, site_json, sightings, holder=holder)
            return site_json, sightings

        async def worker(me: str) -> None:
            driver: BrowserDriver | None = None
            try:
                while True:
                    url = await next_url(me)
                    if url is None:
                        return
                    try:
                        audit, driver = await audit_one(driver, url, me)
                    except _ClaimLost as lost:
                        driver = lost.driver
                        continue
                    kept = earlier.get(url)
                    if kept is not None and not replaces(kept, audit):
                        log.warning("%s: the second look failed; the first result stays", url)
                        if on_site is not None:
                            on_site(kept)
                        continue
                    site_json, sightings = record(audit, url, me)
                    state["knowledge"] = state["knowledge"].with_sightings(sightings)
                    if on_site is not None:
                        on_site(site_json)
            finally:
                if store.shared:
                    try:
                        store.release(info.id, me)  # a clean stop hands its site back at once
                    except Exception as exc:  # the lease hands it back later
                        log.warning("could not release %s's claims: %s", me, exc)
                if driver is not None:
                    await driver.close()

        async def work(n: int) -> None:
            await asyncio.gather(*(worker(f"{holder}/{i}") for i in range(min(concurrency, n))))

        if pending:
            await work(len(pending))
        for _ in range(RECHECK_PASSES if recheck else 0):
            again, known = first_look or stale()
            first_look = None
            if not again:
                break
            if on_recheck is not None:
                on_recheck(list(again))
            state["knowledge"] = known
            earlier.clear()
            earlier.update(again)
            for url in again:
                queue.put_nowait(url)
            await work(len(again))
    store.finish_crawl(info.id)
    return CrawlResult(info, state["knowledge"])


def replaces(earlier: Mapping[str, Any], audit: SiteAudit) -> bool:
    """Whether a second look at a site replaces the first: not when it failed
    where the first did not (a timeout, a dead browser), since a complete
    result that was only order-dependent is better than an error."""
    return audit.failure is None or bool(earlier.get("error"))


def write_reports(
    out: Path,
    store: ResultStore,
    crawl_id: int,
    *,
    knowledge: TrackerKnowledge,
    states: Sequence[SignalState],
) -> dict[str, Any]:
    """Write ``report.json`` and ``report.html`` for one crawl from the store.

    Works on an unfinished crawl too (``crawl.complete`` is then false), which
    is what an interrupted run writes before it exits.
    """
    sites = []
    for site in store.results(crawl_id):
        site["changes"] = compare(store.previous(site["url"], crawl_id), site)
        sites.append(site)
    document = build_report(sites, knowledge=knowledge, crawl=store.crawl(crawl_id), states=states)
    write_json(out / "report.json", document)
    write_html(out / "report.html", document)
    return document
