"""Scanning messages: each one on its own, then the copies of each campaign together.

Pure: raw bytes in, reports out. Reading mailboxes and writing files is
``mailstore``'s job, so this runs the same over a Maildir, an mbox or a list of
byte strings in a test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from .campaigns import CampaignKey, Observed, campaign_key, per_recipient, skeleton
from .classify import (
    MessageContext,
    classify_image_values,
    classify_link,
    clear_verdict_caches,
    is_clickish,
    is_functional,
    tracking_host_label,
)
from .endpoints import EndpointTable, default_table, host_suffixes
from .html_elements import clear_style_caches
from .html_scan import MAX_TREE_TAGS, scan_html_values
from .message import DEFAULT_LIMITS, Limits, clear_header_caches, parse_message
from .parts import clear_part_caches
from .redirects import embedded_url
from .report import MessageReport, Tracker, TrackerKind
from .text_scan import text_link_urls
from .tokens import clear_token_caches, recipient_forms
from .urls import registrable_domain, split_url

__all__ = [
    "Candidate",
    "MessageAnalysis",
    "RawMessage",
    "analyse_message",
    "clear_caches",
    "combine",
    "scan_messages",
]

#: Tags (``<``) of one message that its HTML parts may give the tree builder in
#: all: a message of a thousand parts must not cost a thousand times its worst
#: case (``html_scan``). The rest is read by walking the source.
_TREE_TAGS_PER_MESSAGE = 2 * MAX_TREE_TAGS


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as stored: where it came from and its exact bytes."""

    file: str
    key: str | None
    data: bytes


#: A URL of a message not flagged on its own, as ``(url, kind, link text)``:
#: copies of its campaign may reveal it.
Candidate = tuple[str, TrackerKind, str]


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    """What one message says on its own, and what ``combine`` may need of it.

    ``candidates`` are compared with the copies of the campaign, if it has any;
    most campaigns in a mailbox have one copy, so the comparison's work is left
    until the copies are known.
    """

    report: MessageReport
    campaign: CampaignKey | None
    candidates: tuple[Candidate, ...]
    functional_urls: frozenset[str] = frozenset()


def _observe(
    candidate: Candidate, functional_urls: frozenset[str], table: EndpointTable
) -> Observed | None:
    url, kind, text = candidate
    parts = split_url(url)
    if parts is None:
        return None
    shape = _skeleton(parts) if len(parts.url) <= _MAX_CACHED_URL else skeleton(parts)
    if shape is None:
        return None
    if kind is TrackerKind.CLICK:
        # A per-recipient link is a tracker only where clicks are counted; an
        # unsubscribe or password link must carry the identity to work. (The
        # cheaper test first: most links are neither.)
        if not (is_clickish(parts) or tracking_host_label(parts, table)):
            return None
        if is_functional(parts, text, functional_urls):
            return None
    return Observed(url, kind, shape)


#: Skeletons of URLs up to this length are remembered: a campaign's static
#: links recur in every copy.
_MAX_CACHED_URL = 2048
_skeleton = lru_cache(maxsize=16384)(skeleton)


def _observed(analysis: MessageAnalysis, table: EndpointTable) -> tuple[Observed, ...]:
    """The URLs to compare: the first occurrence of each that could vary."""
    out: dict[tuple[str, TrackerKind], Observed] = {}
    for candidate in analysis.candidates:
        if (candidate[0], candidate[1]) in out:
            continue
        seen = _observe(candidate, analysis.functional_urls, table)
        if seen is not None:
            out[(candidate[0], candidate[1])] = seen
    return tuple(out.values())


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


_PIXEL = TrackerKind.PIXEL
_CLICK = TrackerKind.CLICK


def _analyse(raw: RawMessage, limits: Limits, table: EndpointTable) -> MessageAnalysis:
    parsed = parse_message(raw.data, limits)
    ctx = MessageContext(
        table=table,
        recipients=recipient_forms(parsed.recipients),
        functional_urls=frozenset(parsed.list_unsubscribe),
    )
    errors = list(parsed.errors)
    trackers: dict[tuple[str, TrackerKind], Tracker] = {}
    candidates: dict[tuple[str, TrackerKind, str], None] = {}  # an ordered set
    # The same URL recurs (an image link and its button, the text part): each
    # distinct occurrence is judged once, and none once the URL is a tracker.
    done: set[tuple[object, ...]] = set()

    def record(url: str, kind: TrackerKind, text: str, tracker: Tracker | None) -> None:
        if tracker is not None:
            trackers[(url, kind)] = tracker
        else:
            candidates[(url, kind, text)] = None

    tree_tags = _TREE_TAGS_PER_MESSAGE
    for part in parsed.parts:
        if part.subtype == "html":
            tags = part.text.count("<")
            tree = tags <= min(tree_tags, MAX_TREE_TAGS)
            if tree:
                tree_tags -= tags
            found = scan_html_values(part.text, tree=tree, tags=tags)
            if found.error:
                errors.append(f"part {part.number} (text/html): {found.error}")
            for url, width, height, hidden, _ in found.images:
                seen = (url, _PIXEL, width, height, hidden)
                if (url, _PIXEL) not in trackers and seen not in done:
                    done.add(seen)
                    record(url, _PIXEL, "", classify_image_values(url, width, height, hidden, ctx))
            for link in found.links:
                url, text = link[0], link[1]
                if (url, _CLICK) not in trackers and (url, _CLICK, text) not in done:
                    done.add((url, _CLICK, text))
                    record(url, _CLICK, text, classify_link(url, text, ctx))
        else:
            for url in text_link_urls(part.text):
                if (url, _CLICK) not in trackers and (url, _CLICK, "") not in done:
                    done.add((url, _CLICK, ""))
                    record(url, _CLICK, "", classify_link(url, "", ctx))

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
    kept = tuple(c for c in candidates if (c[0], c[1]) not in trackers)
    return MessageAnalysis(report, key, kept, ctx.functional_urls)


def combine(
    analyses: Sequence[MessageAnalysis], *, table: EndpointTable | None = None
) -> list[MessageReport]:
    """Final reports: each message's own trackers plus those its copies reveal."""
    table = table or default_table()
    copies = Counter(a.campaign for a in analyses if a.campaign is not None)
    extra = per_recipient(
        [
            (a.campaign, _observed(a, table) if a.campaign and copies[a.campaign] > 1 else ())
            for a in analyses
        ]
    )
    reports = []
    for index, analysis in enumerate(analyses):
        report = analysis.report
        if index in extra:
            report = replace(report, trackers=report.trackers + tuple(extra[index]))
        reports.append(report)
    return reports


def clear_caches() -> None:
    """Forget every result remembered from earlier messages.

    URLs, tokens, styles and headers recur across a mailbox, so their
    analysis is cached for the life of the process; a benchmark that wants
    each round to start cold calls this between rounds.
    """
    for cached in (
        split_url,
        registrable_domain,
        embedded_url,
        host_suffixes,
        _skeleton,
    ):
        cached.cache_clear()
    clear_header_caches()
    clear_verdict_caches()
    clear_token_caches()
    clear_style_caches()
    clear_part_caches()


def scan_messages(
    messages: Iterable[RawMessage],
    *,
    limits: Limits = DEFAULT_LIMITS,
    table: EndpointTable | None = None,
) -> list[MessageReport]:
    """Reports for all messages, including trackers only the copies reveal."""
    return combine([analyse_message(m, limits=limits, table=table) for m in messages], table=table)
