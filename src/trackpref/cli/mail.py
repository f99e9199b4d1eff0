"""``trackpref mail``: find and remove e-mail tracking pixels and click trackers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..mail import (
    MailSourceError,
    MessageReport,
    TrackerKind,
    clean_path,
    scan_path,
    summarise_senders,
    to_json,
)
from ..mail.report import printable

__all__ = ["mail"]


#: C0 and C1 controls and DEL: a message's text must not drive the terminal.
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)], "\ufffd")


def _safe(text: str | None, limit: int = 0) -> str:
    """What a message says, fit for the terminal: lone surrogates from undecodable
    bytes and control characters become U+FFFD, and rich markup is escaped, so
    a Subject such as ``[/red]`` is shown, not obeyed (or a crash)."""
    value = printable(text or "").translate(_CONTROLS)
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    return escape(value)


def _where(report: MessageReport) -> str:
    name = Path(report.file).name
    return f"{name}#{report.key}" if report.key and not name.startswith(report.key) else name


def _render(console: Console, reports: Sequence[MessageReport], verbose: bool) -> None:
    messages = Table(title="Messages", show_lines=False, expand=False)
    messages.add_column("#", justify="right", style="dim")
    messages.add_column("file")
    messages.add_column("from", overflow="fold")
    messages.add_column("subject", overflow="fold")
    messages.add_column("pixels", justify="right")
    messages.add_column("clicks", justify="right")
    messages.add_column("notes", overflow="fold")
    for number, report in enumerate(reports, 1):
        notes = "; ".join(_safe(e, 120) for e in report.errors[:2])
        if len(report.errors) > 2:
            notes += f" (+{len(report.errors) - 2} more)"
        pixels, clicks = len(report.pixels), len(report.clicks)
        messages.add_row(
            str(number),
            _safe(_where(report), 40),
            _safe(report.sender, 40),
            _safe(report.subject, 50),
            f"[red]{pixels}[/red]" if pixels else "0",
            f"[yellow]{clicks}[/yellow]" if clicks else "0",
            f"[red]{notes}[/red]" if notes else "",
        )
    console.print(messages)
    if verbose:
        detail = Table(title="Trackers", expand=False)
        detail.add_column("#", justify="right", style="dim")
        detail.add_column("kind")
        detail.add_column("service")
        detail.add_column("url", overflow="fold")
        detail.add_column("why", overflow="fold")
        detail.add_column("goes to", overflow="fold")
        for number, report in enumerate(reports, 1):
            for tracker in report.trackers:
                detail.add_row(
                    str(number),
                    tracker.kind.value,
                    _safe(tracker.service),
                    _safe(tracker.url, 160),
                    _safe(tracker.reason),
                    _safe(tracker.target, 120) if tracker.target else "",
                )
        console.print(detail)
    senders = Table(title="Senders", expand=False)
    senders.add_column("sender", overflow="fold")
    senders.add_column("messages", justify="right")
    senders.add_column("tracked", justify="right")
    senders.add_column("pixels", justify="right")
    senders.add_column("clicks", justify="right")
    senders.add_column("services", overflow="fold")
    for row in summarise_senders(reports):
        senders.add_row(
            _safe(row.sender, 50),
            str(row.messages),
            str(row.tracked_messages),
            str(row.pixels),
            str(row.clicks),
            ", ".join(row.services),
        )
    console.print(senders)
    pixels = sum(len(r.pixels) for r in reports)
    clicks = sum(len(r.clicks) for r in reports)
    broken = sum(1 for r in reports if r.errors)
    console.print(
        f"{len(reports)} message(s): {pixels} tracking pixel(s), {clicks} click tracker(s)"
        + (f", {broken} with problems (see notes)" if broken else "")
    )


def _dump(reports: Sequence[MessageReport]) -> str:
    return json.dumps(to_json(reports), indent=2, ensure_ascii=False)


@click.group(name="mail", context_settings={"help_option_names": ["-h", "--help"]})
def mail() -> None:
    """Find and remove e-mail tracking pixels and click trackers.

    PATH may be one .eml file, a folder of .eml files, an mbox file (it starts
    with "From ") or a Maildir (a folder with cur/ and new/), its Maildir++
    subfolders (.Sent/ and the like) included.

    \b
    Examples:
      trackpref mail scan ~/Mail/inbox.mbox
      trackpref mail scan ~/Maildir --json > trackers.json
      trackpref mail scan newsletter.eml -v          # every tracker URL and why
      trackpref mail clean ~/Maildir --out ~/clean/  # writes ~/clean/Maildir
    """


@mail.command("scan")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of messages.")
@click.option("-v", "--verbose", is_flag=True, help="List every tracker, its reason and target.")
def scan(path: Path, as_json: bool, verbose: bool) -> None:
    """Report tracking pixels and click trackers, per message and per sender.

    Nothing is changed. Messages that cannot be read completely are reported
    with what was wrong, and the scan goes on.

    \b
    Examples:
      trackpref mail scan inbox.mbox
      trackpref mail scan ~/Maildir --json | jq '.[] | select(.trackers != [])'
    """
    try:
        result = scan_path(path)
    except MailSourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(_dump(result.reports))
        return
    _render(Console(), result.reports, verbose)


@mail.command("clean")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the cleaned copy (created if missing); never the original's place.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scan report as JSON.")
def clean(path: Path, out_dir: Path, as_json: bool) -> None:
    """Write cleaned copies: pixels removed, tracked links pointed at their destination.

    The copy keeps the container format (a Maildir stays a Maildir, with the
    same subfolders, file names and flags) and every byte of each message that needs no
    change. Links whose destination only the tracker's server knows are left
    as they are. The originals are never modified.

    \b
    Examples:
      trackpref mail clean inbox.mbox --out cleaned/   # -> cleaned/inbox.mbox
      trackpref mail clean newsletter.eml --out /tmp/  # -> /tmp/newsletter.eml
    """
    try:
        summary = clean_path(path, out_dir)
    except MailSourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(_dump(summary.reports))
        return
    console = Console()
    opaque = sum(
        1
        for r in summary.reports
        for t in r.trackers
        if t.kind is TrackerKind.CLICK and t.target is None
    )
    problems = [(r, e) for r in summary.reports for e in r.errors]
    for report, error in problems[:20]:
        console.print(f"[red]{_safe(_where(report))}[/red]: {_safe(error)}", highlight=False)
    if len(problems) > 20:
        console.print(f"... and {len(problems) - 20} more problem(s)")
    console.print(
        f"Wrote {_safe(str(summary.output))}: {len(summary.reports)} message(s), "
        f"{summary.cleaned} cleaned, {summary.removed_pixels} pixel(s) removed, "
        f"{summary.unwrapped_links} link(s) unwrapped, {opaque} tracked link(s) left "
        "(destination known only to the tracker).",
        highlight=False,
    )
