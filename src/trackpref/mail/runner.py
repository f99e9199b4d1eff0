"""``scan`` and ``clean`` over a path: the mail store and the pure core, joined.

Scanning streams: each message is read, analysed and dropped, so only the
URLs needed for comparing copies stay in memory. Cleaning needs the whole scan
first (a token that differs between copies is only known at the end), then
reads each message a second time and writes its cleaned copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .clean import clean_message
from .endpoints import EndpointTable, default_table
from .mailstore import (
    MailFormat,
    MailSourceError,
    MailWriter,
    StoredMessage,
    detect_format,
    output_path,
    read_messages,
)
from .message import DEFAULT_LIMITS, Limits
from .report import MessageReport
from .scanner import MessageAnalysis, analyse_message, combine

__all__ = ["CleanSummary", "ScanResult", "clean_path", "scan_path"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    path: Path
    format: MailFormat
    reports: tuple[MessageReport, ...]


@dataclass(frozen=True, slots=True)
class CleanSummary:
    path: Path
    format: MailFormat
    output: Path
    reports: tuple[MessageReport, ...]
    cleaned: int
    removed_pixels: int
    unwrapped_links: int


def _analyses(
    stored: Iterator[StoredMessage], limits: Limits, table: EndpointTable
) -> list[MessageAnalysis]:
    out = []
    for item in stored:
        if item.error is not None:
            raw = item.message
            report = MessageReport(raw.file, raw.key, None, None, None, None, (), (item.error,))
            out.append(MessageAnalysis(report, None, ()))
        else:
            out.append(analyse_message(item.message, limits=limits, table=table))
    return out


def scan_path(
    path: Path, *, limits: Limits = DEFAULT_LIMITS, table: EndpointTable | None = None
) -> ScanResult:
    """Scan every message at ``path``; raises ``MailSourceError`` only for the path itself."""
    fmt = detect_format(path)
    table = table or default_table()
    analyses = _analyses(read_messages(path, fmt), limits, table)
    return ScanResult(path, fmt, tuple(combine(analyses, table=table)))


def clean_path(
    path: Path,
    out_dir: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    table: EndpointTable | None = None,
) -> CleanSummary:
    """Write cleaned copies of every message at ``path`` to ``out_dir``.

    Every message is written, changed or not, so the copy is a complete
    mailbox; the originals are opened only for reading.
    """
    target = output_path(path, out_dir)
    scan = scan_path(path, limits=limits, table=table)
    by_location = {(r.file, r.key): r for r in scan.reports}
    writer = MailWriter(scan.format, target)
    cleaned = removed = unwrapped = 0
    final: list[MessageReport] = []
    try:
        for stored in read_messages(path, scan.format):
            raw = stored.message
            report = by_location.get((raw.file, raw.key))
            if report is None:
                report = MessageReport(
                    raw.file, raw.key, None, None, None, None, (),
                    ("message appeared while cleaning; copied unchanged",),
                )  # fmt: skip
            if stored.error is not None:
                final.append(report)
                continue
            result = clean_message(raw.data, report, limits)
            writer.write(stored, result.data)
            if result.changed:
                cleaned += 1
                removed += result.removed_pixels
                unwrapped += result.unwrapped_links
            if result.errors:
                report = replace(report, errors=report.errors + result.errors)
            final.append(report)
    except OSError as exc:
        writer.abort()
        raise MailSourceError(f"cannot write to {target}: {exc.strerror or exc}") from exc
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return CleanSummary(path, scan.format, target, tuple(final), cleaned, removed, unwrapped)
