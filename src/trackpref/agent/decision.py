"""The proxy's decision core: one request description in, one decision out.

Pure: no I/O, no mitmproxy, the time passed in. The mitmproxy addon
(``agent.addon``) only translates a flow into a :class:`RequestInfo`, calls
:func:`decide_request`, and applies the :class:`RequestDecision`.

Order of the rules (``docs/proxy.md``):

1. A site (or destination) the person marked unprotected: nothing changes.
2. The signals: :meth:`UserPreference.header_values` for this
   ``[site, target]`` pair, merged with the app's own fields by the
   intermediary rules of ``signal_headers``.
3. Protections apply only where the person's effective preference for the
   pair is do-not-track: an "allow", an exception or no choice at all
   (unset) is the person's call, and blocking their way would override it.
4. A third-party tracker (from the TDS file or learned) that has not declared
   compliance is blocked (or gets its surrogate); a listed tracker the list
   says not to block loses its cookies instead.
5. An e-mail open pixel (the mail classifier) is blocked.
6. Tracking parameters leave navigations; the ``Referer`` to another party is
   trimmed to the origin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..signals.preference import PreferenceState
from .declarations import DeclarationCache
from .domains import host_site
from .learning import TrackerLearner
from .preference_file import UserPreference, signal_headers_for
from .protections import Protections
from .referrer import trim_referrer
from .request import RequestInfo, url_host
from .signal_headers import UNTOUCHED, SignalFields, merge_signal_headers
from .tds import Surrogate, TrackerAction, TrackerData, TrackerMatch
from .url_params import strip_tracking_parameters

__all__ = [
    "NOT_TRACKING",
    "Knowledge",
    "RequestDecision",
    "TrackingVerdict",
    "decide_request",
    "learning_pair",
    "tracking_verdict",
]

#: ``mail_pixel(url) -> reason | None``: is this URL an e-mail open pixel?
MailPixel = Callable[[str], "str | None"]


def _no_surrogates() -> Mapping[str, Surrogate]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, eq=False)
class Knowledge:
    """Everything a decision consults besides the person's preference.

    ``learner`` and ``declarations`` are live stores filled by background
    work; a decision only reads them (lock-free snapshots).
    """

    trackers: TrackerData = field(default_factory=TrackerData)
    protections: Protections = field(default_factory=Protections)
    surrogates: Mapping[str, Surrogate] = field(default_factory=_no_surrogates)
    learner: TrackerLearner | None = None
    declarations: DeclarationCache | None = None
    mail_pixel: MailPixel | None = None
    #: Verdicts already made, keyed by the tracker list's answer (an object the
    #: list owns, so its id is stable) or a learned domain: a page asks the
    #: same few questions many times, and a verdict is cheaper found than built.
    verdicts: dict[tuple[object, bool, bool], TrackingVerdict] = field(
        default_factory=dict, repr=False
    )


@dataclass(frozen=True, slots=True)
class TrackingVerdict:
    """The blocking decision for one request.

    ``tracker`` is the listed or learned tracker domain; ``match`` what the
    tracker list said (None for a learned tracker); ``declared`` whether the
    tracker's declared compliance spared it. ``check`` is true when its
    declarations are unknown and worth checking (it counts as undeclared
    until then).
    """

    block: bool
    strip_cookies: bool
    surrogate: Surrogate | None = None
    tracker: str | None = None
    match: TrackerMatch | None = None
    declared: bool = False
    check: bool = False

    @property
    def reason(self) -> str:
        """A readable account, built only when someone reads it (logs)."""
        if self.tracker is None:
            return ""
        if self.declared:
            return f"{self.tracker} declared compliance"
        if self.match is None:
            return f"learned tracker {self.tracker}"
        return f"tracker {self.tracker} ({self.match.reason})"


NOT_TRACKING = TrackingVerdict(False, False)
# Enum members are looked up through a descriptor; the hot path compares identity.
_IGNORE = TrackerAction.IGNORE
_VERDICT_CACHE = 16384


def tracking_verdict(req: RequestInfo, knowledge: Knowledge, now: float) -> TrackingVerdict:
    """Is this request a third-party tracker to block, or to strip of cookies?

    The per-request cost is a few dict lookups (the host-suffix prefilter);
    only a listed tracker's own rules are ever evaluated.
    """
    tds = knowledge.trackers
    site = req.site
    match = tds.match(req.scheme, req.host, req.path, site, req.resource_type, knowledge.surrogates)
    if match is not None:
        if match.first_party:
            return NOT_TRACKING
        tracker = match.tracker
        blocked = match.action is not _IGNORE
    else:
        learner = knowledge.learner
        if learner is None or not learner.learned:
            return NOT_TRACKING
        base = host_site(req.host)
        if base not in learner.learned:
            return NOT_TRACKING
        if site is not None and tds.same_party(req.host, site):
            return NOT_TRACKING
        tracker, blocked = base, True
    p = knowledge.protections
    strip = p.cookies and (
        p.no_cookie_switches
        or not (p.cookie_exceptions.covers(site) or req.host in p.excluded_cookie_domains)
    )
    if not (blocked or strip):
        return NOT_TRACKING
    check = False
    declarations = knowledge.declarations
    if declarations is not None:
        origin = req.origin
        declared = declarations.declared(origin, now)
        if declared is None:
            check = True
            declared = declarations.compliant(origin)
        if declared:
            return TrackingVerdict(False, False, None, tracker, match, True, check)
    cache = knowledge.verdicts
    key = (tracker if match is None else id(match), strip, check)
    verdict = cache.get(key)
    if verdict is None:
        surrogate = None
        if match is not None and match.surrogate is not None:
            surrogate = knowledge.surrogates.get(match.surrogate)
        verdict = TrackingVerdict(blocked, strip, surrogate, tracker, match, False, check)
        if len(cache) >= _VERDICT_CACHE:
            cache.clear()
        cache[key] = verdict
    return verdict


@dataclass(frozen=True, slots=True)
class RequestDecision:
    """What to do with one request.

    ``signals`` are the ``DNT`` / ``Sec-GPC`` fields to leave with; ``path`` a
    rewritten path and query (None: unchanged); ``referrer`` the ``Referer``
    to send when ``referrer_changed`` (None: remove it); ``check_origin`` an
    origin whose declarations the adapter should have checked out of band.
    """

    state: PreferenceState
    signals: SignalFields = UNTOUCHED
    block: bool = False
    surrogate: Surrogate | None = None
    strip_cookies: bool = False
    path: str | None = None
    referrer: str | None = None
    referrer_changed: bool = False
    reason: str = ""
    check_origin: str | None = None


def decide_request(
    req: RequestInfo, pref: UserPreference, knowledge: Knowledge, now: float
) -> RequestDecision:
    """Apply the person's preference and the protections to one request."""
    p = knowledge.protections
    site = req.site
    if p.unprotected.any_of(site, req.host):
        return RequestDecision(pref.state, reason="unprotected site")
    state = pref.effective_state(site, req.host, now)
    wanted = signal_headers_for(state)
    add_gpc = p.gpc and not p.gpc_exceptions.covers(site if site is not None else req.host)
    signals = merge_signal_headers(wanted, req.gpc, add_gpc=add_gpc)
    if state is not PreferenceState.DO_NOT_TRACK:
        return RequestDecision(state, signals)

    verdict = tracking_verdict(req, knowledge, now)
    block, reason = verdict.block, verdict.reason
    mail = knowledge.mail_pixel
    # Only a fetch with no page behind it (a mail client loading remote images):
    # on a web page the generic pixel heuristics would hit ordinary images.
    if (
        not block
        and mail is not None
        and req.referrer is None
        and site == req.host
        and (req.resource_type == "image" or not req.from_browser)
    ):
        why = mail(req.url)
        if why is not None:
            block, reason = True, f"e-mail pixel: {why}"

    # Computed for blocked requests too: the decision is complete whatever the
    # adapter does with it, and the reference vectors ask for each part.
    path = None
    if (
        p.parameters
        and req.navigation
        and "?" in req.path
        and not p.parameter_exceptions.any_of(site, req.host)
    ):
        cleaned = strip_tracking_parameters(req.path, p.tracking_parameters)
        if cleaned != req.path:
            path = cleaned

    referrer = req.referrer
    referrer_changed = False
    if p.referrer and referrer is not None:
        ref_host = url_host(referrer)
        if not p.referrer_exceptions.any_of(site, req.host, ref_host):
            trimmed = trim_referrer(referrer, req.host, knowledge.trackers.same_party)
            if trimmed != referrer:
                referrer, referrer_changed = trimmed, True
    return RequestDecision(
        state,
        signals,
        block=block,
        surrogate=verdict.surrogate if verdict.block else None,
        strip_cookies=verdict.strip_cookies or (block and not verdict.block),
        path=path,
        referrer=referrer,
        referrer_changed=referrer_changed,
        reason=reason,
        check_origin=req.origin if verdict.check else None,
    )


def learning_pair(req: RequestInfo, knowledge: Knowledge) -> tuple[str, str] | None:
    """``(third-party site, first-party site)`` for a cross-party request on a known site."""
    site = req.site
    if site is None or site == req.host:
        return None
    if knowledge.trackers.same_party(req.host, site):
        return None
    return host_site(req.host), host_site(site)
