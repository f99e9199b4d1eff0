"""Who may see the dashboard, and forms nobody else can submit for you.

* The admin token comes from ``TRACKPREF_ADMIN_TOKEN``, or is generated at
  the first start, shown once, and kept only as its SHA-256 (a 256-bit random
  token needs no slow hash: there is nothing to guess). API clients send it as
  ``Authorization: Bearer``; browsers log in with it once and get a session.
* Sessions and CSRF tokens are HMAC-SHA256 over a key kept in the service's
  secrets table, so every instance over one database accepts them and no
  session table is needed. The session cookie is ``HttpOnly`` and
  ``SameSite=Strict``.
* Logging out ends every admin session, in every browser and on every
  instance (within :data:`GENERATION_TTL` seconds): the database keeps a
  session generation that a logout raises by one, and a session is signed
  with the generation it was issued in. A stateless session could not
  otherwise be taken back before it expires. A counter, not a logout time:
  instances whose clocks differ still agree on it, and it only goes up.
* Every form carries a CSRF token bound to the browser: for the admin, to the
  session; for the public portal, to a random ``tp_csrf`` cookie
  (double-submit, signed so that a cookie planted by a sibling domain does
  not help an attacker without the key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

from starlette.requests import HTTPConnection

from .._untrusted import same_secret, whole_number
from ..signals.errors import SignalError
from .tables import ServiceTables

__all__ = [
    "ADMIN_COOKIE",
    "CSRF_COOKIE",
    "MIN_TOKEN_LENGTH",
    "AdminAuth",
    "ensure_admin_token",
]

ADMIN_COOKIE = "tp_admin"
CSRF_COOKIE = "tp_csrf"
MIN_TOKEN_LENGTH = 16
SESSION_SECONDS = 8 * 3600
_TOKEN_HASH = "admin_token_sha256"  # noqa: S105 - the name of a secrets row
_SESSION_KEY = "session_key"
_GENERATION = "admin_session_generation"
#: How long an instance trusts its copy of the generation (seconds).
GENERATION_TTL = 2.0
_ENV = "TRACKPREF_ADMIN_TOKEN"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ensure_admin_token(tables: ServiceTables, given: str | None = None) -> tuple[str, str | None]:
    """(the token's SHA-256, the new token if one was generated now, else None).

    ``given`` (or ``TRACKPREF_ADMIN_TOKEN``) wins and is not stored. Otherwise
    the first instance to start stores the hash of a fresh token and reports
    it, once; later starts find the hash and report nothing.
    """
    token = given if given is not None else os.environ.get(_ENV) or None
    if token is not None:
        if len(token) < MIN_TOKEN_LENGTH or not token.isprintable():
            raise SignalError(
                f"admin token: at least {MIN_TOKEN_LENGTH} printable characters "
                f"(set {_ENV} or leave it unset to have one generated)",
                field="admin_token",
            )
        return _sha256(token), None
    fresh = secrets.token_urlsafe(32)
    stored, ours = tables.ensure_secret(_TOKEN_HASH, _sha256(fresh))
    return stored, fresh if ours else None


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int
    generation: int = 0


class AdminAuth:
    """Checks bearer tokens and sessions; issues sessions and CSRF tokens."""

    def __init__(self, tables: ServiceTables, token_hash: str, *, secure: bool = False) -> None:
        key, _ = tables.ensure_secret(_SESSION_KEY, secrets.token_hex(32))
        self._key = bytes.fromhex(key)
        self._tables = tables
        self._generation = 0
        self._generation_read = -GENERATION_TTL  # time.monotonic() of the last read
        self._token_hash = token_hash
        self.secure = secure
        self._failures: list[float] = []
        self._lock = threading.Lock()

    # -- the token -----------------------------------------------------------
    def check_token(self, token: str) -> bool:
        return same_secret(_sha256(token), self._token_hash)

    def throttled(self, now: float | None = None) -> bool:
        """More than 20 failed logins in the last minute: refuse for a while."""
        t = time.monotonic() if now is None else now
        with self._lock:
            self._failures = [f for f in self._failures if t - f < 60]
            return len(self._failures) >= 20

    def failed(self) -> None:
        with self._lock:
            self._failures.append(time.monotonic())

    # -- signing -------------------------------------------------------------
    def _sign(self, *parts: str) -> str:
        msg = "|".join(parts).encode()
        return _b64(hmac.new(self._key, msg, hashlib.sha256).digest())

    # -- sessions ------------------------------------------------------------
    def new_session(self, now: float | None = None) -> tuple[str, Session]:
        """A new session in the current generation; call :meth:`refresh` (``force``) first,
        in a thread: it reads the database."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        generation = self._generation
        nonce = secrets.token_urlsafe(16)
        signed = self._sign("admin", str(expires), str(generation), nonce)
        value = f"{expires}.{generation}.{nonce}.{signed}"
        return value, Session(nonce, expires, generation)

    def session(self, value: str | None, now: float | None = None) -> Session | None:
        """The session ``value`` stands for, or None; reads no database (see :meth:`refresh`)."""
        if not value or len(value) > 200:
            return None
        parts = value.split(".")
        if len(parts) != 4:
            return None
        expires = whole_number(parts[0], max_digits=12)
        generation = whole_number(parts[1], max_digits=12)
        if expires is None or generation is None:
            return None
        nonce, sig = parts[2], parts[3]
        if not same_secret(sig, self._sign("admin", parts[0], parts[1], nonce)):
            return None
        if (time.time() if now is None else now) >= expires:
            return None
        if generation < self._generation:
            return None  # issued before a logout
        # A signed newer generation proves another instance saw a logout first.
        self._generation = generation
        return Session(nonce, expires, generation)

    def generation_stale(self) -> bool:
        return time.monotonic() - self._generation_read >= GENERATION_TTL

    def refresh(self, *, force: bool = False) -> None:
        """Read the generation when the copy is older than :data:`GENERATION_TTL`.

        Blocking (a query, which waits for the store's lock): handlers call it
        through ``run_in_threadpool`` before they look at a session.
        """
        clock = time.monotonic()
        if not force and clock - self._generation_read < GENERATION_TTL:
            return
        stored = whole_number(self._tables.secret(_GENERATION)) or 0
        with self._lock:
            self._generation = max(self._generation, stored)
            self._generation_read = clock

    def end_sessions(self) -> None:
        """Log out everywhere: every session issued so far stops working (blocking)."""
        raised = self._tables.increment_counter(_GENERATION)
        with self._lock:
            self._generation = max(self._generation, raised)
            self._generation_read = time.monotonic()

    def session_cookie(self, value: str) -> str:
        return _cookie(ADMIN_COOKIE, value, SESSION_SECONDS, self.secure, "Strict")

    def clear_session_cookie(self) -> str:
        return _cookie(ADMIN_COOKIE, "", 0, self.secure, "Strict")

    def admin_csrf(self, session: Session) -> str:
        return self._sign("admin-csrf", session.nonce)

    def check_admin_csrf(self, session: Session, token: str) -> bool:
        return bool(token) and same_secret(token, self.admin_csrf(session))

    def authorized(self, conn: HTTPConnection) -> Session | bool:
        """A valid bearer token (True) or session (the Session), else False."""
        header = conn.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self.check_token(token.strip())
        session = self.session(conn.cookies.get(ADMIN_COOKIE))
        return session if session is not None else False

    # -- the public forms' CSRF --------------------------------------------------
    def portal_nonce(self, conn: HTTPConnection) -> tuple[str, str | None]:
        """The browser's CSRF nonce and, if it had none yet, the cookie to set."""
        nonce = conn.cookies.get(CSRF_COOKIE, "")
        if 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
            return nonce, None
        nonce = secrets.token_urlsafe(18)
        return nonce, _cookie(CSRF_COOKIE, nonce, 86400, self.secure, "Lax")

    def portal_csrf(self, nonce: str) -> str:
        return self._sign("portal-csrf", nonce)

    def check_portal_csrf(self, conn: HTTPConnection, token: str) -> bool:
        nonce = conn.cookies.get(CSRF_COOKIE, "")
        return bool(nonce and token) and same_secret(token, self.portal_csrf(nonce))

    # -- request-bound grants (the rights portal's download) ----------------------
    def grant(self, purpose: str, subject: str, expires: int) -> str:
        return f"{expires}.{self._sign(purpose, subject, str(expires))}"

    def check_grant(self, purpose: str, subject: str, value: str | None) -> bool:
        if not value or "." not in value or len(value) > 200:
            return False
        exp, _, sig = value.partition(".")
        expires = whole_number(exp, max_digits=12)
        if expires is None or time.time() >= expires:
            return False
        return same_secret(sig, self._sign(purpose, subject, exp))


def _cookie(name: str, value: str, max_age: int, secure: bool, samesite: str) -> str:
    c: SimpleCookie = SimpleCookie()
    c[name] = value
    morsel = c[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = samesite
    morsel["max-age"] = str(max_age)
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()
