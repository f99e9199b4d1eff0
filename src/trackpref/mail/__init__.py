"""E-mail tracking: find open pixels and click trackers, and remove them.

``scan_path`` reports, ``clean_path`` writes cleaned copies; both read ``.eml``
files, folders of them, mbox files and Maildirs. The pure core underneath
(``scan_messages``, ``clean_message``) works on bytes. ``docs/mail.md`` explains
the heuristics and the decisions behind them.
"""

from __future__ import annotations

from .clean import CleanResult, clean_message
from .endpoints import EndpointTable, default_table, load_table
from .mailstore import MailFormat, MailSourceError, detect_format, read_messages
from .message import Limits
from .report import MessageReport, SenderSummary, Tracker, TrackerKind, summarise_senders, to_json
from .runner import CleanSummary, ScanResult, clean_path, scan_path
from .scanner import RawMessage, scan_messages

__all__ = [
    "CleanResult",
    "CleanSummary",
    "EndpointTable",
    "Limits",
    "MailFormat",
    "MailSourceError",
    "MessageReport",
    "RawMessage",
    "ScanResult",
    "SenderSummary",
    "Tracker",
    "TrackerKind",
    "clean_message",
    "clean_path",
    "default_table",
    "detect_format",
    "load_table",
    "read_messages",
    "scan_messages",
    "scan_path",
    "summarise_senders",
    "to_json",
]
