"""What ``POST /api/collect`` accepts: one event or a JSON array of them.

Parsing is strict and pure. An event is an object with ``site``, ``type`` and
``url``, optionally ``referrer`` and ``props``; the trackpref script also
sends ``id`` (only when the person allows tracking), ``dnt`` and ``gpc`` (what
``navigator`` said, which can only make the preference stricter). Anything
else is refused with a :class:`CollectError` whose ``field`` names the culprit
(``events[3].url``), so a site developer fixes the right line; nothing of a
refused request is stored.

Only the path of ``url`` is kept: query strings and fragments carry search
terms, session tokens and e-mail addresses far too often. Of ``referrer``
only the host survives here; the classifier reduces it to a registrable
domain.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import repeat
from operator import is_
from typing import Any, NamedTuple, overload
from urllib.parse import urlsplit

from ..signals.errors import SignalError
from ..signals.parties import host_from_url, normalize_host

__all__ = [
    "EVENT_KEYS",
    "MAX_PROPS",
    "MAX_PROPS_JSON",
    "CollectError",
    "EventColumns",
    "IncomingEvent",
    "check_campaign",
    "check_props",
    "check_referrer",
    "check_site",
    "check_type",
    "parse_events",
    "path_of",
]

_BOM = b"\xef\xbb\xbf"
#: Keys an event object may carry.
EVENT_KEYS = frozenset({"site", "type", "url", "referrer", "props", "id", "dnt", "gpc"})
_PLAIN_KEYS = EVENT_KEYS - {"props"}
#: Arrays this long or longer are first checked column by column.
COLUMNS_FROM = 16
_TEXT = {str}
_TEXT_OR_NONE = {str, type(None)}
_BOOL_OR_NONE = {bool, type(None)}
#: At most this many custom properties per event.
MAX_PROPS = 20
_MAX_URL = 2048
_MAX_PROP_KEY = 40
_MAX_PROP_TEXT = 256
MAX_PROPS_JSON = 2048
_TYPE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}\Z")
_PROP_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}\Z")
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
_CAMPAIGN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")
#: The scheme and authority of an http(s) URL, as urlsplit would cut them.
_ORIGIN = re.compile(r"https?://[^/?#]*", re.IGNORECASE)


class EventColumns(Sequence["IncomingEvent"]):
    """A batch of events held as columns, one per :class:`IncomingEvent` field.

    The column-wise parse has the batch as columns, and the collector wants
    it as columns: handing them over as they are spares building a tuple per
    event only to take the tuples apart again. Read as a sequence, it is the
    events, built on first use.
    """

    __slots__ = ("_rows", "columns")

    def __init__(self, columns: tuple[Sequence[Any], ...]) -> None:
        #: In :class:`IncomingEvent`'s field order, each as long as the batch.
        self.columns = columns
        self._rows: list[IncomingEvent] | None = None

    def rows(self) -> list[IncomingEvent]:
        if self._rows is None:
            self._rows = list(
                map(tuple.__new__, repeat(IncomingEvent), zip(*self.columns, strict=True))
            )
        return self._rows

    def __len__(self) -> int:
        return len(self.columns[0])

    def __iter__(self) -> Iterator[IncomingEvent]:
        return iter(self.rows())  # not Sequence's: a Python call per event

    @overload
    def __getitem__(self, index: int) -> IncomingEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[IncomingEvent]: ...
    def __getitem__(self, index: int | slice) -> IncomingEvent | list[IncomingEvent]:
        return self.rows()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self.rows() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as a list's

    def __repr__(self) -> str:
        return f"EventColumns({self.rows()!r})"


class CollectError(SignalError):
    """A collect request is refused; ``field`` names what was wrong, ``status`` the answer."""

    def __init__(self, message: str, *, field: str, status: int = 400) -> None:
        super().__init__(message, field=field)
        self.status = status

    def as_dict(self) -> dict[str, object]:
        return {"error": self.message, "field": self.field}


class IncomingEvent(NamedTuple):
    """One validated event, reduced to what may be kept.

    A named tuple rather than a frozen dataclass: batches build hundreds of
    thousands a second, and it is just as immutable.
    """

    site: str
    type: str
    path: str
    #: Host of the page (from ``url``), to tell internal referrers apart.
    host: str | None
    #: Host of the referrer, if any (the classifier makes it a domain).
    referrer_host: str | None
    #: The custom properties as compact JSON text, or None.
    props: str | None
    #: The browser's pseudonymous id; the service keeps it only under allow.
    visitor_id: str | None
    #: What ``navigator.doNotTrack`` said ("0", "1") and ``globalPrivacyControl``.
    dnt: str | None
    gpc: bool


def _fail(field: str, message: str) -> CollectError:
    return CollectError(f"{field}: {message}", field=field)


@lru_cache(maxsize=4096)
def _normal_host(value: str) -> str | None:
    try:
        return normalize_host(value)
    except SignalError:
        return None


@lru_cache(maxsize=4096)
def _origin_host(origin: str) -> str | None:
    return host_from_url(origin)


def check_site(value: object, field: str = "site") -> str:
    """A site is named by its host (``news.example``), normalized."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "required: the host name of the site, e.g. news.example")
    host = _normal_host(value) if len(value) <= 253 else None
    if host is None:
        try:
            normalize_host(value)
        except SignalError as exc:
            raise _fail(field, f"not a host name ({exc.message})") from None
        raise _fail(field, "not a host name")
    return host


def check_type(value: object, field: str = "type") -> str:
    if not isinstance(value, str) or not _TYPE.match(value):
        raise _fail(
            field,
            "required: 'pageview' or an event name of lowercase letters, digits and _.:- "
            "(at most 64)",
        )
    return value


def check_campaign(value: object, field: str = "campaign") -> str:
    if not isinstance(value, str) or not _CAMPAIGN.match(value):
        raise _fail(field, "lowercase letters, digits and _.- (at most 64)")
    return value


def path_of(value: object, field: str = "url") -> tuple[str, str | None]:
    """(path, host) of an absolute http(s) URL or an absolute path."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "required: the page address (https://... or /path)")
    if len(value) > _MAX_URL:
        raise _fail(field, f"longer than {_MAX_URL} characters")
    if not value.isprintable():
        raise _fail(field, "contains control characters")
    # The two shapes nearly every request has, without urlsplit's generality.
    if value[0] == "/" and value[1:2] != "/":
        return value.partition("?")[0].partition("#")[0], None
    origin = _ORIGIN.match(value)
    if origin is not None:
        host = _origin_host(origin.group(0))
        if host is not None:
            path = value[origin.end() :].partition("?")[0].partition("#")[0]
            return path or "/", host
    try:
        parts = urlsplit(value)
    except ValueError:
        raise _fail(field, "not a URL") from None
    if parts.scheme:
        if parts.scheme not in ("http", "https"):
            raise _fail(field, f"scheme {parts.scheme!r} is not http or https")
        host = host_from_url(value)
        if host is None:
            raise _fail(field, "has no valid host")
        return parts.path or "/", host
    raise _fail(field, "must be an absolute http(s) URL or a path starting with '/'")


def check_referrer(value: object, field: str = "referrer") -> str | None:
    """The host of a referrer URL (None for none); the rest of it is never kept."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail(field, "must be a URL string")
    if len(value) > _MAX_URL:
        raise _fail(field, f"longer than {_MAX_URL} characters")
    if not value.isprintable():
        raise _fail(field, "contains control characters")
    origin = _ORIGIN.match(value)
    host = _origin_host(origin.group(0)) if origin is not None else host_from_url(value)
    if host is None:
        raise _fail(field, "not an http(s) URL")
    return host


def check_props(value: object, field: str = "props") -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(field, "must be an object of names to text, numbers or booleans")
    if len(value) > MAX_PROPS:
        raise _fail(field, f"at most {MAX_PROPS} properties")
    for key, v in value.items():
        if not _PROP_KEY.match(key):
            raise _fail(
                field, f"property names are letters, digits and _.- (at most {_MAX_PROP_KEY})"
            )
        where = f"{field}.{key}"
        if isinstance(v, str):
            if len(v) > _MAX_PROP_TEXT:
                raise _fail(where, f"longer than {_MAX_PROP_TEXT} characters")
            if not v.isprintable():
                raise _fail(where, "contains control characters")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise _fail(where, "not a finite number")
        elif v is not None and not isinstance(v, int | bool):
            raise _fail(where, "must be text, a number, a boolean or null")
    if not value:
        return None
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    if len(text) > MAX_PROPS_JSON:
        raise _fail(field, f"more than {MAX_PROPS_JSON} characters as JSON")
    return text


def _event(obj: object, where: str) -> IncomingEvent:
    prefix = f"{where}." if where else ""
    if not isinstance(obj, dict):
        raise _fail(where or "body", "an event must be a JSON object")
    for key in obj:
        if key not in EVENT_KEYS:
            shown = key if _PROP_KEY.match(key) else repr(key[:40])
            raise _fail(
                f"{prefix}{shown}",
                "unknown field; an event has site, type, url and optionally referrer and props",
            )
    site = check_site(obj.get("site"), f"{prefix}site")
    kind = check_type(obj.get("type"), f"{prefix}type")
    path, host = path_of(obj.get("url"), f"{prefix}url")
    referrer = check_referrer(obj.get("referrer"), f"{prefix}referrer")
    props = check_props(obj.get("props"), f"{prefix}props")
    vid: Any = obj.get("id")
    if vid is not None and (not isinstance(vid, str) or not _ID.match(vid)):
        raise _fail(f"{prefix}id", "must be 16 to 64 letters, digits, '-' or '_'")
    dnt: Any = obj.get("dnt")
    if dnt is not None and not isinstance(dnt, str):
        raise _fail(f"{prefix}dnt", "must be navigator.doNotTrack's text ('1', '0') or null")
    if dnt not in ("0", "1"):
        dnt = None  # navigator.doNotTrack also says "unspecified": no preference
    gpc: Any = obj.get("gpc", False)
    if not isinstance(gpc, bool) and gpc is not None:
        raise _fail(f"{prefix}gpc", "must be true or false")
    return IncomingEvent(site, kind, path, host, referrer, props, vid, dnt, bool(gpc))


@lru_cache(maxsize=8192)
def _url(value: str) -> tuple[str, str | None] | None:
    try:
        return path_of(value)
    except CollectError:
        return None


@lru_cache(maxsize=4096)
def _referrer(value: str) -> str | bool | None:
    try:
        return check_referrer(value)
    except CollectError:
        return False


@lru_cache(maxsize=1024)
def _type_ok(value: str) -> bool:
    return _TYPE.match(value) is not None


def _event_fast(obj: object) -> IncomingEvent | None:
    """The common, valid event, checked without building any error text.

    Returns None for anything unusual (an error, custom properties), which
    :func:`_event` then checks the long way, naming the field at fault. The
    caches are keyed by the raw strings, which repeat from event to event
    (one site, a few pages, a few referrers).
    """
    if type(obj) is not dict or not EVENT_KEYS.issuperset(obj):
        return None
    raw_site = obj.get("site")
    kind = obj.get("type")
    url = obj.get("url")
    if type(raw_site) is not str or type(kind) is not str or type(url) is not str:
        return None
    if obj.get("props") is not None or not 0 < len(raw_site) <= 253 or not _type_ok(kind):
        return None
    site = _normal_host(raw_site)
    page = _url(url) if len(url) <= _MAX_URL else None
    if site is None or page is None:
        return None
    ref = obj.get("referrer")
    referrer: str | bool | None = None
    if ref is not None and ref != "":
        referrer = _referrer(ref) if type(ref) is str and len(ref) <= _MAX_URL else False
        if referrer is False:
            return None
    vid = obj.get("id")
    if vid is not None and (type(vid) is not str or not _ID.match(vid)):
        return None
    gpc = obj.get("gpc", False)
    if gpc is not True and gpc is not False and gpc is not None:
        return None
    dnt = obj.get("dnt")
    if dnt is not None and type(dnt) is not str:
        return None
    return IncomingEvent(
        site,
        kind,
        page[0],
        page[1],
        referrer,  # type: ignore[arg-type]
        None,
        vid,
        dnt if dnt == "0" or dnt == "1" else None,
        gpc is True,
    )


def _columns(data: list[Any]) -> EventColumns | None:
    """A whole array of plain, valid events, checked field by field; else None.

    Values repeat across a batch (one site, a couple of types, a few pages and
    referrers), so each distinct value is checked once and the events are
    built by C-level ``map`` and ``zip``; per event, Python runs only the
    list comprehensions that pick the fields out. Nothing here writes an
    error: anything unusual (a wrong type, an invalid value, custom
    properties) returns None, and the array is checked one event at a time,
    which names the culprit. A property test holds both ways to one answer.
    """
    if set(map(type, data)) != {dict}:
        return None
    keys = set().union(*data)
    if not _PLAIN_KEYS.issuperset(keys):
        return None
    n = len(data)
    absent: tuple[None, ...] = (None,) * n  # shared by the columns: immutable
    sites = [d.get("site") for d in data]
    kinds = [d.get("type") for d in data]
    urls = [d.get("url") for d in data]
    if not set(map(type, sites)) == set(map(type, kinds)) == set(map(type, urls)) == _TEXT:
        return None
    site_of: dict[str, str] = {}
    for raw in set(sites):
        host = _normal_host(raw) if 0 < len(raw) <= 253 else None
        if host is None:
            return None
        site_of[raw] = host
    if not all(map(_type_ok, set(kinds))) or max(map(len, urls)) > _MAX_URL:
        return None
    pages = list(map(_url, urls))
    if None in pages:
        return None
    # A key no event has is a column of None, not a pass over the events.
    refs = [d.get("referrer") for d in data] if "referrer" in keys else absent
    ids = [d.get("id") for d in data] if "id" in keys else absent
    dnts = [d.get("dnt") for d in data] if "dnt" in keys else absent
    gpcs = [d.get("gpc") for d in data] if "gpc" in keys else absent
    if not (
        set(map(type, refs)) <= _TEXT_OR_NONE
        and set(map(type, ids)) <= _TEXT_OR_NONE
        and set(map(type, dnts)) <= _TEXT_OR_NONE
        and set(map(type, gpcs)) <= _BOOL_OR_NONE
    ):
        return None
    ref_of: dict[str | None, str | None] = {None: None, "": None}
    for raw in set(refs):
        if raw not in ref_of:
            found: str | bool | None = _referrer(raw) if len(raw) <= _MAX_URL else False
            if found is False or found is True:
                return None
            ref_of[raw] = found
    if not all(v is None or _ID.match(v) for v in set(ids)):
        return None
    dnt_of = {v: v if v == "0" or v == "1" else None for v in set(dnts)}
    paths, hosts = zip(*pages, strict=True)
    return EventColumns(
        (
            list(map(site_of.__getitem__, sites)),
            kinds,
            paths,
            hosts,
            list(map(ref_of.__getitem__, refs)),
            absent,
            ids,
            list(map(dnt_of.__getitem__, dnts)) if "dnt" in keys else absent,
            list(map(is_, gpcs, repeat(True))),
        )
    )


def parse_events(body: bytes, *, max_events: int) -> Sequence[IncomingEvent]:
    """Parse a collect body; raise :class:`CollectError` naming the field."""
    if not body.strip():
        raise _fail("body", "empty; send one event object or an array of them")
    try:
        # JSON is UTF-8 (RFC 8259 §8.1); decoding first spares json.loads
        # guessing the encoding of every body.
        if body[:3] == _BOM:  # RFC 8259 §8.1: a parser may ignore it, and some clients add it
            body = body[3:]
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail("body", f"not JSON ({str(exc)[:80]})") from None
    except RecursionError:  # json.loads recurses once per level of nesting
        raise _fail("body", "nested too deeply to be events") from None
    if isinstance(data, list):
        if not data:
            raise _fail("body", "an empty array; send at least one event")
        if len(data) > max_events:
            raise CollectError(
                f"body: {len(data)} events; at most {max_events} per request",
                field="body",
                status=413,
            )
        if len(data) >= COLUMNS_FROM:
            whole = _columns(data)
            if whole is not None:
                return whole
        fast = _event_fast
        return [fast(item) or _event(item, f"events[{i}]") for i, item in enumerate(data)]
    return [_event_fast(data) or _event(data, "")]
