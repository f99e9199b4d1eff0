"""What the auditor's instrumentation costs, and what a browser weighs.

Loads the same loopback fixture pages (tests/audit/audit_web.py: sites with
trackers, ad pixels, a cookie sync, and a clean one) two ways in one browser
and one run, rounds interleaved so that drift hits both alike:

* **plain**: what any crawler must do: a fresh context, ``goto`` until
  ``load``, the same settle wait, close;
* **instrumented**: :meth:`BrowserDriver.visit`: the same, plus the request
  recorder (raw headers of every request and response), the storage, cookie
  and consent reads.

The ratio of the two rates is the instrumentation's cost (target: at most
25 %). Then a full audit (three states, declarations, analysis) gives sites
per minute, and the memory of each Chromium (PSS and RSS summed over its
processes, read from /proc) is taken with a page open.

    python bench/audit_crawl.py             # 6 rounds, settle 0 and 0.5 s
    python bench/audit_crawl.py --quick     # 2 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "audit"))

from audit_web import HostDispatch, serve  # noqa: E402

from trackpref.audit.browser_options import BrowserOptions, chromium_path  # noqa: E402
from trackpref.audit.driver import BrowserDriver  # noqa: E402
from trackpref.audit.fetch import DeclarationFetcher  # noqa: E402
from trackpref.audit.hostrules import parse_host_rules  # noqa: E402
from trackpref.audit.runner import AuditConfig, SiteAuditor  # noqa: E402
from trackpref.audit.states import SignalState  # noqa: E402

PAGES = ("honor", "ignore", "partial", "liar", "clean")
TARGET_OVERHEAD = 0.25
RULES = parse_host_rules("MAP *.test 127.0.0.1")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in KiB of one process, 0 if it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def chromium_memory() -> tuple[int, float, float]:
    """Chromium processes under this one: (count, PSS MiB, RSS MiB)."""
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                name = fh.read().strip()
        except OSError:
            continue
        if "chrom" in name:
            pids.append(pid)
    pss = rss = 0
    for pid in pids:
        p, r = _memory_kib(pid)
        pss += p
        rss += r
    return len(pids), pss / 1024, rss / 1024


async def plain_visit(browser: Browser, url: str, settle: float) -> None:
    context = await browser.new_context(service_workers="block")
    page = await context.new_page()
    await page.goto(url, wait_until="load", timeout=30_000)
    if settle:
        await asyncio.sleep(settle)
    await context.close()


async def timed(visit: Callable[[str], Awaitable[object]], url: str) -> float:
    start = time.perf_counter()
    await visit(url)
    return time.perf_counter() - start


async def paired(
    plain: Callable[[str], Awaitable[object]],
    instrumented: Callable[[str], Awaitable[object]],
    urls: list[str],
    rounds: int,
) -> tuple[float, float]:
    """Pages per minute of each mode, from the median visit time.

    Each page is loaded both ways back to back, the order alternating by
    round, so that load from other processes on a shared machine lands on
    both modes alike instead of on whichever ran during a busy spell.
    """
    plain_times: list[float] = []
    instr_times: list[float] = []
    for n in range(rounds):
        for url in urls:
            if n % 2:
                instr_times.append(await timed(instrumented, url))
                plain_times.append(await timed(plain, url))
            else:
                plain_times.append(await timed(plain, url))
                instr_times.append(await timed(instrumented, url))
    return 60 / statistics.median(plain_times), 60 / statistics.median(instr_times)


async def run(port: int, rounds: int, settles: tuple[float, ...]) -> int:
    urls = [f"http://{name}.test:{port}/" for name in PAGES]
    status = 0
    async with async_playwright() as playwright:
        for settle in settles:
            options = BrowserOptions(host_rules=RULES, settle=settle, page_timeout=30)
            driver = await BrowserDriver.launch(playwright, options)
            browser = driver.browser

            async def plain(url: str, settle: float = settle, browser: Browser = browser) -> None:
                await plain_visit(browser, url, settle)

            async def instrumented(url: str, driver: BrowserDriver = driver) -> None:
                obs = await driver.visit(url, SignalState.NO_SIGNAL)
                assert obs.ok, obs.failure

            # Warm up both paths (first context, code caches).
            await paired(plain, instrumented, urls[:2], 1)
            p, i = await paired(plain, instrumented, urls, rounds)
            cost = 1 - i / p
            verdict = "ok" if cost <= TARGET_OVERHEAD else "OVER TARGET"
            print(
                f"settle {settle:.1f} s: plain {p:6.1f} pages/min, instrumented {i:6.1f} "
                f"pages/min per browser; instrumentation costs {cost:+.1%} "
                f"(target <= {TARGET_OVERHEAD:.0%}): {verdict}"
            )
            if settle == 0 and cost > TARGET_OVERHEAD:
                status = 1
            await driver.close()

        options = BrowserOptions(host_rules=RULES, settle=0.5, page_timeout=30)
        driver = await BrowserDriver.launch(playwright, options)
        async with DeclarationFetcher(host_rules=RULES, timeout=10) as fetcher:
            auditor = SiteAuditor(driver, fetcher, AuditConfig(browser=options, retries=0))
            start = time.perf_counter()
            for url in urls:
                await auditor.audit(url)
            per_site = (time.perf_counter() - start) / len(urls)
        print(
            f"full audit (3 states, settle 0.5 s, declarations, analysis): "
            f"{60 / per_site:.1f} sites/min per browser ({per_site:.2f} s per site)"
        )
        # Memory with one page open, as during a visit.
        context = await driver.browser.new_context()
        page = await context.new_page()
        await page.goto(urls[0], wait_until="load")
        count, pss, rss = chromium_memory()
        print(
            f"memory per browser (one page open): {pss:.0f} MiB PSS, {rss:.0f} MiB RSS summed "
            f"over {count} Chromium processes (RSS counts shared pages once per process)"
        )
        await context.close()
        await driver.close()
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, settle 0 only")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if chromium_path() is None:
        print("no chromium on PATH", file=sys.stderr)
        return 2
    rounds = 2 if args.quick else args.rounds
    settles = (0.0,) if args.quick else (0.0, 0.5)
    print(f"{len(PAGES)} fixture pages x {rounds} rounds per mode, one browser")
    with serve(HostDispatch()) as port:
        return asyncio.run(run(port, rounds, settles))


if __name__ == "__main__":
    raise SystemExit(main())
