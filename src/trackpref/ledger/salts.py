"""Unique visitors without a persistent identifier: daily-rotating salted hashes.

Counting unique visitors needs to know whether two page views came from the
same browser; keeping a cookie or the IP address would make that a
persistent identifier. Instead (the approach Plausible made known) each
visit is reduced to ``BLAKE2b(key=salt_of_the_day, site ‖ ip ‖ user agent)``:

* the salt is 32 random bytes made for one window (a UTC day by default) and
  *destroyed* once the window closes. After that, not even the operator can
  recompute yesterday's hashes from an IP address, so the stored hashes of
  past days link to nobody;
* the site is part of the hashed message, so one browser gets unrelated
  hashes on two sites (no cross-site linking even with a shared salt store);
* a new day has a new salt, so one browser gets unrelated hashes on two days
  (no cross-day linking): the count is "unique visitors per day";
* the IP address and user agent are never stored, only the keyed hash.

Grace period: the previous window's salt survives ``grace`` (one hour by
default) after midnight, so that an event stamped 23:59:59 and processed a few
seconds later is still counted in its own day. Once the grace is over,
:meth:`VisitorHasher.rotate` destroys it, and an event of a closed window is
refused (:class:`SaltWindowClosed`) rather than hashed with a fresh salt that
would split its visitor in two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_GRACE",
    "SALT_SIZE",
    "MemorySaltStore",
    "SaltStore",
    "SaltWindowClosed",
    "VisitorHasher",
    "window_of",
]

#: Seconds the previous window's salt is kept after midnight.
DEFAULT_GRACE = 3600.0
SALT_SIZE = 32
_PERSON = b"trackpref.vh.v1"  # BLAKE2b personalization: domain separation


class SaltWindowClosed(ValueError):
    """The event belongs to a window whose salt is (or must be) destroyed."""


@runtime_checkable
class SaltStore(Protocol):
    """Where the salts of open windows live (shared by every process of a site)."""

    def ensure_salt(self, window: str, candidate: bytes) -> bytes:
        """Store ``candidate`` for ``window`` unless one exists; return the stored salt."""

    def get_salt(self, window: str) -> bytes | None: ...

    def destroy_salts_before(self, window: str) -> int:
        """Delete the salts of windows sorting before ``window``; returns how many."""


class MemorySaltStore:
    """Salts in a dict: one process, or tests."""

    def __init__(self) -> None:
        self._salts: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def ensure_salt(self, window: str, candidate: bytes) -> bytes:
        with self._lock:
            return self._salts.setdefault(window, bytes(candidate))

    def get_salt(self, window: str) -> bytes | None:
        return self._salts.get(window)

    def destroy_salts_before(self, window: str) -> int:
        with self._lock:
            old = [w for w in self._salts if w < window]
            for w in old:
                del self._salts[w]
            return len(old)

    def windows(self) -> list[str]:
        return sorted(self._salts)


def window_of(ts: float, tz: dt.tzinfo = dt.UTC) -> str:
    """The window (ISO date, which sorts in time order) that ``ts`` falls in."""
    return dt.datetime.fromtimestamp(ts, tz).date().isoformat()


def _normalize_ip(ip: str) -> str:
    # "::ffff:192.0.2.1" and "192.0.2.1" are one client; so are two spellings
    # of one IPv6 address. Anything unparsable is hashed as given.
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _part(name: str, value: object) -> bytes:
    if type(value) is not str:
        raise TypeError(f"{name}: must be a string, got {type(value).__name__}")
    data = value.encode("utf-8", "surrogatepass")
    return len(data).to_bytes(4, "big") + data


class VisitorHasher:
    """Keyed hashes of (site, IP, user agent) under the salt of the visit's window.

    ``clock`` is the wall clock that decides which windows are open;
    ``now`` on :meth:`visitor_hash` is the time of the visit (defaults to the
    clock). Both are injectable so tests can cross midnights at will.
    """

    def __init__(
        self,
        store: SaltStore,
        clock: Callable[[], float] = time.time,
        *,
        grace: float = DEFAULT_GRACE,
        tz: dt.tzinfo = dt.UTC,
        digest_size: int = 16,
    ) -> None:
        if not 0 <= grace < 86400:
            raise ValueError(f"grace: must be between 0 and one day, got {grace}")
        if not 8 <= digest_size <= 64:
            raise ValueError(f"digest_size: must be 8..64 bytes, got {digest_size}")
        self.store = store
        self.clock = clock
        self.grace = grace
        self.tz = tz
        self.digest_size = digest_size
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def open_windows(self, at: float | None = None) -> tuple[str, ...]:
        """Windows whose salt may be used at wall time ``at``, oldest first.

        The current window, the previous one during the grace after midnight,
        and the next one during the grace before it (clock skew between
        machines; making tomorrow's salt early reveals nothing).
        """
        t = self.clock() if at is None else at
        return tuple(
            sorted(
                {
                    window_of(t - self.grace, self.tz),
                    window_of(t, self.tz),
                    window_of(t + self.grace, self.tz),
                }
            )
        )

    def _salt(self, window: str) -> bytes:
        salt = self._cache.get(window)
        if salt is not None:
            return salt
        with self._lock:
            salt = self.store.get_salt(window)
            if salt is None:
                salt = self.store.ensure_salt(window, secrets.token_bytes(SALT_SIZE))
            if len(salt) < 16:
                raise ValueError(f"salt of window {window} is too short ({len(salt)} bytes)")
            self._cache[window] = salt
        return salt

    def visitor_hash(self, site: str, ip: str, user_agent: str, *, now: float | None = None) -> str:
        """Hex digest identifying one browser on one site for one window only."""
        wall = self.clock()
        t = wall if now is None else now
        window = window_of(t, self.tz)
        open_ = self.open_windows(wall)
        if window not in open_:
            raise SaltWindowClosed(
                f"now: the visit at {t} falls in window {window}, which is not open at "
                f"{wall} (open: {', '.join(open_)}); its salt is destroyed"
            )
        if len(self._cache) > len(open_):
            self._prune(open_)
        message = _part("site", site) + _part("ip", _normalize_ip(ip))
        message += _part("user_agent", user_agent)
        h = hashlib.blake2b(
            message, key=self._salt(window)[:64], digest_size=self.digest_size, person=_PERSON
        )
        return h.hexdigest()

    def _prune(self, open_: tuple[str, ...]) -> None:
        with self._lock:
            for w in [w for w in self._cache if w not in open_]:
                del self._cache[w]

    def rotate(self, now: float | None = None) -> int:
        """Destroy every salt older than the open windows; returns how many.

        Call it from the scheduler at least hourly; it is idempotent.
        """
        open_ = self.open_windows(now)
        self._prune(open_)
        return self.store.destroy_salts_before(open_[0])
