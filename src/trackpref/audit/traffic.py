"""What one visit's traffic says, party by party.

Counts requests per third-party site, collects every ``Tk`` header (parsed by
the core, so a malformed one is reported with the core's reason), every
``Set-Cookie``, and checks that the signal the state was meant to send was on
the wire: an audit whose browser silently dropped ``Sec-GPC`` would otherwise
"prove" that a site ignores a signal it never received.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from trackpref.signals.dnt import parse_dnt
from trackpref.signals.errors import SignalError
from trackpref.signals.gpc import parse_gpc
from trackpref.signals.tracking_status import parse_tk

from .identifiers import split_set_cookie
from .observation import Observation, RequestRecord
from .site_parties import SiteParties, host_of
from .states import StateSpec

__all__ = [
    "Exempted",
    "SetCookieSeen",
    "SignalCheck",
    "ThirdParty",
    "TkSeen",
    "TrafficSummary",
    "check_signal",
    "origin_of",
    "summarise_traffic",
]


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]``, the default port left out, as browsers write it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


@dataclass(frozen=True, slots=True)
class ThirdParty:
    site: str
    requests: int
    hosts: tuple[str, ...]
    set_cookies: int


@dataclass(frozen=True, slots=True)
class Exempted:
    """Requests to another site that were not counted as third-party, and why
    (the site's TSR declared it same-party, or a tracker file made it the same
    entity): what the audit did not look at must be visible in the report."""

    site: str
    requests: int
    hosts: tuple[str, ...]
    #: ``same-party`` or ``same-entity``.
    kind: str
    why: str


@dataclass(frozen=True, slots=True)
class TkSeen:
    origin: str
    value: str
    status: str | None
    status_id: str | None
    problem: str | None
    third_party: bool
    responses: int


@dataclass(frozen=True, slots=True)
class SetCookieSeen:
    site: str
    name: str
    third_party: bool
    responses: int


@dataclass(frozen=True, slots=True)
class SignalCheck:
    """How many requests carried which signal, against what the state meant to send."""

    requests: int
    dnt1: int
    dnt0: int
    gpc: int
    expected_dnt: str | None
    expected_gpc: bool
    document_ok: bool

    @property
    def verified(self) -> bool:
        """The page request carried exactly the state's signal, and nine in ten
        of all requests did (workers and some prefetches escape header
        injection in Chromium)."""
        if not self.document_ok:
            return False
        if self.requests == 0:
            return True
        sent_dnt = {"1": self.dnt1, "0": self.dnt0, None: self.requests - self.dnt1 - self.dnt0}
        ok_dnt = sent_dnt[self.expected_dnt] >= 0.9 * self.requests
        with_gpc = self.gpc if self.expected_gpc else self.requests - self.gpc
        return ok_dnt and with_gpc >= 0.9 * self.requests


def _signal_of(request: RequestRecord) -> tuple[str | None, bool]:
    dnt = parse_dnt(request.header_values("dnt") or None).choice
    gpc = parse_gpc(request.header_values("sec-gpc") or None).enabled
    return dnt, gpc


def check_signal(obs: Observation, spec: StateSpec) -> SignalCheck:
    expected_dnt = spec.dnt.choice
    counted = [r for r in obs.requests if r.headers]
    dnt1 = dnt0 = gpc = 0
    document_ok = False
    seen_document = False
    for request in counted:
        dnt, has_gpc = _signal_of(request)
        dnt1 += dnt == "1"
        dnt0 += dnt == "0"
        gpc += has_gpc
        if request.navigation and not seen_document:
            seen_document = True
            document_ok = dnt == expected_dnt and has_gpc == spec.sends_gpc
    return SignalCheck(len(counted), dnt1, dnt0, gpc, expected_dnt, spec.sends_gpc, document_ok)


@dataclass(frozen=True, slots=True)
class TrafficSummary:
    requests: int
    first_party_requests: int
    third_party_requests: int
    failed_requests: int
    third_parties: tuple[ThirdParty, ...]
    tk: tuple[TkSeen, ...]
    set_cookies: tuple[SetCookieSeen, ...]
    #: First-party responses, and how many of them carried ``Tk`` (a site-wide
    #: ``?`` status requires it on every one).
    first_party_responses: int = 0
    first_party_responses_with_tk: int = 0
    #: ``(origin, responses, responses with Tk)`` per origin that answered. A
    #: site-wide TSR speaks for its own origin only: another host of the site
    #: has its own ``/.well-known/dnt/``, or none.
    responses_by_origin: tuple[tuple[str, int, int], ...] = ()
    #: Other sites' requests that were not counted as third-party.
    exempted: tuple[Exempted, ...] = ()

    def responses_without_tk(self, origin: str) -> int:
        """Responses from ``origin`` that carried no ``Tk`` header."""
        return sum(n - with_tk for o, n, with_tk in self.responses_by_origin if o == origin)


def summarise_traffic(obs: Observation, parties: SiteParties) -> TrafficSummary:
    first = third = failed = responses = responses_tk = 0
    per_site: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    hosts: dict[str, set[str]] = defaultdict(set)
    tk: Counter[tuple[str, tuple[str, ...], bool]] = Counter()
    cookies: Counter[tuple[str, str, bool]] = Counter()
    by_origin: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    exempt: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0])
    exempt_hosts: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for request in obs.requests:
        host = host_of(request.url)
        if host is None:
            continue
        if request.failure is not None:
            failed += 1
        is_third = parties.is_third_party(host)
        key = parties.recipient(host)
        if is_third:
            third += 1
            per_site[key][0] += 1
            hosts[key].add(host)
        else:
            first += 1
            exemption = parties.exemption(host)
            if exemption is not None:
                exempt[(key, *exemption)][0] += 1
                exempt_hosts[(key, *exemption)].add(host)
        set_cookie = request.response_header_values("set-cookie")
        for header in set_cookie:
            parsed = split_set_cookie(header)
            if parsed is not None:
                cookies[(key, parsed[0], is_third)] += 1
        if is_third:
            per_site[key][1] += len(set_cookie)
        tk_values = request.response_header_values("tk")
        if not is_third and request.status is not None:
            responses += 1
            responses_tk += bool(tk_values)
        origin = origin_of(request.url)
        if origin is not None and request.status is not None:
            by_origin[origin][0] += 1
            by_origin[origin][1] += bool(tk_values)
        if tk_values and origin is not None:
            tk[(origin, tuple(tk_values), is_third)] += 1
    tk_seen = []
    for (origin, values, is_third), count in sorted(tk.items()):
        value = ", ".join(values)
        try:
            tk_parsed = parse_tk(values)
            tk_seen.append(
                TkSeen(origin, value, tk_parsed.status, tk_parsed.status_id, None, is_third, count)
            )
        except SignalError as exc:
            tk_seen.append(TkSeen(origin, value, None, None, exc.message, is_third, count))
    return TrafficSummary(
        requests=first + third,
        first_party_requests=first,
        third_party_requests=third,
        failed_requests=failed,
        third_parties=tuple(
            ThirdParty(site, counts[0], tuple(sorted(hosts[site])), counts[1])
            for site, counts in sorted(per_site.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ),
        tk=tuple(tk_seen),
        set_cookies=tuple(
            SetCookieSeen(site, name, is_third, n)
            for (site, name, is_third), n in sorted(cookies.items())
        ),
        first_party_responses=responses,
        first_party_responses_with_tk=responses_tk,
        responses_by_origin=tuple((o, n[0], n[1]) for o, n in sorted(by_origin.items())),
        exempted=tuple(
            Exempted(site, n[0], tuple(sorted(exempt_hosts[(site, kind, why)])), kind, why)
            for (site, kind, why), n in sorted(exempt.items())
        ),
    )
