"""Identifier-like values, where they go, and who syncs them with whom.

An identifier is a value that singles out this browser. Three tests, in the
order they prune:

1. *Shape*: long enough and random enough to hold a few dozen bits
   (:func:`is_identifier_like`). Words, URLs and Unix timestamps are not.
2. *Persistence or recurrence within a visit*: the value was stored (a cookie,
   ``Set-Cookie``, web storage) or travels in two or more requests. A
   cache-buster appears once and is gone.
3. *Not a constant*: every state is a fresh browser context, so a value that
   shows up in two states is the same for everyone (a site key, an account id
   of the publisher), not an identifier of this browser.

The price of test 3 is that a fingerprint, which is stable across contexts of
one browser, is not counted; the report says so.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from .observation import Observation, RequestRecord, StorageRecord
from .site_parties import SiteParties, host_of
from .states import SignalState

__all__ = [
    "CookieSync",
    "IdentifierCookie",
    "IdentifierFlow",
    "IdentifierReport",
    "analyse_identifiers",
    "entropy_bits",
    "is_identifier_like",
    "request_tokens",
    "split_cookie_header",
    "split_set_cookie",
]

K = TypeVar("K")

MIN_LENGTH = 8
MAX_LENGTH = 256
#: Estimated bits a value must hold. 36 bits is about 9 hex digits or 7 mixed
#: alphanumerics: below that, collisions between browsers are common.
MIN_BITS = 36.0
#: Bytes of a request body searched for identifiers.
MAX_BODY = 16_384
_SPLIT = re.compile(r"[.|:;,~ ]+")
_HEX = frozenset("0123456789abcdef")


def entropy_bits(value: str) -> float:
    """A generous estimate of the bits a random string of this shape holds:
    length times log2 of the alphabet its character classes span."""
    if not value:
        return 0.0
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digits = any(c.isdigit() for c in value)
    other = any(not c.isalnum() for c in value)
    if set(value.lower()) <= _HEX and not (lower and upper):
        alphabet = 16 if (lower or upper) else 10
    else:
        alphabet = (26 if lower else 0) + (26 if upper else 0) + (10 if digits else 0)
        alphabet += 4 if other else 0
    return len(value) * math.log2(max(alphabet, 2))


def _shannon(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _timestamp_like(value: str, now: float) -> bool:
    if not value.isdigit() or len(value) not in (10, 13):
        return False
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    return abs(seconds - now) < 20 * 365 * 86400


def is_identifier_like(value: str, *, now: float | None = None) -> bool:
    """Could ``value`` single out one browser among many?"""
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return False
    if "://" in value or value.startswith("/") or any(c.isspace() for c in value):
        return False
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        return False
    if _timestamp_like(value, time.time() if now is None else now):
        return False
    has_digit = any(c.isdigit() for c in value)
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    if not has_digit and not (mixed and len(value) >= 12) and len(value) < 20:
        return False
    if _shannon(value) < 2.5:
        return False
    return entropy_bits(value) >= MIN_BITS


def _candidates(value: str) -> Iterator[str]:
    """The value itself and its parts (``GA1.2.3.4`` style compounds)."""
    value = value.strip().strip('"')
    if len(value) > 4 * MAX_LENGTH:
        value = value[: 4 * MAX_LENGTH]
    if is_identifier_like(value):
        yield value
    parts = _SPLIT.split(value)
    if len(parts) > 1:
        for part in parts:
            if is_identifier_like(part):
                yield part


def split_cookie_header(header: str) -> list[tuple[str, str]]:
    out = []
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name:
            out.append((name.strip(), unquote(value.strip())))
    return out


def split_set_cookie(header: str) -> tuple[str, str] | None:
    first = header.split(";", 1)[0]
    name, sep, value = first.partition("=")
    if not sep or not name.strip():
        return None
    return name.strip(), unquote(value.strip())


def _json_strings(data: object, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > 6:
        return
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in list(data.items())[:200]:
            yield from _json_strings(value, str(key), depth + 1)
    elif isinstance(data, list):
        for item in data[:200]:
            yield from _json_strings(item, path, depth + 1)


def request_tokens(request: RequestRecord) -> list[tuple[str, str]]:
    """Identifier-like values a request carries, each with where it was:
    ``cookie:<name>``, ``query:<name>``, ``path``, ``body:<name>``."""
    out: list[tuple[str, str]] = []
    for header in request.header_values("cookie"):
        for name, value in split_cookie_header(header):
            out.extend((v, f"cookie:{name}") for v in _candidates(value))
    try:
        parts = urlsplit(request.url)
    except ValueError:
        return out
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        out.extend((v, f"query:{name}") for v in _candidates(value))
    for segment in parts.path.split("/"):
        out.extend((v, "path") for v in _candidates(unquote(segment)))
    body = request.post_data
    if body:
        text = body[:MAX_BODY].decode("utf-8", "replace")
        content_type = (request.header("content-type") or "").lower()
        pairs: Iterable[tuple[str, str]]
        if "json" in content_type or text.lstrip().startswith(("{", "[")):
            try:
                pairs = list(_json_strings(json.loads(text), "body"))
            except (ValueError, RecursionError):  # not JSON, or absurdly nested
                pairs = ()
        else:
            pairs = parse_qsl(text, keep_blank_values=False)
        for name, value in pairs:
            out.extend((v, f"body:{name}") for v in _candidates(value))
    return out


@dataclass(frozen=True, slots=True)
class IdentifierFlow:
    """An identifier that reached a third party."""

    value: str
    recipient: str
    via: tuple[str, ...]
    requests: int
    #: The site whose cookie or storage holds the value, when known.
    owner: str | None
    #: The recipient set it with ``Set-Cookie`` in this visit.
    set_by_recipient: bool

    @property
    def shared_by_first_party(self) -> bool:
        return self.owner is not None and self.owner != self.recipient


@dataclass(frozen=True, slots=True)
class IdentifierCookie:
    site: str
    name: str
    value: str
    third_party: bool


@dataclass(frozen=True, slots=True)
class CookieSync:
    """An identifier owned by one party, handed to another third party."""

    value: str
    source: str
    target: str
    via: str


@dataclass(frozen=True, slots=True)
class IdentifierReport:
    state: SignalState
    flows: tuple[IdentifierFlow, ...] = ()
    cookies: tuple[IdentifierCookie, ...] = ()
    syncs: tuple[CookieSync, ...] = ()
    #: Identifier-like values in web storage: (origin site, key, value).
    storage: tuple[tuple[str, str, str], ...] = ()
    #: Candidates dropped because another state saw the same value.
    constants: int = 0

    @property
    def third_party_cookies(self) -> tuple[IdentifierCookie, ...]:
        return tuple(c for c in self.cookies if c.third_party)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(sorted({f.recipient for f in self.flows}))


@dataclass
class _StateScan:
    """Raw candidates of one state before the cross-state filter."""

    # value -> set of request indexes it appeared in
    seen_in: dict[str, set[int]]
    # (request index, value, where, recipient site, third party?)
    uses: list[tuple[int, str, str, str, bool]]
    # value -> owners (site) from cookie jar, Set-Cookie and storage
    owners: dict[str, set[str]]
    set_cookie: set[tuple[str, str]]  # (site, value)
    jar: list[tuple[str, str, str]]  # (site, name, value)
    storage: list[tuple[str, str, str]]

    def all_values(self) -> set[str]:
        return set(self.seen_in) | set(self.owners)


def _scan(obs: Observation, parties: SiteParties) -> _StateScan:
    scan = _StateScan(defaultdict(set), [], defaultdict(set), set(), [], [])
    for index, request in enumerate(obs.requests):
        host = host_of(request.url)
        if host is None:
            continue
        recipient = parties.recipient(host)
        third = parties.is_third_party(host)
        for value, where in request_tokens(request):
            scan.seen_in[value].add(index)
            scan.uses.append((index, value, where, recipient, third))
        for header in request.response_header_values("set-cookie"):
            parsed = split_set_cookie(header)
            if parsed is None:
                continue
            for value in _candidates(parsed[1]):
                scan.owners[value].add(recipient)
                scan.set_cookie.add((recipient, value))
                scan.uses.append((index, value, f"set-cookie:{parsed[0]}", recipient, third))
    for cookie in obs.cookies:
        owner = parties.recipient(cookie.host)  # a cloaked host's cookie is its tracker's
        for value in _candidates(cookie.value):
            scan.owners[value].add(owner)
            scan.jar.append((owner, cookie.name, value))
    for item in obs.storage:
        host = host_of(item.origin)
        owner = parties.recipient(host) if host else item.origin
        cached_at = _cached_url(item)
        for value in _candidates(item.value):
            if cached_at is not None and _only_sent_to(cached_at, scan.seen_in.get(value), obs):
                # Only requests to the URL it is cached under carry it (a
                # cache-buster, a service worker's copy): sends, not a stored value.
                continue
            scan.owners[value].add(owner)
            scan.storage.append((owner, item.key, value))
    return scan


def _cached_url(item: StorageRecord) -> str | None:
    """The URL (without its query) a Cache API parameter item was cached under."""
    if item.kind != "cache":
        return None
    head, sep, _ = item.key.rpartition(" ?")
    return head.rsplit(" ", 1)[-1] if sep else None


def _only_sent_to(url: str, indices: set[int] | None, obs: Observation) -> bool:
    return bool(indices) and all(
        obs.requests[i].url.partition("#")[0].partition("?")[0] == url for i in indices or ()
    )


def _owner_of(value: str, owners: Mapping[str, set[str]]) -> set[str]:
    direct = owners.get(value)
    if direct:
        return set(direct)
    found: set[str] = set()
    for stored, sites in owners.items():
        if len(stored) >= 10 and len(value) >= 10 and (stored in value or value in stored):
            found |= sites
    return found


def analyse_identifiers(
    observations: Mapping[K, Observation], parties: SiteParties
) -> dict[K, IdentifierReport]:
    """Per visit: identifiers sent to or set by third parties, identifier
    cookies, cookie syncs and identifier-like storage.

    The keys are the caller's (a state, or a state and a repeat number); every
    visit given must be a fresh browser context, since a value seen in two of
    them is taken for a constant.
    """
    scans = {key: (obs.state, _scan(obs, parties)) for key, obs in observations.items()}
    occurrences: Counter[str] = Counter()
    for _, scan in scans.values():
        occurrences.update(scan.all_values())
    constants = {v for v, n in occurrences.items() if n > 1}
    return {key: _report(state, scan, parties, constants) for key, (state, scan) in scans.items()}


def _report(
    state: SignalState, scan: _StateScan, parties: SiteParties, constants: set[str]
) -> IdentifierReport:
    def qualifies(value: str) -> bool:
        if value in constants:
            return False
        return value in scan.owners or len(scan.seen_in.get(value, ())) >= 2

    flows: dict[tuple[str, str], dict[str, object]] = {}
    syncs: dict[tuple[str, str, str], CookieSync] = {}
    dropped = {v for v in scan.all_values() if v in constants}
    for index, value, where, recipient, third in scan.uses:
        if not third or not qualifies(value):
            continue
        key = (value, recipient)
        entry = flows.setdefault(key, {"via": [], "requests": set(), "set": False})
        via = entry["via"]
        assert isinstance(via, list)
        if where not in via:
            via.append(where)
        requests = entry["requests"]
        assert isinstance(requests, set)
        if not where.startswith("set-cookie:"):
            requests.add(index)
        else:
            entry["set"] = True
        if where.startswith(("query:", "body:", "path")):
            for source in _owner_of(value, scan.owners):
                if source != recipient and source != parties.site:
                    syncs[(value, source, recipient)] = CookieSync(value, source, recipient, where)
    out_flows = []
    for (value, recipient), entry in sorted(flows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        owners = _owner_of(value, scan.owners)
        owner = parties.site if parties.site in owners else (min(owners) if owners else None)
        via = entry["via"]
        requests = entry["requests"]
        assert isinstance(via, list)
        assert isinstance(requests, set)
        out_flows.append(
            IdentifierFlow(
                value=value,
                recipient=recipient,
                via=tuple(via),
                requests=len(requests),
                owner=owner,
                set_by_recipient=bool(entry["set"]),
            )
        )
    cookies = tuple(
        sorted(
            {
                IdentifierCookie(site, name, value, parties.is_third_party(site))
                for site, name, value in scan.jar
                if value not in constants
            },
            key=lambda c: (c.site, c.name),
        )
    )
    storage = tuple(sorted({s for s in scan.storage if s[2] not in constants}))
    return IdentifierReport(
        state=state,
        flows=tuple(out_flows),
        cookies=cookies,
        syncs=tuple(sorted(syncs.values(), key=lambda s: (s.source, s.target, s.value))),
        storage=storage,
        constants=len(dropped),
    )
