"""What every web adapter does, written once and free of any framework.

The ASGI middleware, the WSGI middleware and the Django integration translate
their request into plain values, call :class:`Honoring`, and translate the
answer back. This keeps the rules in one place and keeps the adapters small
enough to read in one sitting.

The hot path is :meth:`Honoring.cached_outcome`. Nearly every request carries
one of a handful of signal combinations (none, ``DNT: 1``, ``Sec-GPC: 1``, both,
...) and Fetch Metadata values, so the outcome for a combination is computed
once and reused. Two kinds of request need more than that key: those whose
party role Fetch Metadata cannot settle (no ``Sec-Fetch-Site`` but an
``Origin`` or ``Referer``, or a site that declared its ``parties``), which go
through :meth:`Honoring.classified_outcome` and the core's
``classify_request``, and those with a consent cookie, which go through the
consent store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from importlib import resources
from pathlib import Path

from .._untrusted import whole_number
from ..signals.decisions import Decision, PartyRole, decide
from ..signals.errors import InvalidStateError, SecurityError, SignalError, SyntaxError_
from ..signals.parties import PartyMap, classify_request, normalize_host
from ..signals.preference import Preference, resolve_headers
from ..signals.site_policy import SitePolicy
from ..signals.tracking_exceptions import ExceptionRequest, ExceptionSet
from .consent import (
    CONSENT_COOKIE,
    ConsentStore,
    MemoryConsentStore,
    new_consent_id,
    valid_consent_id,
)

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_REFERRER_POLICY",
    "Honoring",
    "Outcome",
    "PlainResponse",
    "load_policy",
]

Header = tuple[bytes, bytes]
#: A header's raw value(s) as an adapter found them; hashable, so it can key a cache.
HeaderKey = None | str | bytes | tuple[str | bytes, ...]

DEFAULT_PREFIX = "/_trackpref"
#: Full URLs (and the search terms in them) stay on this origin; other sites
#: see only the origin. Browsers already default to this; sending it makes the
#: promise explicit and protects older agents.
DEFAULT_REFERRER_POLICY = "strict-origin-when-cross-origin"
_MAX_CACHE = 512
#: Raw values longer than this are never cached: real agents send one byte.
_MAX_CACHED_VALUE = 32
#: ``Host``, ``Origin`` and ``Referer`` are longer than signal values, and a
#: ``Referer`` differs per page: longer ones are classified every time.
_MAX_CACHED_URL = 256
#: Fetch Metadata values that settle the role without ``Origin`` or ``Referer``
#: even when the site declared a party map: the request comes from this site,
#: or the person typed the address (a map naming service providers still makes
#: the role depend on the host; see ``Honoring.__init__``).
_SETTLED_BY_SITE = ("same-origin", "same-site", "none")
_MAX_API_BODY = 16 * 1024
_PLACEHOLDER = re.compile(r"__TRACKPREF_(?:ENDPOINT|DNT_HEADER|DNT)__")
log = logging.getLogger("trackpref.web")

_JSON = b"application/json"
_TSR_TYPE = b"application/tracking-status+json"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result for one request: the decision and what to add to the response."""

    decision: Decision
    headers: tuple[Header, ...]
    strip_tracking_cookies: bool
    refuse: bool
    #: ``headers`` as ``str`` pairs, for WSGI, computed once per combination.
    text_headers: tuple[tuple[str, str], ...] = ()
    #: Ready-made lists for WSGI's hot path: with and without Referrer-Policy.
    text_headers_all: list[tuple[str, str]] = field(default_factory=list)
    text_headers_no_referrer_policy: list[tuple[str, str]] = field(default_factory=list)
    #: The same for ASGI's ``bytes`` headers.
    headers_all: tuple[Header, ...] = ()
    #: ``headers`` without ``Tk``: for responses whose app already chose a ``Tk``.
    vary_only: tuple[Header, ...] = ()

    @property
    def preference(self) -> Preference:
        return self.decision.preference


@dataclass(frozen=True, slots=True)
class PlainResponse:
    """A response the adapters send as is (well-known resources, the shim, the API)."""

    status: int
    headers: tuple[Header, ...]
    body: bytes

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"  # a status HTTP does not name; the code is what counts


def load_policy(policy: SitePolicy | str | Path | None) -> SitePolicy:
    """Accept a policy object, a TOML path, or nothing (the defaults)."""
    if policy is None:
        return SitePolicy()
    if isinstance(policy, SitePolicy):
        return policy
    return SitePolicy.from_toml(policy)


def _text(value: str | bytes | None) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _texts(key: HeaderKey) -> list[str] | None:
    if key is None:
        return None
    items = key if isinstance(key, tuple) else (key,)
    return [v.decode("latin-1") if isinstance(v, bytes) else v for v in items]


def _json_response(status: int, payload: object, *extra: Header) -> PlainResponse:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return PlainResponse(
        status,
        (
            (b"content-type", _JSON),
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ),
        body,
    )


def _cookie_value(cookie_header: str, name: str) -> str | None:
    """One cookie's value from a ``Cookie`` header (RFC 6265 §5.4 syntax)."""
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


class Honoring:
    """A site's compiled policy plus its consent store: the adapters' one object."""

    def __init__(
        self,
        policy: SitePolicy | str | Path | None = None,
        *,
        consent_store: ConsentStore | None = None,
        referrer_policy: str | None = DEFAULT_REFERRER_POLICY,
        parties: PartyMap | None = None,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        vary: bool = True,
    ) -> None:
        self.policy = load_policy(policy)
        self.consent_store: ConsentStore = consent_store or MemoryConsentStore()
        self.referrer_policy = referrer_policy.encode("latin-1") if referrer_policy else None
        self.referrer_policy_text = referrer_policy or None
        self.parties = parties
        self.prefix = prefix.rstrip("/")
        self.clock = clock
        #: Outcomes by raw (DNT, Sec-GPC, Sec-Fetch-Site, Sec-Fetch-Dest) values;
        #: adapters read it directly, but only for requests :meth:`fetch_decides`.
        self.outcomes: dict[tuple[HeaderKey, HeaderKey, HeaderKey, HeaderKey], Outcome] = {}
        # Which requests the fast key may answer. Without a party map a known
        # Sec-Fetch-Site decides alone (the core trusts it over Origin and
        # Referer). With one, a cross-site request may come from a declared
        # same party, so only this site's own requests are settled; and when the
        # map names service providers, this host's role depends on the Host
        # header, which the fast key leaves out, so nothing is.
        settled: tuple[str, ...] = ()
        if parties is None:
            settled = (*_SETTLED_BY_SITE, "cross-site")
        elif not parties.service_providers:
            settled = _SETTLED_BY_SITE
        #: Raw ``Sec-Fetch-Site`` values (``bytes`` and ``str``) that decide the
        #: role alone; adapters test membership before the fast lookup.
        self.fetch_settled: frozenset[str | bytes | None] = frozenset(
            (*settled, *(v.encode("ascii") for v in settled))
        )
        #: Whether a request with no ``Sec-Fetch-Site`` (or an unknown one) and no
        #: ``Origin`` or ``Referer`` may use the fast key: the core then assumes
        #: first party, unless this host may be a service provider.
        self.bare_settled = parties is None or not parties.service_providers
        #: Outcomes of :meth:`classified_outcome`, by every raw value the role
        #: came from; never mixed into :attr:`outcomes`.
        self.classified: dict[tuple[HeaderKey, ...], Outcome] = {}
        self._by_role: dict[tuple[HeaderKey, HeaderKey, PartyRole], Outcome] = {}
        # Vary tells caches which request headers chose the response. Answers no
        # cache keeps (a beacon's 202 to a POST, a no-store pixel) can leave it out.
        self._vary = _vary_for(self.policy) if vary else ()
        self._exempt = _refusal_exempt_paths(self.policy)
        self._static = self._build_static()
        self._has_cookie_rules = bool(self.policy.tracking_cookies)

    # -- the hot path -------------------------------------------------------

    def cached_outcome(
        self,
        dnt: HeaderKey,
        gpc: HeaderKey,
        fetch_site: HeaderKey = None,
        fetch_dest: HeaderKey = None,
    ) -> Outcome:
        """The outcome for requests without a consent cookie, keyed by raw values.

        Only correct for a request :meth:`fetch_decides`: the key holds no host,
        ``Origin`` or ``Referer``. The arguments are what the adapter found,
        undecoded: ``None``, one value (``bytes`` for ASGI, ``str`` for WSGI) or
        a tuple of them. Nearly every request hits the cache, so this is one
        dict lookup. Long or repeated values are computed but not cached, so
        hostile headers cannot fill memory or evict everyone else's entries.
        """
        key = (dnt, gpc, fetch_site, fetch_dest)
        found = self.outcomes.get(key)
        if found is not None:
            return found
        role = _role(_first(fetch_site), _first(fetch_dest))
        result = self._compute(_texts(dnt), _texts(gpc), exception=False, role=role)
        if len(self.outcomes) < _MAX_CACHE and all(_cacheable(k) for k in key):
            self.outcomes[key] = result
        return result

    def fetch_decides(self, fetch_site: HeaderKey, origin: HeaderKey, referer: HeaderKey) -> bool:
        """May the fast key (signals and Fetch Metadata) answer this request?

        Adapters inline this test on their hot path; it is here so that there is
        one definition of it, the one :meth:`role` uses too.
        """
        return fetch_site in self.fetch_settled or (
            origin is None and referer is None and self.bare_settled
        )

    def role(
        self,
        host: str,
        fetch_site: str | None,
        fetch_dest: str | None,
        origin: str | None,
        referer: str | None,
    ) -> PartyRole:
        """This server's party role for a request: the core's ``classify_request``.

        When Fetch Metadata settles it, the cheap reading gives the same answer
        without parsing a host. ``Sec-Fetch-Mode`` is not read: ``document`` is
        the destination of top-level navigations only (Fetch), so it stands for
        ``navigate`` + ``document``, exactly as on the fast path. A ``Host``
        the core refuses leaves nothing to compare ``Origin`` and ``Referer``
        with, so Fetch Metadata alone decides then, rather than refusing a
        request that the server and the app accepted.
        """
        if self.fetch_decides(fetch_site, origin, referer):
            return _role(fetch_site, fetch_dest)
        dest = fetch_dest.strip() if fetch_dest is not None else None
        try:
            return classify_request(
                host=host,
                sec_fetch_site=fetch_site,
                sec_fetch_mode="navigate" if dest == "document" else None,
                sec_fetch_dest=fetch_dest,
                origin=origin,
                referer=referer,
                parties=self.parties,
            ).role
        except SignalError:
            return _role(fetch_site, fetch_dest)

    def classified_outcome(
        self,
        dnt: HeaderKey,
        gpc: HeaderKey,
        fetch_site: str | bytes | None,
        fetch_dest: str | bytes | None,
        host: str | bytes | None,
        origin: str | bytes | None,
        referer: str | bytes | None,
    ) -> Outcome:
        """The outcome for a request without consent cookie that the fast key
        cannot answer (see :meth:`fetch_decides`).

        Raw values as in :meth:`cached_outcome`, plus the single values of
        ``Host``, ``Origin`` and ``Referer``. Cached under all of them, apart
        from the fast key: the same signals from another initiator can be
        another role. Referers differ per page, so this cache is emptied when
        full rather than frozen.
        """
        key = (dnt, gpc, fetch_site, fetch_dest, host, origin, referer)
        found = self.classified.get(key)
        if found is not None:
            return found
        role = self.role(
            _text(host) or "",
            _text(fetch_site),
            _text(fetch_dest),
            _text(origin),
            _text(referer),
        )
        result = self._for_role(dnt, gpc, role)
        if (
            _cacheable(dnt)
            and _cacheable(gpc)
            and _cacheable(fetch_site)
            and _cacheable(fetch_dest)
            and all(v is None or len(v) <= _MAX_CACHED_URL for v in (host, origin, referer))
        ):
            if len(self.classified) >= _MAX_CACHE:
                self.classified.clear()
            self.classified[key] = result
        return result

    def _for_role(self, dnt: HeaderKey, gpc: HeaderKey, role: PartyRole) -> Outcome:
        """Outcomes by signals and role: what an outcome without exception depends on."""
        key = (dnt, gpc, role)
        found = self._by_role.get(key)
        if found is not None:
            return found
        result = self._compute(_texts(dnt), _texts(gpc), exception=False, role=role)
        if len(self._by_role) < _MAX_CACHE and _cacheable(dnt) and _cacheable(gpc):
            self._by_role[key] = result
        return result

    def outcome(
        self,
        dnt: Sequence[str] | None,
        gpc: Sequence[str] | None,
        *,
        consent_id: str | None = None,
        host: str = "",
        referer: str | None = None,
        origin: str | None = None,
        sec_fetch_site: str | None = None,
        sec_fetch_dest: str | None = None,
    ) -> Outcome:
        """Resolve one request. Only requests with a consent id touch the store.

        The party role comes from :meth:`role` on every path, so a consent
        cookie never changes how a request is classified, only whether an
        exception covers it.
        """
        if consent_id is None or not valid_consent_id(consent_id):
            dnt_key = None if dnt is None else tuple(dnt)
            gpc_key = None if gpc is None else tuple(gpc)
            if self.fetch_decides(sec_fetch_site, origin, referer):
                return self.cached_outcome(dnt_key, gpc_key, sec_fetch_site, sec_fetch_dest)
            return self.classified_outcome(
                dnt_key, gpc_key, sec_fetch_site, sec_fetch_dest, host, origin, referer
            )
        role = self.role(host, sec_fetch_site, sec_fetch_dest, origin, referer)
        target = _host_only(host)
        site = _site_host(referer, origin, sec_fetch_site, sec_fetch_dest) or target
        try:
            exceptions = self.consent_store.load(consent_id)
        except Exception:
            # A store that is down must not take the site down with it, nor
            # answer without Tk: the request counts as granting nothing, the
            # stricter reading of the person's signal.
            log.warning("consent store unreadable; no exception applied", exc_info=True)
            exceptions = ExceptionSet()
        try:
            exception = bool(target) and exceptions.covers(site, target, now=self.clock())
        except SignalError:
            exception = False  # an unusable Host or Referer grants nothing
        return self._compute(dnt, gpc, exception=exception, role=role)

    def _compute(
        self,
        dnt: Sequence[str] | None,
        gpc: Sequence[str] | None,
        *,
        exception: bool,
        role: PartyRole,
    ) -> Outcome:
        preference = resolve_headers(
            dnt or None, gpc or None, exception=exception, precedence=self.policy.precedence
        )
        decision = decide(preference, role)
        tk = self.policy.tk_for(decision.tracking_status)
        headers = ((b"tk", str(tk).encode("ascii")), *self._vary)
        return self._finish(
            Outcome(
                decision=decision,
                headers=headers,
                strip_tracking_cookies=self._has_cookie_rules
                and not decision.may_set_tracking_cookies,
                # TPE §6.7 is about DNT: 1. Refusing GPC users would be the
                # discrimination US opt-out laws forbid, so GPC alone never refuses.
                refuse=self.policy.refuse_without_consent
                and preference.do_not_track
                and preference.dnt.do_not_track,
            )
        )

    def _finish(self, outcome: Outcome) -> Outcome:
        text = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in outcome.headers)
        rp = [("referrer-policy", self.referrer_policy_text)] if self.referrer_policy_text else []
        raw_rp = [(b"referrer-policy", self.referrer_policy)] if self.referrer_policy else []
        return replace(
            outcome,
            headers_all=(*outcome.headers, *raw_rp),
            vary_only=tuple(h for h in outcome.headers if h[0] != b"tk"),
            text_headers=text,
            text_headers_all=[*text, *rp],
            text_headers_no_referrer_policy=list(text),
        )

    def response_headers(
        self, outcome: Outcome, app_headers: Iterable[Header]
    ) -> list[Header] | None:
        """The app's headers, rewritten, or ``None`` when only appending is needed.

        Rewriting is needed to drop tracking cookies; appending covers the rest.
        """
        if not outcome.strip_tracking_cookies:
            return None
        kept: list[Header] = []
        for name, value in app_headers:
            if name.lower() in (b"set-cookie", b"set-cookie2"):
                text = value.decode("latin-1")
                cookie_name = text.split("=", 1)[0].strip()
                # Deleting a tracking cookie is what do-not-track asks for: let it through.
                if self.policy.is_tracking_cookie(cookie_name) and not _deletes(text):
                    continue
            kept.append((name, value))
        return kept

    def extra_headers(self, outcome: Outcome, app_headers: Iterable[Header]) -> list[Header]:
        """Headers to append: ``Tk`` unless the app chose one (``Tk: U``), ``Vary``,
        and ``Referrer-Policy`` unless the app set its own."""
        has_tk = has_rp = False
        for name, _ in app_headers:
            n = len(name)
            if n == 2 and name.lower() == b"tk":
                has_tk = True
            elif n == 15 and name.lower() == b"referrer-policy":
                has_rp = True
        return self._extra(outcome, has_tk, has_rp)

    def _extra(self, outcome: Outcome, has_tk: bool, has_rp: bool) -> list[Header]:
        out = list(outcome.vary_only if has_tk else outcome.headers)
        if not has_rp and self.referrer_policy is not None:
            out.append((b"referrer-policy", self.referrer_policy))
        return out

    def extra_text_headers(
        self, outcome: Outcome, app_headers: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """:meth:`extra_headers` for WSGI's ``str`` headers."""
        has_tk = has_rp = False
        for name, _ in app_headers:
            n = len(name)
            if n == 2 and name.lower() == "tk":
                has_tk = True
            elif n == 15 and name.lower() == "referrer-policy":
                has_rp = True
        return [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in self._extra(outcome, has_tk, has_rp)
        ]

    def refuses(self, outcome: Outcome, path: str) -> bool:
        """Answer 409 here? Never on the pages that explain how to consent."""
        return outcome.refuse and not outcome.preference.exception and path not in self._exempt

    def server_error(self, outcome: Outcome) -> PlainResponse:
        """A bare 500 for an app that failed before answering, still with ``Tk``."""
        body = b"Internal Server Error"
        return PlainResponse(
            500,
            (
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *outcome.headers,
            ),
            body,
        )

    # -- resources the middleware answers itself ----------------------------

    def declared(self, response: PlainResponse, outcome: Outcome) -> PlainResponse:
        """Add ``Tk`` (and ``Vary``) to a response the middleware itself answers.

        TPE §6.3 wants ``Tk`` on every response of a dynamic site, ours included;
        a response that already says ``Tk: U`` keeps that one (one ``Tk`` per
        response).
        """
        if any(name == b"tk" for name, _ in response.headers):
            return response
        return PlainResponse(response.status, (*response.headers, *outcome.headers), response.body)

    def handles(self, path: str) -> bool:
        return path.startswith(("/.well-known/", self.prefix + "/"))

    def _build_static(self) -> dict[str, PlainResponse]:
        policy = self.policy
        cache = f"public, max-age={policy.tsr_max_age}".encode()
        out: dict[str, PlainResponse] = {}

        def tsr_response(body: bytes) -> PlainResponse:
            return PlainResponse(
                200,
                (
                    (b"content-type", _TSR_TYPE),
                    (b"cache-control", cache),
                    (b"content-length", str(len(body)).encode()),
                ),
                body,
            )

        out["/.well-known/dnt/"] = tsr_response(policy.site_wide_tsr().to_json().encode())
        if policy.dynamic:
            from ..signals.site_policy import STATUS_IDS

            for status_id in STATUS_IDS.values():
                tsr = policy.request_tsr(status_id)
                if tsr is not None:
                    out["/.well-known/dnt/" + status_id] = tsr_response(tsr.to_json().encode())
        gpc_json = policy.gpc_json()
        if gpc_json is not None:
            out["/.well-known/gpc.json"] = PlainResponse(
                200,
                (
                    (b"content-type", _JSON),
                    (b"cache-control", cache),
                    (b"content-length", str(len(gpc_json)).encode()),
                ),
                gpc_json,
            )
        text = policy.dnt_policy_text()
        if text is not None:
            out["/.well-known/dnt-policy.txt"] = PlainResponse(
                200,
                (
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"cache-control", cache),
                    (b"content-length", str(len(text)).encode()),
                ),
                text,
            )
        return out

    def static_response(self, method: str, path: str) -> PlainResponse | None:
        """Well-known resources; ``None`` when the path is not ours (the app answers)."""
        response = self._static.get(path)
        if response is None:
            if path == "/.well-known/dnt":
                response = PlainResponse(
                    301, ((b"location", b"/.well-known/dnt/"), (b"content-length", b"0")), b""
                )
            elif path.startswith("/.well-known/dnt/"):
                return _json_response(404, {"error": "unknown tracking status id"})
            else:
                return None
        if method not in ("GET", "HEAD"):
            return _json_response(
                405, {"error": f"{method} not allowed on {path}"}, (b"allow", b"GET, HEAD")
            )
        return response

    def shim_response(self, outcome: Outcome) -> PlainResponse:
        """The exception-API shim, with this request's ``navigator.doNotTrack``."""
        pref = outcome.preference
        effective = "0" if pref.exception else pref.dnt.value
        values = {
            "__TRACKPREF_ENDPOINT__": json.dumps(self.prefix + "/exceptions"),
            "__TRACKPREF_DNT_HEADER__": json.dumps(pref.dnt.value),
            "__TRACKPREF_DNT__": json.dumps(effective),
        }
        # One pass: a value that spells a placeholder (DNT extensions may) stays text.
        body = _PLACEHOLDER.sub(lambda m: values[m.group(0)], _shim_source()).encode()
        return PlainResponse(
            200,
            (
                (b"content-type", b"text/javascript; charset=utf-8"),
                (b"cache-control", b"private, no-store"),
                (b"content-length", str(len(body)).encode()),
            ),
            body,
        )

    def consent_page(self, outcome: Outcome) -> PlainResponse:
        """TPE §6.7: 409 for DNT:1 without consent, saying how to consent."""
        from html import escape

        policy_link = escape(self.policy.policy or "/")
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<title>Consent needed</title>"
            "<h1>This site asks for your consent</h1>"
            "<p>Your browser asked not to be tracked. This site does not serve this page "
            "without tracking, and it will not track you without asking.</p>"
            f'<p>Read <a href="{policy_link}">what it would do</a>, then decide.</p>'
            f'<script src="{escape(self.prefix)}/exceptions.js"></script>'
            "<button id=grant type=button>Allow tracking on this site</button>"
            "<script>document.getElementById('grant').onclick=async()=>{"
            "await navigator.storeTrackingException({});location.reload();};</script>"
        ).encode()
        return PlainResponse(
            409,
            (
                (b"content-type", b"text/html; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode()),
                *outcome.headers,
            ),
            body,
        )

    # -- the exception API --------------------------------------------------

    def exception_call(
        self,
        method: str,
        body: bytes,
        *,
        content_type: str | None,
        host: str,
        origin: str | None,
        consent_id: str | None,
        scheme: str,
    ) -> PlainResponse:
        """Answer one call of the shim (store / remove / exists).

        Only pages of this origin may call it: the ``Origin`` (scheme, host and
        port) must be this request's own, and the body must be JSON (which a cross-site form cannot
        send without a CORS preflight this endpoint never approves). Otherwise
        another site could grant exceptions in the person's name.
        """
        if method != "POST":
            return _json_response(405, {"error": "use POST"}, (b"allow", b"POST"))
        if len(body) > _MAX_API_BODY:
            return _json_response(413, {"error": f"body larger than {_MAX_API_BODY} bytes"})
        if not content_type or content_type.split(";")[0].strip().lower() != "application/json":
            return _json_response(415, {"error": "Content-Type must be application/json"})
        target = _host_only(host)
        if not target or _origin_tuple(origin) != _request_origin(scheme, host):
            return _error(SecurityError("the exception API only answers pages of this origin"))
        secure = scheme.lower() == "https"
        try:
            call = json.loads(body)
        except ValueError as exc:  # not UTF-8, not JSON, or a number of 4,300 digits
            why = "a number of too many digits" if "digits" in str(exc) else str(exc)[:120]
            return _error(SyntaxError_(f"body is not JSON: {why}"))
        except RecursionError:  # json.loads recurses once per level of nesting
            return _error(SyntaxError_("body is nested too deeply"))
        if not isinstance(call, dict):
            return _error(SyntaxError_("body must be a JSON object"))
        op = call.get("op")
        if op not in ("store", "remove", "exists"):
            return _error(SyntaxError_("op must be 'store', 'remove' or 'exists'", field="op"))
        try:
            request = ExceptionRequest.from_json(call.get("data", {}))
        except SignalError as exc:
            return _error(exc)
        cid = consent_id if consent_id and valid_consent_id(consent_id) else None
        try:
            return self._exception_op(op, request, cid, target, secure)
        except Exception:
            log.warning("consent store failed; exception API answered 503", exc_info=True)
            return _json_response(
                503,
                {"error": "the consent store is unavailable; nothing was changed, try again"},
                (b"retry-after", b"5"),
            )

    def _exception_op(
        self, op: str, request: ExceptionRequest, cid: str | None, target: str, secure: bool
    ) -> PlainResponse:
        now = self.clock()
        current = self.consent_store.load(cid) if cid else ExceptionSet()
        script_domain = target
        try:
            if op == "exists":
                found = current.exists(request, script_domain=script_domain, now=now)
                return _json_response(200, {"ok": True, "result": found})
            if op == "store":
                updated, result = current.store(
                    request,
                    script_domain=script_domain,
                    now=now,
                    site_has_policy=bool(self.policy.policy),
                )
                if cid is None or not current.grants:
                    # Only ever reuse an id this server issued for a live record:
                    # a planted cookie must not become someone's consent id.
                    cid = new_consent_id()
                self.consent_store.save(cid, updated, event="store", now=now)
                payload: dict[str, object] = {
                    "ok": True,
                    "result": {"isSiteWide": result.is_site_wide},
                }
            else:
                updated = current.remove(request, script_domain=script_domain, now=now)
                if cid is not None and current.grants:
                    self.consent_store.save(cid, updated, event="remove", now=now)
                else:
                    cid = None
                payload = {"ok": True, "result": None}
        except (SecurityError, SyntaxError_, InvalidStateError) as exc:
            return _error(exc)
        covered = updated.covers(script_domain, script_domain, now=now)
        payload["doNotTrack"] = "0" if covered else None
        extra: list[Header] = [(b"tk", b"U")]  # TPE §6.3: consent changed by this request
        if cid is not None:
            extra.append((b"set-cookie", _consent_cookie(cid, updated, now, secure)))
        return _json_response(200, payload, *extra)


def _consent_cookie(cid: str, exceptions: ExceptionSet, now: float, secure: bool) -> bytes:
    """The ``Set-Cookie`` for a consent id (``Max-Age=0`` once nothing is granted).

    Third-party and web-wide exceptions only work if the browser sends the
    cookie on cross-site subresource requests and accepts it from a cross-site
    frame (a consent portal embedded elsewhere): that is ``SameSite=None``,
    which browsers only take with ``Secure``. Over plain HTTP ``Secure`` is
    impossible, so the cookie stays ``Lax`` there and only first-party
    exceptions take effect (docs/exceptions.md). It is not ``Partitioned``:
    the server matches each ``[site, target]`` duplet against the request's
    top-level site itself, and a partitioned cookie would split one person's
    consent into one id per top-level site, so a web-wide exception would hold
    only under the site where it was granted.
    """
    if not exceptions.grants:
        max_age = 0
    else:
        expiries = [g.expires for g in exceptions.grants]
        if any(e is None for e in expiries):
            max_age = 400 * 86400  # the longest lifetime browsers honor
        else:
            max_age = max(1, int(max(e for e in expiries if e is not None) - now))
    parts = [
        f"{CONSENT_COOKIE}={cid if max_age else ''}",
        "Path=/",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=None; Secure" if secure else "SameSite=Lax",
    ]
    return "; ".join(parts).encode("latin-1")


def _error(exc: SignalError) -> PlainResponse:
    name = getattr(exc, "dom_name", "SyntaxError")
    status = 403 if name == "SecurityError" else 400
    return _json_response(
        status, {"ok": False, "error": {"name": name, "message": exc.message, "field": exc.field}}
    )


def _host_only(host: str) -> str:
    """The host of a ``Host`` header, without port; empty when unusable."""
    host = host.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        return normalize_host(host) if host else ""
    except SignalError:
        return ""


def _origin_host(origin: str | None) -> str:
    if not origin or origin == "null" or "://" not in origin:
        return ""
    return _host_only(origin.split("://", 1)[1].split("/", 1)[0])


def _site_host(
    referer: str | None,
    origin: str | None,
    sec_fetch_site: str | None,
    sec_fetch_dest: str | None = None,
) -> str:
    """The top-level site's host, as well as a server can tell it.

    A top-level navigation (``Sec-Fetch-Dest: document``) or a typed URL
    (``Sec-Fetch-Site: none``) is on the target's own site, whatever page the
    person came from: the ``Referer`` of a click on a search result names the
    search engine, not the site being visited.
    """
    if sec_fetch_site == "none" or sec_fetch_dest == "document":
        return ""
    if referer and "://" in referer:
        return _host_only(referer.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0])
    return _origin_host(origin)


def _origin_tuple(origin: str | None) -> tuple[str, str, int] | None:
    if not origin or origin == "null" or "://" not in origin:
        return None
    scheme, _, rest = origin.partition("://")
    return _authority_tuple(scheme.lower(), rest.split("/", 1)[0])


def _request_origin(scheme: str, host: str) -> tuple[str, str, int] | None:
    return _authority_tuple(scheme.lower(), host.strip())


def _authority_tuple(scheme: str, authority: str) -> tuple[str, str, int] | None:
    if scheme not in ("http", "https"):
        return None
    default = 443 if scheme == "https" else 80
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, _, port_text = authority.partition(":")
    else:
        host, port_text = authority, ""
    port = whole_number(port_text, max_digits=5) if port_text else default
    if port is None:  # int() would take "8_0", "+80" and 5,000 digits
        return None
    try:
        return (scheme, normalize_host(host), port)
    except SignalError:
        return None


def _role(fetch_site: str | bytes | None, fetch_dest: str | bytes | None) -> PartyRole:
    """First or third party, from Fetch Metadata alone (cheap, and cacheable).

    A cross-site subresource or frame is a third-party request; everything
    else, including a top-level navigation from another site (the person chose
    to come here) and requests without Fetch Metadata, is first party. This is
    ``classify_request`` for the requests :meth:`Honoring.fetch_decides`; the
    others go to the core.
    """
    # Stripped as the core strips them, so both readings agree on every value.
    site = _text(fetch_site)
    dest = _text(fetch_dest)
    if site is not None and site.strip() == "cross-site" and (dest or "").strip() != "document":
        return PartyRole.THIRD_PARTY
    return PartyRole.FIRST_PARTY


def _first(key: HeaderKey) -> str | bytes | None:
    if isinstance(key, tuple):
        return key[0] if key else None
    return key


def _cacheable(key: HeaderKey) -> bool:
    if key is None:
        return True
    if isinstance(key, tuple):
        return len(key) <= 2 and all(len(v) <= _MAX_CACHED_VALUE for v in key)
    return len(key) <= _MAX_CACHED_VALUE


def _deletes(set_cookie: str) -> bool:
    """Does this ``Set-Cookie`` delete the cookie (``Max-Age<=0`` or a past ``Expires``)?

    Read as a browser reads it (RFC 6265 §5.2.2, §5.3): an unparsable
    attribute is ignored, the last of each attribute counts, and ``Max-Age``
    wins over ``Expires``, so a cookie cannot look deleted here and live on
    in the browser.
    """
    max_age: str | None = None
    expires: float | None = None
    for attr in set_cookie.split(";")[1:]:
        key, _, value = attr.strip().partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "max-age":
            digits = value[1:] if value.startswith("-") else value
            if digits and digits.isascii() and digits.isdigit():
                max_age = value
        elif key == "expires":
            # An unparsable date is ignored, as a browser ignores it.
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                expires = parsedate_to_datetime(value).timestamp()
    if max_age is not None:
        return max_age.startswith("-") or not max_age.strip("0")
    return expires is not None and expires < time.time()


def _vary_for(policy: SitePolicy) -> tuple[Header, ...]:
    """What responses depend on: the signals, and the consent cookie."""
    names: list[str] = []
    if policy.dynamic or policy.tracking_cookies or policy.refuse_without_consent:
        names += ["DNT", "Sec-GPC"]
    if policy.exceptions_api:
        names.append("Cookie")
    return ((b"vary", ", ".join(names).encode()),) if names else ()


def _refusal_exempt_paths(policy: SitePolicy) -> frozenset[str]:
    """The privacy policy and consent pages stay readable to refused visitors."""
    paths = set()
    for ref in (policy.policy, policy.config):
        if ref and ref.startswith("/") and not ref.startswith("//"):
            paths.add(ref.split("#", 1)[0].split("?", 1)[0] or "/")
    return frozenset(paths)


_SHIM: str | None = None


def _shim_source() -> str:
    global _SHIM
    if _SHIM is None:
        _SHIM = (
            resources.files("trackpref.web")
            .joinpath("static/exceptions.js")
            .read_text(encoding="utf-8")
        )
    return _SHIM
