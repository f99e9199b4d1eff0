"""Scanning messages: each one on its own, then the copies of each campaign together.

Pure: raw bytes in, reports out. Reading mailboxes and writing files is
``mailstore``'s job, so this runs the same over a Maildir, an mbox or a list of
byte strings in a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from .campaigns import CampaignKey, Observed, campaign_key, per_recipient, skeleton
from .classify import (
    MessageContext,
    classify_image,
    classify_link,
    is_clickish,
    is_functional,
    tracking_host_label,
)
from .endpoints import EndpointTable, default_table
from .html_scan import scan_html
from .message import DEFAULT_LIMITS, Limits, parse_message
from .report import MessageReport, Tracker, TrackerKind
from .text_scan import find_text_links
from .tokens import recipient_forms
from .urls import split_url

__all__ = ["MessageAnalysis", "RawMessage", "analyse_message", "combine", "scan_messages"]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as stored: where it came from and its exact bytes."""

    file: str
    key: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    report: MessageReport
    campaign: CampaignKey | None
    observed: tuple[Observed, ...]


def _observe(
    url: str, kind: TrackerKind, text: str, ctx: MessageContext, table: EndpointTable
) -> Observed | None:
    parts = split_url(url)
    if parts is None:
        return None
    shape = skeleton(parts)
    if shape is None:
        return None
    if kind is TrackerKind.CLICK:
        # A per-recipient link is a tracker only where clicks are counted; an
        # unsubscribe or password link must carry the identity to work.
        if is_functional(parts, text, ctx.functional_urls):
            return None
        if not (is_clickish(parts) or tracking_host_label(parts, table)):
            return None
    return Observed(url, kind, shape)


def analyse_message(
    raw: RawMessage, *, limits: Limits = DEFAULT_LIMITS, table: EndpointTable | None = None
) -> MessageAnalysis:
    """Everything one message says on its own."""
    table = table or default_table()
    try:
        return _analyse(raw, limits, table)
    except Exception as exc:  # a bug must cost one message, not the scan
        error = f"internal error while scanning ({type(exc).__name__}: {exc})"[:300]
        report = MessageReport(raw.file, raw.key, None, None, None, None, (), (error,))
        return MessageAnalysis(report, None, ())


def _analyse(raw: RawMessage, limits: Limits, table: EndpointTable) -> MessageAnalysis:
    parsed = parse_message(raw.data, limits)
    ctx = MessageContext(
        table=table,
        recipients=recipient_forms(parsed.recipients),
        functional_urls=frozenset(parsed.list_unsubscribe),
    )
    errors = list(parsed.errors)
    trackers: dict[tuple[str, TrackerKind], Tracker] = {}
    observed: dict[tuple[str, TrackerKind], Observed] = {}
    done: set[tuple[str, TrackerKind, object]] = set()

    def consider(
        url: str, kind: TrackerKind, variant: object, text: str, judge: Callable[[], Tracker | None]
    ) -> None:
        # The same URL recurs (an image link and its button, the text part);
        # judge each distinct occurrence once, and stop once it is a tracker.
        if (url, kind) in trackers or (url, kind, variant) in done:
            return
        done.add((url, kind, variant))
        tracker = judge()
        if tracker is not None:
            trackers[(url, kind)] = tracker
            observed.pop((url, kind), None)
        elif (url, kind) not in observed:
            seen = _observe(url, kind, text, ctx, table)
            if seen is not None:
                observed[(url, kind)] = seen

    for part in parsed.parts:
        if part.subtype == "html":
            found = scan_html(part.text)
            if found.error:
                errors.append(f"part {part.number} (text/html): {found.error}")
            for image in found.images:
                shape = (image.width, image.height, image.hidden)
                judge = partial(classify_image, image, ctx)
                consider(image.src, TrackerKind.PIXEL, shape, "", judge)
            for link in found.links:
                judge = partial(classify_link, link.href, link.text, ctx)
                consider(link.href, TrackerKind.CLICK, link.text, link.text, judge)
        else:
            for text_link in find_text_links(part.text):
                url = text_link.url
                consider(url, TrackerKind.CLICK, "", "", partial(classify_link, url, "", ctx))

    report = MessageReport(
        file=raw.file,
        key=raw.key,
        message_id=parsed.message_id,
        sender=parsed.sender,
        sender_address=parsed.sender_address,
        subject=parsed.subject,
        trackers=tuple(trackers.values()),
        errors=tuple(errors),
    )
    key = campaign_key(parsed.sender_address, parsed.subject, parsed.list_id, parsed.sent_day)
    return MessageAnalysis(report, key, tuple(observed.values()))


def combine(analyses: Sequence[MessageAnalysis]) -> list[MessageReport]:
    """Final reports: each message's own trackers plus those its copies reveal."""
    extra = per_recipient([(a.campaign, a.observed) for a in analyses])
    reports = []
    for index, analysis in enumerate(analyses):
        report = analysis.report
        if index in extra:
            report = replace(report, trackers=report.trackers + tuple(extra[index]))
        reports.append(report)
    return reports


def scan_messages(
    messages: Iterable[RawMessage],
    *,
    limits: Limits = DEFAULT_LIMITS,
    table: EndpointTable | None = None,
) -> list[MessageReport]:
    """Reports for all messages, including trackers only the copies reveal."""
    return combine([analyse_message(m, limits=limits, table=table) for m in messages])
