"""Copies of one campaign compared: what changes per recipient is a token.

A newsletter goes to many people as near-identical messages. A URL that is the
same in every copy except for one opaque component (``.../open.php?u=1&e=a1``
here, ``...&e=b2`` there) can only be there to tell recipients apart. That is
evidence no single message gives, and it finds trackers of services nobody has
put in a table.

Messages are copies of one campaign when they have the same sender address,
the same subject (and the same ``List-Id`` when there is one) and were sent on
the same day: a weekly digest that reuses its subject is a new campaign every
week, with new campaign-level ids that must not pass for per-recipient tokens. URLs are compared
by their skeleton: the URL with every component that could be a token replaced
by ``*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .report import Tracker, TrackerKind
from .tokens import could_vary
from .urls import URLParts

__all__ = ["CampaignKey", "Observed", "campaign_key", "per_recipient", "skeleton"]

CampaignKey = tuple[str, str, str, str]
Skeleton = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Observed:
    """A URL of a message not flagged on its own, kept for the comparison."""

    url: str
    kind: TrackerKind
    skeleton: Skeleton


def campaign_key(
    sender_address: str | None, subject: str | None, list_id: str | None, sent_day: str | None
) -> CampaignKey | None:
    if not sender_address or not (subject or list_id):
        return None
    subject_key = " ".join((subject or "").casefold().split())
    return (sender_address.lower(), subject_key, list_id or "", sent_day or "")


def skeleton(parts: URLParts) -> Skeleton | None:
    """The URL with its possible tokens masked; ``None`` if it has none."""
    masked = False
    out = [parts.host.lower()]
    for segment in parts.segments:
        if could_vary(segment):
            out.append("/*")
            masked = True
        else:
            out.append("/" + segment)
    for key, value in sorted(parts.query):
        if value and could_vary(value):
            out.append(f"?{key}=*")
            masked = True
        else:
            out.append(f"?{key}={value}")
    return tuple(out) if masked else None


def per_recipient(
    messages: Sequence[tuple[CampaignKey | None, Sequence[Observed]]],
) -> dict[int, list[Tracker]]:
    """Trackers found only by comparing copies, by message index."""
    groups: dict[tuple[CampaignKey, TrackerKind, Skeleton], dict[int, set[str]]] = {}
    for index, (key, observed) in enumerate(messages):
        if key is None:
            continue
        for item in observed:
            groups.setdefault((key, item.kind, item.skeleton), {}).setdefault(index, set()).add(
                item.url
            )
    found: dict[int, dict[tuple[str, TrackerKind], Tracker]] = {}
    for (_, kind, _), by_message in groups.items():
        if len(by_message) < 2:
            continue
        for index, urls in by_message.items():
            others = [u for i, u in by_message.items() if i != index]
            for url in urls:
                if any(url in other for other in others):
                    continue
                reason = (
                    f"a token in this URL differs between {len(by_message)} copies of the campaign"
                )
                found.setdefault(index, {})[(url, kind)] = Tracker(url, kind, reason)
    return {index: list(trackers.values()) for index, trackers in found.items()}
