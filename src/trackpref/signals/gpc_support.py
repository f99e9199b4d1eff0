"""The GPC support resource, ``/.well-known/gpc.json`` (GPC §3.4 / "GPC Support Resource").

Unlike a TSR, a broken ``gpc.json`` is not an error for its reader: the spec
says support is then *unknown*. So :func:`parse_gpc_json` never raises; it
returns what can be known (``gpc`` and ``lastUpdate`` separately, since an
invalid date makes only the date unknown) together with the reasons, which an
auditor reports and a site owner fixes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Final

from .errors import SignalError
from .tsr import decode_json_object

__all__ = [
    "GPC_JSON_MEDIA_TYPE",
    "GPC_JSON_PATH",
    "MAX_GPC_JSON_BYTES",
    "GPCSupport",
    "format_gpc_json",
    "format_last_update",
    "parse_gpc_json",
    "parse_last_update",
]

GPC_JSON_PATH: Final = "/.well-known/gpc.json"
GPC_JSON_MEDIA_TYPE: Final = "application/json"
#: A real ``gpc.json`` is about forty bytes; anything this large is not one.
MAX_GPC_JSON_BYTES: Final = 64 * 1024

# RFC 3339 §5.6: full-date and date-time. The GPC spec shows the UTC,
# millisecond form, but cites RFC 3339, so every RFC 3339 date-time is read.
_FULL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class GPCSupport:
    """What a site's ``gpc.json`` says.

    ``gpc`` is ``True`` (abides by GPC at least where legally required),
    ``False`` (does not) or ``None`` (unknown). ``last_update`` is when the
    statement was made, a date or an aware datetime, or ``None`` if unknown.
    ``problems`` explains every unknown.
    """

    gpc: bool | None = None
    last_update: dt.date | dt.datetime | None = None
    problems: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.gpc is not None


def parse_last_update(value: str) -> dt.date | dt.datetime | None:
    """An RFC 3339 ``full-date`` or ``date-time``; ``None`` if it is not one.

    Fractions of a second beyond microseconds are truncated; ``-00:00``
    (offset unknown) is read as UTC; a leap second (``:60``) cannot be held by
    :mod:`datetime` and reads as unknown.
    """
    if (m := _FULL_DATE.fullmatch(value)) is not None:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    if (m := _DATE_TIME.fullmatch(value)) is None:
        return None
    offset = m[8]
    if offset in ("Z", "z"):
        tz = dt.UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        delta = dt.timedelta(hours=hours, minutes=minutes)
        tz = dt.timezone(-delta if offset[0] == "-" else delta)
    try:
        return dt.datetime(
            int(m[1]),
            int(m[2]),
            int(m[3]),
            int(m[4]),
            int(m[5]),
            int(m[6]),
            int((m[7] or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        return None


def format_last_update(value: dt.date) -> str:
    """``YYYY-MM-DD`` for a date; ``YYYY-MM-DDTHH:mm:ss.sssZ`` (UTC) for a datetime.

    A datetime must be aware: a statement's date that depends on the server's
    time zone is not a statement of anything. Milliseconds are the finest
    precision written, as in the spec's form.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise SignalError(
                f"lastUpdate {value.isoformat()} has no time zone; use an aware datetime or a date",
                field="lastUpdate",
            )
        try:
            u = value.astimezone(dt.UTC)
        except OverflowError:
            raise SignalError(
                f"lastUpdate {value.isoformat()} is out of range in UTC", field="lastUpdate"
            ) from None
        return (
            f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond // 1000:03d}Z"
        )
    return value.isoformat()


def format_gpc_json(gpc: bool, last_update: dt.date | None = None) -> bytes:
    """The body of ``/.well-known/gpc.json``, e.g. ``{"gpc": true, "lastUpdate": "2025-04-15"}``."""
    checked: object = gpc
    if not isinstance(checked, bool):
        raise SignalError(f"gpc must be true or false, not {gpc!r}", field="gpc")
    document: dict[str, object] = {"gpc": gpc}
    if last_update is not None:
        document["lastUpdate"] = format_last_update(last_update)
    return json.dumps(document).encode("ascii")


def parse_gpc_json(body: bytes | str, content_type: str | None) -> GPCSupport:
    """Read a fetched ``gpc.json`` (after redirects); never raises.

    ``content_type`` is the response's ``Content-Type`` (``None`` if absent):
    anything but ``application/json`` makes support unknown, though the body
    is still read so that the problems say what it claimed. Members other
    than ``gpc`` and ``lastUpdate`` are ignored.
    """
    problems: list[str] = []
    media_ok = True
    media = (content_type or "").partition(";")[0].strip().lower()
    if media != GPC_JSON_MEDIA_TYPE:
        media_ok = False
        shown = "missing" if content_type is None else repr(content_type[:80])
        problems.append(f"Content-Type: {shown} is not {GPC_JSON_MEDIA_TYPE}; support is unknown")
    document, load_problems = decode_json_object(body, limit=MAX_GPC_JSON_BYTES)
    problems.extend(f"{name}: {message}" for name, message in load_problems)
    if document is None:
        problems.append("gpc: support is unknown")
        return GPCSupport(problems=tuple(problems))
    duplicated = {name for name, _ in load_problems}

    gpc: bool | None = None
    value = document.get("gpc")
    if "gpc" not in document:
        problems.append("gpc: missing; support is unknown")
    elif "gpc" in duplicated:
        problems.append("gpc: support is unknown")
    elif isinstance(value, bool):
        gpc = value
    else:
        shown = json.dumps(value)[:40]
        problems.append(f"gpc: {shown} is not the JSON boolean true or false; support is unknown")

    last_update: dt.date | dt.datetime | None = None
    if "lastUpdate" in document:
        raw = document["lastUpdate"]
        if "lastUpdate" in duplicated:
            problems.append("lastUpdate: the date is unknown")
        elif not isinstance(raw, str):
            problems.append("lastUpdate: not a string; the date is unknown")
        elif (last_update := parse_last_update(raw)) is None:
            problems.append(
                f"lastUpdate: {raw[:40]!r} is not an RFC 3339 date (YYYY-MM-DD) or date-time "
                "(YYYY-MM-DDTHH:mm:ss.sssZ); the date is unknown"
            )

    if not media_ok:
        if gpc is not None:
            problems.append(f"gpc: the body says {str(gpc).lower()}, but the media type voids it")
        return GPCSupport(problems=tuple(problems))
    return GPCSupport(gpc=gpc, last_update=last_update, problems=tuple(problems))
