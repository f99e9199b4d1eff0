"""User-granted tracking exceptions, as the TPE Note (2019) defines them (§5).

An exception is a stored duplet ``[site, target]``: while the person browses
``site``, requests to ``target`` carry ``DNT: 0`` whatever the general
preference. A site stores them through ``storeTrackingException`` once the
person consented, checks them with ``trackingExceptionExists`` and revokes them
with ``removeTrackingException``. This module is that database and those three
calls as pure functions: every operation takes the old :class:`ExceptionSet`
and returns a new one, and the time is always passed in (``now``, seconds), so
that expiry is testable and the storage adapter decides when "now" is.

The duplets of one store call are a :class:`Grant`, kept or dropped as a unit:
the Note forbids keeping a subset of what the person agreed to.

The precise readings taken where the Note is loose are in ``docs/exceptions.md``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidStateError, SecurityError, SignalError, SyntaxError_
from .parties import can_set_cookie, is_ip_address, normalize_host

__all__ = [
    "MAX_AGE_LIMIT",
    "MAX_DETAILS_LENGTH",
    "MAX_EXPLANATION_LENGTH",
    "MAX_GRANTS",
    "MAX_NAME_LENGTH",
    "MAX_TARGETS",
    "WILDCARD",
    "Duplet",
    "ExceptionRequest",
    "ExceptionSet",
    "Grant",
    "StoreResult",
    "matches",
    "subsumes",
]

WILDCARD = "*"

#: Caps on what one call may carry. A consent portal for a large ad network
#: lists a few hundred partners; more than this is an attack on the store.
MAX_TARGETS = 256
MAX_NAME_LENGTH = 256
MAX_EXPLANATION_LENGTH = 4096
MAX_DETAILS_LENGTH = 2048
#: ``maxAge`` is a WebIDL ``long``.
MAX_AGE_LIMIT = 2**31 - 1
#: One person's database holds at most this many grants; a site calling the
#: API in a loop must not grow it without bound.
MAX_GRANTS = 4096

# Characters RFC 3986 never allows in a URI reference, not even percent-encoded.
_URI_FORBIDDEN = frozenset('<>"{}|\\^`')


# -- values ---------------------------------------------------------------------


def _value(raw: object, member: str) -> str:
    """A site or target in canonical form: ``"*"``, ``"*.domain"`` or a host."""
    if not isinstance(raw, str):
        raise SyntaxError_(f"{member}: expected a string, not {type(raw).__name__}", field=member)
    if raw == WILDCARD:
        return raw
    wild = raw.startswith("*.")
    try:
        host = normalize_host(raw[2:] if wild else raw)
    except SignalError as exc:
        hint = " (write '*.domain' to include subdomains)" if raw.startswith(".") else ""
        raise SyntaxError_(
            f"{member}: not '*', a domain or '*.domain': {exc.message}{hint}", field=member
        ) from exc
    if not wild:
        return host
    if is_ip_address(host):
        raise SyntaxError_(f"{member}: an IP address has no subdomains ({raw!r})", field=member)
    return "*." + host


def matches(pattern: str, value: str) -> bool:
    """TPE value matching (§5.5): either is ``"*"``, they are the same string, or
    ``pattern`` is ``*.domain`` and ``value`` is ``domain`` or ends in ``.domain``.

    This is the request-time rule, where ``value`` is a concrete host. Values
    are compared as given; :class:`Duplet` and :meth:`ExceptionSet.covers` put
    them in canonical form first.
    """
    if not isinstance(pattern, str) or not isinstance(value, str):
        raise SyntaxError_("matches: pattern and value must be strings", field="pattern")
    if WILDCARD in (pattern, value) or pattern == value:
        return True
    if pattern.startswith("*."):
        domain = pattern[2:]
        return value == domain or value.endswith("." + domain)
    return False


def subsumes(general: str, specific: str) -> bool:
    """Does ``general`` match every host that ``specific`` matches?

    Used where both sides are patterns (``exists`` and ``remove``): a stored
    ``[site, a.example]`` does not answer for a query ``[site, *]``, although
    :func:`matches` would pair them through the bare ``"*"``.
    """
    if not isinstance(general, str) or not isinstance(specific, str):
        raise SyntaxError_("subsumes: values must be strings", field="pattern")
    if general in (WILDCARD, specific):
        return True
    if specific == WILDCARD or not general.startswith("*."):
        return False
    domain = general[2:]
    host = specific.removeprefix("*.")
    return host == domain or host.endswith("." + domain)


def _overlap(a: str, b: str) -> bool:
    # For "*", "*.d" and hosts, two scopes share a host iff one contains the other.
    return subsumes(a, b) or subsumes(b, a)


def _text(raw: object, member: str, limit: int, *, multiline: bool) -> str | None:
    """An informational string: absent or empty is None, as the Note says."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise SyntaxError_(f"{member}: expected a string, not {type(raw).__name__}", field=member)
    if len(raw) > limit:
        raise SyntaxError_(f"{member}: longer than {limit} characters", field=member)
    allowed = "\n\t" if multiline else ""
    for ch in raw:
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed:
            raise SyntaxError_(f"{member}: control character {ch!r} not allowed", field=member)
    return raw


def _details(raw: object) -> str | None:
    """A URI reference a user interface may show as a link: relative or http(s).

    Other schemes (``javascript:``, ``data:``) are refused, since a dashboard
    that renders the link would run what a hostile site stored.
    """
    text = _text(raw, "details", MAX_DETAILS_LENGTH, multiline=False)
    if text is None:
        return None
    bad = next((c for c in text if c.isspace() or c in _URI_FORBIDDEN), None)
    if bad is not None:
        raise SyntaxError_(f"details: {bad!r} is not allowed in a URI reference", field="details")
    try:
        scheme = urlsplit(text).scheme
    except ValueError as exc:
        raise SyntaxError_(f"details: not a URI reference: {exc}", field="details") from exc
    if scheme not in ("", "http", "https"):
        raise SyntaxError_(f"details: scheme {scheme!r} is not http or https", field="details")
    return text


def _max_age(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SyntaxError_(
            f"maxAge: expected a positive integer number of seconds, not {type(raw).__name__}",
            field="maxAge",
        )
    if not 0 < raw <= MAX_AGE_LIMIT:
        raise SyntaxError_(f"maxAge: {raw} is not between 1 and {MAX_AGE_LIMIT}", field="maxAge")
    return raw


def _time(raw: object, member: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SyntaxError_(f"{member}: expected seconds, not {type(raw).__name__}", field=member)
    value = float(raw)
    if not math.isfinite(value):
        raise SyntaxError_(f"{member}: {raw!r} is not a finite time", field=member)
    return value


def _sequence(raw: object, member: str, limit: int) -> tuple[object, ...]:
    if not isinstance(raw, (list, tuple)):
        raise SyntaxError_(f"{member}: expected an array, not {type(raw).__name__}", field=member)
    if len(raw) > limit:
        raise SyntaxError_(f"{member}: more than {limit} entries", field=member)
    return tuple(raw)


# -- the stored model -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Duplet:
    """One stored exception ``[site, target]``, each ``"*"``, ``*.domain`` or a host.

    ``["*", "*"]`` (an exception for everyone everywhere) cannot exist: the
    Note rejects it, and a store that held one would send ``DNT: 0`` to all.
    """

    site: str
    target: str

    def __post_init__(self) -> None:
        site = _value(self.site, "site")
        target = _value(self.target, "target")
        if site == WILDCARD and target == WILDCARD:
            raise SyntaxError_("a duplet cannot be '*' for both site and target", field="site")
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "target", target)

    @property
    def web_wide(self) -> bool:
        return self.site == WILDCARD

    def matches(self, site: str, target: str) -> bool:
        """The request-time rule: does this duplet match ``[site, target]``?"""
        return matches(self.site, site) and matches(self.target, target)

    def subsumes(self, other: Duplet) -> bool:
        """Does this duplet cover every request ``other`` covers?"""
        return subsumes(self.site, other.site) and subsumes(self.target, other.target)


@dataclass(frozen=True, slots=True)
class ExceptionRequest:
    """A parsed ``TrackingExData``: the argument of the three API calls.

    Construction validates and canonicalizes every member, so an instance is
    always well formed. ``site`` and the informational strings are None when
    the caller gave undefined, null or ``""``; ``targets`` None means the
    member was absent (which differs from an empty array).

    Raises:
        SyntaxError_: naming the member (``site``, ``targets``, ``name``,
            ``explanation``, ``details``, ``maxAge``) that is malformed.
    """

    site: str | None = None
    targets: tuple[str, ...] | None = None
    name: str | None = None
    explanation: str | None = None
    details: str | None = None
    max_age: int | None = None

    def __post_init__(self) -> None:
        site = None if self.site is None or self.site == "" else _value(self.site, "site")
        targets: tuple[str, ...] | None = None
        if self.targets is not None:
            seen: dict[str, None] = {}
            for raw in _sequence(self.targets, "targets", MAX_TARGETS):
                seen.setdefault(_value(raw, "targets"), None)
            targets = tuple(seen)
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "name", _text(self.name, "name", MAX_NAME_LENGTH, multiline=False))
        object.__setattr__(
            self,
            "explanation",
            _text(self.explanation, "explanation", MAX_EXPLANATION_LENGTH, multiline=True),
        )
        object.__setattr__(self, "details", _details(self.details))
        object.__setattr__(self, "max_age", _max_age(self.max_age))

    @classmethod
    def from_json(cls, data: object) -> ExceptionRequest:
        """Read the dictionary a script passed (decoded JSON).

        ``null`` is an empty dictionary (WebIDL); unknown members are ignored,
        as the Note requires.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise SyntaxError_(
                f"TrackingExData: expected an object, not {type(data).__name__}",
                field="properties",
            )
        member: Callable[[str], Any] = data.get
        return cls(
            site=member("site"),
            targets=member("targets"),
            name=member("name"),
            explanation=member("explanation"),
            details=member("details"),
            max_age=member("maxAge"),
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """The duplets of one store call, with the informational members.

    ``expires`` is ``created + maxAge``, or None for a grant without
    ``maxAge``. A grant is live strictly before ``expires``.
    """

    duplets: tuple[Duplet, ...]
    created: float
    expires: float | None
    name: str | None = None
    explanation: str | None = None
    details: str | None = None

    def __post_init__(self) -> None:
        duplets = _sequence(self.duplets, "duplets", MAX_TARGETS)
        if not duplets:
            raise SyntaxError_("a grant holds at least one duplet", field="duplets")
        if not all(isinstance(d, Duplet) for d in duplets):
            raise SyntaxError_("duplets: expected Duplet values", field="duplets")
        if len(set(duplets)) != len(duplets):
            raise SyntaxError_("duplets: the same duplet is listed twice", field="duplets")
        created = _time(self.created, "created")
        expires = None if self.expires is None else _time(self.expires, "expires")
        if expires is not None and expires <= created:
            raise SyntaxError_("expires: not after created", field="expires")
        object.__setattr__(self, "duplets", duplets)
        object.__setattr__(self, "created", created)
        object.__setattr__(self, "expires", expires)
        object.__setattr__(self, "name", _text(self.name, "name", MAX_NAME_LENGTH, multiline=False))
        object.__setattr__(
            self,
            "explanation",
            _text(self.explanation, "explanation", MAX_EXPLANATION_LENGTH, multiline=True),
        )
        object.__setattr__(self, "details", _details(self.details))

    def live(self, now: float) -> bool:
        return self.expires is None or _time(now, "now") < self.expires

    def to_json(self) -> dict[str, object]:
        return {
            "duplets": [[d.site, d.target] for d in self.duplets],
            "created": self.created,
            "expires": self.expires,
            "name": self.name,
            "explanation": self.explanation,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: object) -> Grant:
        if not isinstance(data, dict):
            raise SyntaxError_("grant: expected an object", field="grants")
        if "duplets" not in data or "created" not in data:
            raise SyntaxError_("grant: 'duplets' and 'created' are required", field="grants")
        duplets = []
        for pair in _sequence(data["duplets"], "duplets", MAX_TARGETS):
            items = _sequence(pair, "duplets", 2)
            if len(items) != 2:
                raise SyntaxError_("duplets: each one is [site, target]", field="duplets")
            site: Any = items[0]
            target: Any = items[1]
            duplets.append(Duplet(site, target))
        member: Callable[[str], Any] = data.get
        return cls(
            duplets=tuple(duplets),
            created=member("created"),
            expires=member("expires"),
            name=member("name"),
            explanation=member("explanation"),
            details=member("details"),
        )


@dataclass(frozen=True, slots=True)
class StoreResult:
    """``TrackingExResult``: ``is_site_wide`` is true when the stored grant
    applies to every target on its site (``[site, *]``)."""

    is_site_wide: bool
    grant: Grant


# -- the three calls --------------------------------------------------------------


def _request(req: object) -> ExceptionRequest:
    if not isinstance(req, ExceptionRequest):
        raise SyntaxError_("expected an ExceptionRequest", field="properties")
    return req


def _script(script_domain: str) -> str:
    try:
        return normalize_host(script_domain)
    except SignalError as exc:
        raise InvalidStateError(
            f"the script domain is unknown or invalid: {exc.message}", field="script_domain"
        ) from exc


def _may_use(script: str, value: str, member: str) -> None:
    """The Note's cookie rule: the script must be able to set a cookie on it."""
    domain = value.removeprefix("*.")
    if not can_set_cookie(script, domain):
        raise SecurityError(
            f"{member}: a script on {script} could not set a cookie on {domain}", field=member
        )


def _targets(req: ExceptionRequest, site: str, script: str) -> tuple[str, ...]:
    if req.targets is None:
        targets: tuple[str, ...] = (WILDCARD,)
    else:
        targets = req.targets or (script,)
    if site == WILDCARD:
        if WILDCARD in targets:
            raise SecurityError(
                "site and a target are both '*': a web-wide exception needs named targets",
                field="targets",
            )
        for target in targets:
            _may_use(script, target, "targets")
    return targets


def _duplets(req: ExceptionRequest, script: str) -> tuple[Duplet, ...]:
    """The duplets a store or exists call names, after the Note's checks."""
    site = req.site or script
    if site != WILDCARD:
        _may_use(script, site, "site")
    return tuple(Duplet(site, t) for t in _targets(req, site, script))


@dataclass(frozen=True, slots=True)
class ExceptionSet:
    """One person's exception database: an immutable tuple of grants.

    Every method that changes it returns a new set; errors leave the old one
    untouched, so nothing is stored or removed by a call that fails.
    """

    grants: tuple[Grant, ...] = ()

    def __post_init__(self) -> None:
        grants = _sequence(self.grants, "grants", MAX_GRANTS)
        if not all(isinstance(g, Grant) for g in grants):
            raise SyntaxError_("grants: expected Grant values", field="grants")
        object.__setattr__(self, "grants", grants)

    def __len__(self) -> int:
        return len(self.grants)

    def store(
        self,
        req: ExceptionRequest,
        *,
        script_domain: str,
        now: float,
        site_has_policy: bool = True,
        broaden: bool = False,
    ) -> tuple[ExceptionSet, StoreResult]:
        """``storeTrackingException``.

        ``site_has_policy`` says whether the script domain has a site-wide TSR
        with ``policy``; without one the call is refused with
        ``InvalidStateError``. With ``broaden``, a site-specific list of
        targets is stored as ``[site, *]`` (the Note lets an agent do so) and
        the result says ``is_site_wide``. A grant with exactly the same
        duplets as a stored one replaces it.

        Raises:
            InvalidStateError: no policy, or the script domain is not a host.
            SecurityError: site and a target both ``*``, or a scope the script
                could not set a cookie on.
            SyntaxError_: a malformed argument, or the database is full.
        """
        req = _request(req)
        created = _time(now, "now")
        script = _script(script_domain)
        if not site_has_policy:
            raise InvalidStateError(
                f"{script} has no site-wide tracking status resource with a policy",
                field="script_domain",
            )
        duplets = _duplets(req, script)
        site = duplets[0].site
        if broaden and site != WILDCARD:
            duplets = (Duplet(site, WILDCARD),)
        grant = Grant(
            duplets=duplets,
            created=created,
            expires=None if req.max_age is None else created + req.max_age,
            name=req.name,
            explanation=req.explanation,
            details=req.details,
        )
        key = frozenset(duplets)
        kept = tuple(g for g in self.grants if frozenset(g.duplets) != key)
        if len(kept) >= MAX_GRANTS:
            kept = tuple(g for g in kept if g.live(created))
            if len(kept) >= MAX_GRANTS:
                raise SyntaxError_(
                    f"the exception database is full ({MAX_GRANTS} grants)", field="properties"
                )
        is_site_wide = site != WILDCARD and any(d.target == WILDCARD for d in duplets)
        return ExceptionSet((*kept, grant)), StoreResult(is_site_wide, grant)

    def remove(self, req: ExceptionRequest, *, script_domain: str, now: float) -> ExceptionSet:
        """``removeTrackingException``.

        A site scope (``site`` absent, empty or a domain) removes every
        site-specific grant whose site overlaps that scope, whatever its
        targets; ``site: "*"`` removes the web-wide grants for the targets
        (``[]`` meaning the script domain). A grant goes whole when any of its
        duplets is hit. Removal ignores expiry. No match returns ``self``.

        Raises:
            InvalidStateError: the script domain is not a host.
            SecurityError: the same cookie rules as ``store``.
            SyntaxError_: a malformed argument.
        """
        req = _request(req)
        _time(now, "now")
        script = _script(script_domain)
        site = req.site or script
        if site == WILDCARD:
            targets = _targets(req, site, script)

            def hit(d: Duplet) -> bool:
                return d.web_wide and any(_overlap(d.target, t) for t in targets)

        else:
            _may_use(script, site, "site")

            def hit(d: Duplet) -> bool:
                return not d.web_wide and _overlap(d.site, site)

        kept = tuple(g for g in self.grants if not any(hit(d) for d in g.duplets))
        return self if len(kept) == len(self.grants) else ExceptionSet(kept)

    def exists(self, req: ExceptionRequest, *, script_domain: str, now: float) -> bool:
        """``trackingExceptionExists``: true iff every duplet the request names
        is covered by a live stored duplet.

        Raises:
            InvalidStateError, SecurityError, SyntaxError_: as ``store``.
        """
        req = _request(req)
        moment = _time(now, "now")
        wanted = _duplets(req, _script(script_domain))
        live = [d for g in self.grants if g.live(moment) for d in g.duplets]
        return all(any(s.subsumes(q) for s in live) for q in wanted)

    def covers(self, site: str, target: str, *, now: float) -> bool:
        """Does a live exception match a request from ``site`` to ``target``?

        This is the rule that turns the request's ``DNT`` into ``0``. ``site``
        is the top-level document's host, ``target`` the request's host.

        Raises:
            SignalError: when ``site`` or ``target`` is not a host.
        """
        moment = _time(now, "now")
        s, t = normalize_host(site), normalize_host(target)
        return any(g.live(moment) and any(d.matches(s, t) for d in g.duplets) for g in self.grants)

    def expire(self, now: float) -> ExceptionSet:
        """Drop the grants whose ``maxAge`` has run out (``self`` if none)."""
        moment = _time(now, "now")
        kept = tuple(g for g in self.grants if g.live(moment))
        return self if len(kept) == len(self.grants) else ExceptionSet(kept)

    def to_json(self) -> list[dict[str, object]]:
        return [g.to_json() for g in self.grants]

    @classmethod
    def from_json(cls, data: object) -> ExceptionSet:
        """Read what :meth:`to_json` wrote.

        Raises:
            SyntaxError_: for anything else, naming what was wrong.
        """
        grants = _sequence(data, "grants", MAX_GRANTS)
        return cls(tuple(Grant.from_json(g) for g in grants))
