"""``trackpref audit``: check in a real browser whether sites honor DNT and GPC."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from trackpref.audit.browser_options import BrowserOptions, chromium_path
from trackpref.audit.crawl import MAX_BROWSERS, AuditSetupError, run_crawl, write_reports
from trackpref.audit.hostrules import HostRules, parse_host_rules
from trackpref.audit.runner import AuditConfig, normalize_url
from trackpref.audit.states import parse_states
from trackpref.audit.store import CrawlInfo, StoreError, open_results
from trackpref.audit.trackers import TrackerKnowledge, load_tds
from trackpref.signals.dnt_policy import EFF_POLICY_HASHES

from .._untrusted import whole_number
from .checks import FiniteRange

__all__ = ["audit"]

EXAMPLES = """
\b
Examples:
  trackpref audit https://example.com/ --out report/
  trackpref audit --from sites.txt --out crawl/ --browsers 2
  trackpref audit http://shop.test:8000/ --host-rules "MAP *.test 127.0.0.1" --out r/
  trackpref audit http://127.0.0.1:8000/ --out r/ --settle 1
  # catch trackers behind the site's own names (CNAME cloaking), with a tracker list:
  trackpref audit --from sites.txt --out crawl/ --tds tds.json --resolve-cnames
  # on each of several machines, the same list and one PostgreSQL:
  TRACKPREF_AUDIT_DB=postgresql://crawler@db.internal/audits \\
    trackpref audit --from sites.txt --out crawl/

\b
Writes DIR/report.json (schema: docs/report-schema.md), DIR/report.html and
DIR/audit.sqlite (results kept across runs). Interrupt with Ctrl-C at any time:
running the same command again resumes where it stopped; once a crawl is
complete, running it again re-audits and compares with the previous results.
"""


def _read_url_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--from") from exc
    urls = []
    for number, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            urls.append(normalize_url(item))
        except ValueError as exc:
            # One bad line must not stop a crawl: it is kept, and recorded as a
            # per-site error in the report.
            click.echo(f"warning: {path}:{number}: {exc}", err=True)
            urls.append(item)
    return urls


def _hashes(path: Path | None) -> Mapping[str, str] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise click.BadParameter(f"{path}: {exc}", param_hint="--dnt-policy-hashes") from exc
    except RecursionError:
        raise click.BadParameter(
            f"{path}: nested too deeply", param_hint="--dnt-policy-hashes"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise click.BadParameter(
            f"{path}: expected a JSON object of SHA-1 hex -> policy name",
            param_hint="--dnt-policy-hashes",
        )
    return {**EFF_POLICY_HASHES, **{k.lower(): v for k, v in data.items()}}


class _Progress:
    """A rich progress bar on a terminal, one line per site otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None
        self.quiet = not enabled

    def start(self, info: CrawlInfo) -> None:
        done, total = len(info.done), len(info.urls)
        what = (
            f"resuming crawl #{info.id}: {done} of {total} already done"
            if info.resumed
            else (f"crawl #{info.id}: {total} site(s)")
        )
        click.echo(what, err=True)
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]auditing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=total, completed=done)

    def site(self, site: Mapping[str, Any]) -> None:
        verdicts = site.get("verdicts", {})
        error = site.get("error")
        status = (
            f"error {error['kind']}" if error and not site.get("states") else _compliance(verdicts)
        )
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"{site['url']}: {status}")
        elif not self.quiet:
            click.echo(f"{site['url']}: {status}", err=True)

    def recheck(self, urls: Sequence[str]) -> None:
        what = (
            f"auditing {len(urls)} site(s) again: trackers learned after them could change "
            "their verdicts"
        )
        if self.bar is not None:
            total = self.bar.tasks[0].total or 0
            self.bar.update(self.task, total=total + len(urls), description=what)
        else:  # said like the crawl's first line, progress or not
            click.echo(what, err=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _dns_server(text: str | None) -> tuple[str, int] | None:
    """``HOST[:PORT]`` (an IPv6 address in brackets) as (address, port)."""
    if text is None:
        return None
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give the server's IP address, such as 127.0.0.1:5353",
            param_hint="--dns-server",
        ) from None
    number = whole_number(port, max_digits=5)
    if number is None or not 0 < number < 65536:
        raise click.BadParameter(f"{text!r}: the port must be 1-65535", param_hint="--dns-server")
    return host, number


def _compliance(verdicts: Mapping[str, Any]) -> str:
    value = verdicts.get("compliant")
    return {True: "compliant", False: "NOT compliant", None: "undecided"}[value]


@click.command("audit", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("urls", nargs=-1)
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File with one URL per line (# comments allowed).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.json, report.html and audit.sqlite.",
)
@click.option(
    "--host-rules",
    default="",
    metavar="RULES",
    help="Chromium host-resolver rules, also used for every other fetch, "
    'e.g. "MAP *.test 127.0.0.1".',
)
@click.option(
    "--browsers",
    "concurrency",
    type=click.IntRange(1, MAX_BROWSERS),
    default=1,
    show_default=True,
    help="Browsers run at once.",
)
@click.option(
    "--timeout",
    type=FiniteRange(1, 600),
    default=30.0,
    show_default=True,
    help="Seconds a page may take to load.",
)
@click.option(
    "--settle",
    type=FiniteRange(0, 60),
    default=2.5,
    show_default=True,
    help="Seconds to wait after load for late requests.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 5),
    default=1,
    show_default=True,
    help="Extra attempts for a visit that timed out or crashed.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Visits per state; more than one shows the noise.",
)
@click.option(
    "--states",
    "extra_states",
    default="",
    metavar="LIST",
    help="Extra states besides no-signal, dnt1-gpc and dnt0: dnt1, gpc.",
)
@click.option(
    "--db",
    metavar="PATH|URL",
    envvar="TRACKPREF_AUDIT_DB",
    help="Results database: a SQLite file (default: OUT/audit.sqlite), or "
    "postgresql://... for a crawl shared by several machines (each runs the same command).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start a new crawl even if one is unfinished. On a shared --db, machines given "
    "--fresh within ten minutes of each other share one new crawl.",
)
@click.option(
    "--tds",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A tracker data file in DuckDuckGo's TDS format to import.",
)
@click.option(
    "--tracker-threshold",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="Sites a third party must track on to be called a tracker.",
)
@click.option(
    "--recheck/--no-recheck",
    default=True,
    show_default=True,
    help="Once every site is done, audit again the sites audited before trackers were "
    "learned that could change their verdicts (a same-party exemption, a CNAME), so the "
    "order of the list does not decide verdicts; what is left is named in the report. "
    "Not on a shared --db.",
)
@click.option(
    "--partners",
    type=click.IntRange(0, 50),
    default=6,
    show_default=True,
    help="Third-party origins whose declarations are checked per site.",
)
@click.option(
    "--dnt-policy-hashes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object of extra accepted dnt-policy.txt SHA-1 hashes -> names.",
)
@click.option(
    "--max-page-mb",
    type=FiniteRange(0.1, 1024),
    default=25.0,
    show_default=True,
    help="Pages larger than this are reported as too large.",
)
@click.option(
    "--resolve-cnames",
    is_flag=True,
    help="Resolve the CNAME chains of the site's own hosts: one that leads to a known tracker "
    "(CNAME cloaking) counts as that tracker, a third party.",
)
@click.option(
    "--dns-server",
    metavar="HOST[:PORT]",
    help="DNS server for --resolve-cnames (default: the system's resolver).",
)
@click.option("--insecure", is_flag=True, help="Accept invalid TLS certificates (test servers).")
@click.option(
    "--chromium",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Chromium binary (default: chromium on PATH).",
)
@click.option("--no-progress", is_flag=True, help="No progress output.")
@click.option(
    "--fail-on-violation", is_flag=True, help="Exit with status 1 if any site is not compliant."
)
def audit(
    urls: tuple[str, ...],
    from_file: Path | None,
    out_dir: Path,
    host_rules: str,
    concurrency: int,
    timeout: float,
    settle: float,
    retries: int,
    repeat: int,
    extra_states: str,
    db: str | None,
    fresh: bool,
    tds: Path | None,
    tracker_threshold: int,
    recheck: bool,
    partners: int,
    dnt_policy_hashes: Path | None,
    max_page_mb: float,
    resolve_cnames: bool,
    dns_server: str | None,
    insecure: bool,
    chromium: Path | None,
    no_progress: bool,
    fail_on_violation: bool,
) -> None:
    """Load each site in Chromium with no signal, with DNT:1 + GPC and with DNT:0,
    compare what its third parties receive, check its declarations, and report
    whether it honors the signals and whether its claims hold.
    """
    targets: list[str] = []
    for url in urls:
        try:
            targets.append(normalize_url(url))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="URL") from exc
    if from_file is not None:
        targets.extend(_read_url_file(from_file))
    if not targets and from_file is not None:
        raise click.BadParameter(
            f"{from_file} holds no URL (only blank lines and # comments)", param_hint="--from"
        )
    if not targets:
        raise click.UsageError("give at least one URL, or --from FILE")
    try:
        rules = parse_host_rules(host_rules) if host_rules.strip() else HostRules()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host-rules") from exc
    try:
        states = parse_states(extra_states)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--states") from exc
    executable = str(chromium) if chromium else chromium_path()
    if executable is None:
        raise click.ClickException(
            "no 'chromium' on PATH; install Debian's chromium or use --chromium"
        )
    knowledge = TrackerKnowledge(threshold=tracker_threshold)
    if tds is not None:
        try:
            trackers, entities = load_tds(tds)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tds") from exc
        knowledge = TrackerKnowledge(
            tds_trackers=trackers, entities=entities, threshold=tracker_threshold
        )
    config = AuditConfig(
        states=states,
        repeats=repeat,
        retries=retries,
        browser=BrowserOptions(
            executable=executable,
            host_rules=rules,
            page_timeout=timeout,
            settle=settle,
            ignore_https_errors=insecure,
            max_page_bytes=int(max_page_mb * 1024 * 1024),
        ),
        partner_declarations=partners,
        dnt_policy_hashes=_hashes(dnt_policy_hashes),
        resolve_cnames=resolve_cnames or dns_server is not None,
        dns_server=_dns_server(dns_server),
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot create {out_dir}: {exc.strerror}", param_hint="--out"
        ) from exc
    try:
        store = open_results(db or out_dir / "audit.sqlite")
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    progress = _Progress(not no_progress)
    started: list[CrawlInfo] = []

    def on_start(info: CrawlInfo) -> None:
        started.append(info)
        progress.start(info)

    interrupted = False
    try:
        asyncio.run(
            run_crawl(
                targets,
                store=store,
                config=config,
                concurrency=concurrency,
                fresh=fresh,
                base_knowledge=knowledge,
                on_start=on_start,
                on_site=progress.site,
                recheck=recheck,
                on_recheck=progress.recheck,
            )
        )
    except KeyboardInterrupt:
        interrupted = True
    except AuditSetupError as exc:
        progress.stop()
        store.close()
        raise click.ClickException(str(exc)) from exc
    finally:
        progress.stop()
    if not started:
        store.close()
        if interrupted:
            raise SystemExit(130)
        return
    crawl_id = started[0].id
    # Everything the store knows now, other machines' sightings included:
    # the crawl's own result knows only this process's.
    learned = store.knowledge(
        threshold=knowledge.threshold,
        tds_trackers=knowledge.tds_trackers,
        entities=knowledge.entities,
    )
    document = write_reports(out_dir, store, crawl_id, knowledge=learned, states=states)
    store.close()
    _summary(document, out_dir)
    if interrupted:
        crawl = document["crawl"]
        what = (
            "interrupted while auditing sites again (every site has a result); "
            "run the same command again to finish"
            if crawl["audited"] >= crawl["total"]
            else f"interrupted: {crawl['audited']} of {crawl['total']} site(s) recorded; "
            "run the same command again to resume"
        )
        click.echo(what, err=True)
        raise SystemExit(130)
    if fail_on_violation and any(
        s.get("verdicts", {}).get("compliant") is False for s in document["sites"]
    ):
        raise SystemExit(1)


def _summary(document: Mapping[str, Any], out_dir: Path) -> None:
    sites = document["sites"]
    counts = {"compliant": 0, "NOT compliant": 0, "undecided": 0}
    for site in sites:
        counts[_compliance(site.get("verdicts", {}))] += 1
    errors = sum(1 for s in sites if s.get("error"))
    click.echo(
        f"{len(sites)} site(s): {counts['compliant']} compliant, {counts['NOT compliant']} not "
        f"compliant, {counts['undecided']} undecided; {errors} with errors"
    )
    later = document.get("order_dependent", [])
    if later and document["crawl"].get("complete"):
        click.echo(
            f"{len(later)} site(s) were audited before trackers were learned that could change "
            "their verdicts (report.json: order_dependent); the same command again audits the "
            "whole list with what the results database has learned"
        )
    click.echo(f"report: {out_dir / 'report.html'} and {out_dir / 'report.json'}")
