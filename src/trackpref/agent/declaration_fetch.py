"""Fetching third parties' declarations out of band, never on the request path.

The proxy asks :meth:`DeclarationChecker.request` for an origin it is about to
block or strip; that call only queues the origin. One background thread works
the queue at a polite rate (Privacy Badger's: one check a second), fetches the
well-known resources directly (never through the proxy itself, never through
an environment proxy), and stores the verdict in the
:class:`~trackpref.agent.declarations.DeclarationCache` the request path reads.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Protocol
from urllib.parse import urljoin, urlsplit

from .declarations import Declaration, DeclarationCache, judge_dnt_policy, judge_gpc_json, judge_tsr

__all__ = [
    "MAX_BODY_BYTES",
    "DeclarationChecker",
    "Fetch",
    "FetchError",
    "Response",
    "check_origin",
    "http_fetch",
]

log = logging.getLogger(__name__)

#: The EFF policy is 10,551 bytes, a TSR or gpc.json a few hundred.
MAX_BODY_BYTES: Final = 256 * 1024
MAX_REDIRECTS: Final = 5

Response = tuple[int, list[tuple[str, str]], bytes]


class Fetch(Protocol):
    """``fetch(url, request_headers) -> (status, headers, body)``; raises FetchError.

    ``same_origin`` refuses a redirect to another scheme, host or port (the
    EFF policy counts per host, over HTTPS only: a file fetched from somewhere
    else says nothing about this host).
    """

    def __call__(
        self, url: str, headers: Mapping[str, str], *, same_origin: bool = False
    ) -> Response: ...


#: ``dial(host, port) -> (address, port)``: where to connect for a host.
Dial = Callable[[str, int], tuple[str, int]]


class FetchError(Exception):
    """A well-known resource could not be fetched (network, TLS, size, redirects)."""


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: tuple[str, int], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection(self._address, self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self,
        host: str,
        port: int,
        address: tuple[str, int],
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(self._address, self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def http_fetch(
    url: str,
    headers: Mapping[str, str],
    *,
    dial: Dial | None = None,
    timeout: float = 5.0,
    max_bytes: int = MAX_BODY_BYTES,
    context: ssl.SSLContext | None = None,
    same_origin: bool = False,
) -> Response:
    """GET ``url`` directly, following up to five redirects (cross-origin too,
    unless ``same_origin``: GPC §4 follows them for ``gpc.json``, while the EFF
    policy is judged per host).

    ``dial`` maps a host to the address to connect to (tests map ``*.test`` to
    loopback); certificates are verified against the system store.

    Raises:
        FetchError: for anything but a complete response within the limits.
    """
    tls = context or ssl.create_default_context()
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: not an http(s) URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"{url}: {exc}") from None
        host = parts.hostname
        address = dial(host, port) if dial is not None else (host, port)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = _HTTPSConnection(host, port, address, timeout, tls)
        else:
            conn = _HTTPConnection(host, port, address, timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers={"User-Agent": "trackpref", **headers})
            resp = conn.getresponse()
            body = resp.read(max_bytes + 1)
            status = resp.status
            got = [(k, v) for k, v in resp.getheaders()]
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise FetchError(f"{url}: {exc}") from exc
        finally:
            conn.close()
        if len(body) > max_bytes:
            raise FetchError(f"{url}: body larger than {max_bytes} bytes")
        location = next((v for k, v in got if k.lower() == "location"), None)
        if status in (301, 302, 303, 307, 308) and location:
            target_url = urljoin(url, location)
            if same_origin and _origin(target_url) != _origin(url):
                raise FetchError(f"{url}: redirected to another origin ({target_url[:200]})")
            url = target_url
            continue
        return status, got, body
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or ""), port


def check_origin(origin: str, fetch: Fetch, now: float) -> Declaration:
    """Fetch and judge one origin's declarations (stops at the first that counts)."""
    problems: list[str] = []
    checks: list[tuple[str, dict[str, str], Callable[[Response], tuple[bool, str]], bool]] = [
        ("/.well-known/dnt/", {"DNT": "1"}, lambda r: judge_tsr(*r), False),
        ("/.well-known/gpc.json", {}, lambda r: judge_gpc_json(*r), False),
    ]
    if origin.startswith("https://"):
        # The EFF policy is posted and checked per host, over HTTPS only
        # (Privacy Badger; checklist item 47): no redirect elsewhere counts.
        checks.append(
            ("/.well-known/dnt-policy.txt", {}, lambda r: judge_dnt_policy(r[0], r[2]), True)
        )
    for path, headers, judge, same_origin in checks:
        try:
            response = (
                fetch(origin + path, headers, same_origin=True)
                if same_origin
                else fetch(origin + path, headers)
            )
        except FetchError as exc:
            problems.append(f"{path}: {exc}")
            continue
        ok, why = judge(response)
        if ok:
            return Declaration(origin, True, why, now)
        problems.append(why)
    return Declaration(origin, False, None, now, tuple(problems))


class DeclarationChecker:
    """One daemon thread that checks queued origins, at most one per ``interval``."""

    def __init__(
        self,
        cache: DeclarationCache,
        fetch: Fetch,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        max_pending: int = 1024,
    ) -> None:
        self.cache = cache
        self._fetch = fetch
        self._interval = interval
        self._clock = clock
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max_pending)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def request(self, origin: str) -> None:
        """Queue ``origin`` unless it is queued or freshly checked; never blocks."""
        if self.cache.declared(origin, self._clock()) is not None:
            return
        with self._lock:
            if origin in self._pending:
                return
            try:
                self._queue.put_nowait(origin)
            except queue.Full:
                return
            self._pending.add(origin)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="trackpref-declarations", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def check_now(self, origin: str) -> Declaration:
        declaration = check_origin(origin, self._fetch, self._clock())
        self.cache.put(declaration)
        return declaration

    def _run(self) -> None:
        while not self._stop.is_set():
            origin = self._queue.get()
            if origin is None:
                return
            try:
                declaration = self.check_now(origin)
                log.info(
                    "declarations of %s: %s",
                    origin,
                    declaration.how or "none (" + "; ".join(declaration.problems[:3]) + ")",
                )
            except Exception:  # a checker bug must not kill the thread
                log.exception("checking the declarations of %s failed", origin)
            finally:
                with self._lock:
                    self._pending.discard(origin)
            if self._stop.wait(self._interval):
                return
