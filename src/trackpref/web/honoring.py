"""What every web adapter does, written once and free of any framework.

The ASGI middleware, the WSGI middleware and the Django integration translate
their request into plain values, call :class:`Honoring`, and translate the
answer back. This keeps the rules in one place and keeps the adapters small
enough to read in one sitting.

The hot path is :meth:`Honoring.outcome`. Nearly every request carries one of a
handful of signal combinations (none, ``DNT: 1``, ``Sec-GPC: 1``, both, ...), so
the outcome for a combination is computed once and reused; only requests that
carry a consent cookie take the slow path through the consent store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

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
_MAX_API_BODY = 16 * 1024

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
        return _REASONS.get(self.status, "OK")


_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
}


def load_policy(policy: SitePolicy | str | Path | None) -> SitePolicy:
    """Accept a policy object, a TOML path, or nothing (the defaults)."""
    if policy is None:
        return SitePolicy()
    if isinstance(policy, SitePolicy):
        return policy
    return SitePolicy.from_toml(policy)


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
    ) -> None:
        self.policy = load_policy(policy)
        self.consent_store: ConsentStore = consent_store or MemoryConsentStore()
        self.referrer_policy = referrer_policy.encode("latin-1") if referrer_policy else None
        self.referrer_policy_text = referrer_policy or None
        self.parties = parties
        self.prefix = prefix.rstrip("/")
        self.clock = clock
        #: Outcomes by raw (DNT, Sec-GPC) values; adapters read it directly.
        self.outcomes: dict[tuple[HeaderKey, HeaderKey], Outcome] = {}
        self._vary: tuple[Header, ...] = (
            ((b"vary", b"DNT, Sec-GPC"),) if self.policy.dynamic else ()
        )
        self._static = self._build_static()
        self._has_cookie_rules = bool(self.policy.tracking_cookies)

    # -- the hot path -------------------------------------------------------

    def cached_outcome(self, dnt: HeaderKey, gpc: HeaderKey) -> Outcome:
        """The outcome for requests without a consent cookie, keyed by raw values.

        ``dnt`` and ``gpc`` are what the adapter found, undecoded: ``None``, one
        value (``bytes`` for ASGI, ``str`` for WSGI) or a tuple of them. Nearly
        every request hits the cache, so this is one dict lookup.
        """
        key = (dnt, gpc)
        found = self.outcomes.get(key)
        if found is not None:
            return found
        result = self._compute(
            _texts(dnt), _texts(gpc), exception=False, role=PartyRole.FIRST_PARTY
        )
        if len(self.outcomes) >= _MAX_CACHE:
            self.outcomes.clear()  # hostile header variety must not grow memory
        self.outcomes[key] = result
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
    ) -> Outcome:
        """Resolve one request. Only requests with a consent id touch the store."""
        if consent_id is None:
            return self.cached_outcome(
                None if dnt is None else tuple(dnt), None if gpc is None else tuple(gpc)
            )
        exception = False
        role = PartyRole.FIRST_PARTY
        if valid_consent_id(consent_id):
            target = _host_only(host)
            ctx = classify_request(
                host=target or "localhost",
                sec_fetch_site=sec_fetch_site,
                origin=origin,
                referer=referer,
                parties=self.parties,
            )
            role = ctx.role
            site = _site_host(referer, origin, sec_fetch_site) or target
            exceptions = self.consent_store.load(consent_id)
            try:
                exception = bool(target) and exceptions.covers(site, target, now=self.clock())
            except SignalError:
                exception = False  # an unusable Host or Referer grants nothing
        result = self._compute(dnt, gpc, exception=exception, role=role)
        if exception:
            # The answer depends on the consent cookie: shared caches must not reuse it.
            result = self._finish(replace(result, headers=(*result.headers, (b"vary", b"Cookie"))))
        return result

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
                refuse=self.policy.refuse_without_consent and preference.do_not_track,
            )
        )

    def _finish(self, outcome: Outcome) -> Outcome:
        text = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in outcome.headers)
        rp = [("referrer-policy", self.referrer_policy_text)] if self.referrer_policy_text else []
        raw_rp = [(b"referrer-policy", self.referrer_policy)] if self.referrer_policy else []
        return replace(
            outcome,
            headers_all=(*outcome.headers, *raw_rp),
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
                cookie_name = value.split(b"=", 1)[0].strip().decode("latin-1")
                if self.policy.is_tracking_cookie(cookie_name):
                    continue
            kept.append((name, value))
        return kept

    def extra_headers(self, outcome: Outcome, app_headers: Iterable[Header]) -> list[Header]:
        """Headers to append: ``Tk``, ``Vary`` and, unless the app set one, ``Referrer-Policy``."""
        if self.referrer_policy is not None:
            for name, _ in app_headers:
                if len(name) == 15 and name.lower() == b"referrer-policy":
                    return list(outcome.headers)
            return [*outcome.headers, (b"referrer-policy", self.referrer_policy)]
        return list(outcome.headers)

    def extra_text_headers(
        self, outcome: Outcome, app_headers: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """:meth:`extra_headers` for WSGI's ``str`` headers."""
        if self.referrer_policy_text is not None:
            for name, _ in app_headers:
                # The length test spares a lower() for nearly every header.
                if len(name) == 15 and name.lower() == "referrer-policy":
                    return list(outcome.text_headers)
            return [*outcome.text_headers, ("referrer-policy", self.referrer_policy_text)]
        return list(outcome.text_headers)

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
            return _json_response(405, {"error": f"{method} not allowed on {path}"})
        return response

    def shim_response(self, outcome: Outcome) -> PlainResponse:
        """The exception-API shim, with this request's ``navigator.doNotTrack``."""
        pref = outcome.preference
        dnt_value: str | None
        dnt_value = "0" if pref.exception else pref.dnt.value
        body = (
            _shim_source()
            .replace("__TRACKPREF_ENDPOINT__", json.dumps(self.prefix + "/exceptions"))
            .replace("__TRACKPREF_DNT__", json.dumps(dnt_value))
            .encode()
        )
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
        secure: bool,
    ) -> PlainResponse:
        """Answer one call of the shim (store / remove / exists).

        Only pages of this origin may call it: the ``Origin`` must match the
        ``Host``, and the body must be JSON (which a cross-site form cannot
        send without a CORS preflight this endpoint never approves). Otherwise
        another site could grant exceptions in the person's name.
        """
        if method != "POST":
            return _json_response(405, {"error": "use POST"})
        if len(body) > _MAX_API_BODY:
            return _json_response(413, {"error": f"body larger than {_MAX_API_BODY} bytes"})
        if not content_type or content_type.split(";")[0].strip().lower() != "application/json":
            return _json_response(415, {"error": "Content-Type must be application/json"})
        target = _host_only(host)
        origin_host = _origin_host(origin)
        if not origin_host or origin_host != target:
            return _error(SecurityError("the exception API only answers pages of this origin"))
        try:
            call = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(SyntaxError_(f"body is not JSON: {exc}"))
        if not isinstance(call, dict):
            return _error(SyntaxError_("body must be a JSON object"))
        op = call.get("op")
        if op not in ("store", "remove", "exists"):
            return _error(SyntaxError_("op must be 'store', 'remove' or 'exists'", field="op"))
        try:
            request = ExceptionRequest.from_json(call.get("data", {}))
        except SignalError as exc:
            return _error(exc)
        now = self.clock()
        cid = consent_id if consent_id and valid_consent_id(consent_id) else None
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
                cid = cid or new_consent_id()
                self.consent_store.save(cid, updated, event="store", now=now)
                payload: dict[str, object] = {
                    "ok": True,
                    "result": {"isSiteWide": result.is_site_wide},
                }
            else:
                updated = current.remove(request, script_domain=script_domain, now=now)
                if cid is not None:
                    self.consent_store.save(cid, updated, event="remove", now=now)
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
        "SameSite=Lax",
    ]
    if secure:
        parts.append("Secure")
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


def _site_host(referer: str | None, origin: str | None, sec_fetch_site: str | None) -> str:
    """The top-level site's host, as well as a server can tell it."""
    if sec_fetch_site == "none":
        return ""
    if referer and "://" in referer:
        return _host_only(referer.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0])
    return _origin_host(origin)


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
