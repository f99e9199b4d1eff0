"""What a scan reports: trackers per message, and a summary per sender.

These are plain frozen records so that the CLI, the cleaner and tests consume
the same thing; ``to_json`` is the stable machine-readable form
(``trackpref mail scan --json``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "MessageReport",
    "SenderSummary",
    "Tracker",
    "TrackerKind",
    "printable",
    "summarise_senders",
    "to_json",
]


def printable(value: str) -> str:
    """Text any UTF-8 output takes: lone surrogates (bytes the scan kept as they
    were, see ``message.decode_text``) become U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def _text(value: str | None) -> str | None:
    return None if value is None else printable(value)


class TrackerKind(StrEnum):
    PIXEL = "pixel"
    CLICK = "click"


@dataclass(frozen=True, slots=True)
class Tracker:
    """One tracking URL in one message.

    ``target`` is where a click tracker sends the reader, when the URL itself
    says so (``None`` when only the tracker's server knows); ``service`` names
    the e-mail service whose endpoint it is, when known.
    """

    url: str
    kind: TrackerKind
    reason: str
    service: str | None = None
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": _text(self.url),
            "kind": self.kind.value,
            "reason": _text(self.reason),
            "service": self.service,
            "target": _text(self.target),
        }


@dataclass(frozen=True, slots=True)
class MessageReport:
    """The scan of one message; ``errors`` name what was wrong with its input."""

    file: str
    key: str | None
    message_id: str | None
    sender: str | None
    sender_address: str | None
    subject: str | None
    trackers: tuple[Tracker, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def pixels(self) -> tuple[Tracker, ...]:
        return tuple(t for t in self.trackers if t.kind is TrackerKind.PIXEL)

    @property
    def clicks(self) -> tuple[Tracker, ...]:
        return tuple(t for t in self.trackers if t.kind is TrackerKind.CLICK)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": _text(self.file),
            "key": _text(self.key),
            "message_id": _text(self.message_id),
            "from": _text(self.sender),
            "subject": _text(self.subject),
            "trackers": [t.to_json() for t in self.trackers],
            "errors": [_text(e) for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class SenderSummary:
    sender: str
    messages: int
    tracked_messages: int
    pixels: int
    clicks: int
    services: tuple[str, ...] = field(default=())


def summarise_senders(reports: Iterable[MessageReport]) -> list[SenderSummary]:
    """Per sender address, most-tracking first."""
    rows: dict[str, list[Any]] = {}
    for report in reports:
        who = report.sender_address or report.sender or "(no sender)"
        row = rows.setdefault(who, [0, 0, 0, 0, set()])
        row[0] += 1
        row[1] += 1 if report.trackers else 0
        row[2] += len(report.pixels)
        row[3] += len(report.clicks)
        row[4].update(t.service for t in report.trackers if t.service)
    out = [
        SenderSummary(who, r[0], r[1], r[2], r[3], tuple(sorted(r[4]))) for who, r in rows.items()
    ]
    out.sort(key=lambda s: (-(s.pixels + s.clicks), s.sender))
    return out


def to_json(reports: Sequence[MessageReport]) -> list[dict[str, Any]]:
    return [r.to_json() for r in reports]
