"""The mitmproxy addon: a thin adapter between flows and the decision core.

It reads a flow into a :class:`~trackpref.agent.request.RequestInfo`, asks
:func:`~trackpref.agent.decision.decide_request`, and applies the answer
(headers, path, cookies, a block response). Everything else runs off the
request path: the preference file is re-read when it changes (checked at most
once a second), declarations are fetched by a background thread, learned
trackers are saved every few seconds by a background task.

Every hook is guarded: if the addon fails, the failure is logged and the flow
goes on as it was. The proxy never drops traffic because of a bug here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mitmproxy import http

from .decision import Knowledge, RequestDecision, decide_request, learning_pair
from .declaration_fetch import DeclarationChecker
from .hostmap import HostMap
from .learning import TrackerLearner, identifier_evidence
from .preference_file import PreferenceFileError, UserPreference, load_preference
from .request import RequestInfo, describe_request

__all__ = ["PreferenceWatcher", "TrackprefAddon"]

log = logging.getLogger("trackpref.proxy")

F = TypeVar("F", bound=Callable[..., Any])
_META = "trackpref"


def guarded(hook: F) -> F:
    """Run a hook; on any exception log it and let the flow pass unchanged."""

    @functools.wraps(hook)
    def wrapper(self: Any, *args: Any) -> Any:
        try:
            return hook(self, *args)
        except Exception:
            log.exception("trackpref %s hook failed; traffic passes unchanged", hook.__name__)
            return None

    return wrapper  # type: ignore[return-value]


#: The request fields the decision reads, collected in one pass: mitmproxy's
#: ``Headers.get`` scans every field per call, which cost more than the decision.
_READ = frozenset(
    {
        b"sec-fetch-site",
        b"sec-fetch-mode",
        b"sec-fetch-dest",
        b"origin",
        b"referer",
        b"accept",
        b"sec-gpc",
        b"cookie",
        b"dnt",
    }
)


def _read_fields(fields: tuple[tuple[bytes, bytes], ...]) -> dict[bytes, list[str]]:
    out: dict[bytes, list[str]] = {}
    for name, value in fields:
        key = name.lower()
        if key in _READ:
            # mitmproxy's own decoding of header values, so edits round-trip.
            out.setdefault(key, []).append(value.decode("utf-8", "surrogateescape"))
    return out


def _first(fields: dict[bytes, list[str]], name: bytes) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


class PreferenceWatcher:
    """The current preference, re-read when the file changes.

    A file that becomes unreadable keeps the last good preference in force
    (logged once per change): a half-edited file must not switch the person's
    signals off.
    """

    def __init__(
        self,
        path: Path,
        initial: UserPreference,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._pref = initial
        self._interval = interval
        self._clock = clock
        self._next = clock() + interval
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> UserPreference:
        now = self._clock()
        if now < self._next:
            return self._pref
        self._next = now + self._interval
        stamp = self._stat()
        if stamp == self._stamp:
            return self._pref
        self._stamp = stamp
        try:
            pref = load_preference(self.path)
        except PreferenceFileError as exc:
            log.error("%s; keeping the previous preference (%s)", exc, self._pref.state)
            return self._pref
        if pref.state != self._pref.state:
            log.info("preference is now %s", pref.state)
        self._pref = pref
        return pref


@dataclass(frozen=True, slots=True)
class _Seen:
    info: RequestInfo
    decision: RequestDecision


class TrackprefAddon:
    """Applies the person's preference to every flow (see ``docs/proxy.md``)."""

    def __init__(
        self,
        watcher: PreferenceWatcher,
        knowledge: Knowledge,
        *,
        host_map: HostMap | None = None,
        checker: DeclarationChecker | None = None,
        clock: Callable[[], float] = time.time,
        on_running: Callable[[list[tuple[str, int]]], None] | None = None,
        save_interval: float = 10.0,
    ) -> None:
        self.watcher = watcher
        self.knowledge = knowledge
        self.host_map = host_map
        self.checker = checker
        self.clock = clock
        self.on_running = on_running
        self.save_interval = save_interval
        self._saver: asyncio.Task[None] | None = None

    @property
    def learner(self) -> TrackerLearner | None:
        return self.knowledge.learner

    # -- lifecycle ----------------------------------------------------------------------

    @guarded
    def running(self) -> None:
        if self.checker is not None:
            self.checker.start()
        if self.learner is not None and self.learner.path is not None:
            self._saver = asyncio.get_running_loop().create_task(self._save_periodically())
        if self.on_running is not None:
            from mitmproxy import ctx

            server: Any = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
            addrs = [(str(a[0]), int(a[1])) for a in server.listen_addrs()] if server else []
            self.on_running(addrs)

    @guarded
    def done(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
        if self.checker is not None:
            self.checker.stop()
        self._save_learned()

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.save_interval)
            await asyncio.to_thread(self._save_learned)

    def _save_learned(self) -> None:
        learner = self.learner
        if learner is None:
            return
        try:
            learner.save()
        except OSError as exc:
            log.warning("cannot save learned trackers to %s: %s", learner.path, exc)

    # -- connections ----------------------------------------------------------------------

    @guarded
    def server_connect(self, data: Any) -> None:
        if not self.host_map:
            return
        host, port = data.server.address
        mapped = self.host_map.resolve(host)
        if mapped is not None:
            data.server.address = (mapped, port)

    # -- flows --------------------------------------------------------------------------------

    @guarded
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        req = flow.request
        h = req.headers
        got = _read_fields(h.fields)
        info = describe_request(
            method=req.method,
            scheme=req.scheme,
            # With --map-host, mitmproxy reports the mapped address as the host of
            # requests inside a CONNECT tunnel; the Host header still names it.
            host=req.pretty_host if self.host_map else req.host,
            port=req.port,
            path=req.path,
            sec_fetch_site=_first(got, b"sec-fetch-site"),
            sec_fetch_mode=_first(got, b"sec-fetch-mode"),
            sec_fetch_dest=_first(got, b"sec-fetch-dest"),
            origin=_first(got, b"origin"),
            referer=_first(got, b"referer"),
            accept=_first(got, b"accept"),
            gpc=got.get(b"sec-gpc", ()),
        )
        if info is None:
            return
        now = self.clock()
        decision = decide_request(info, self.watcher.current(), self.knowledge, now)
        flow.metadata[_META] = _Seen(info, decision)
        if decision.check_origin is not None and self.checker is not None:
            self.checker.request(decision.check_origin)
        cookies = got.get(b"cookie")
        self._learn(info, cookies=cookies, query=req.path.partition("?")[2], now=now)

        if decision.block:
            log.info("blocked %s (%s)", info.url, decision.reason)
            surrogate = decision.surrogate
            if surrogate is not None:
                flow.response = http.Response.make(
                    200, surrogate.body, {"Content-Type": surrogate.content_type}
                )
            else:
                flow.response = http.Response.make(204, b"", {"Cache-Control": "no-store"})
            return
        signals = decision.signals
        if signals.dnt is not None and list(signals.dnt) != got.get(b"dnt", []):
            h.set_all("DNT", list(signals.dnt))
        if signals.gpc is not None and list(signals.gpc) != got.get(b"sec-gpc", []):
            h.set_all("Sec-GPC", list(signals.gpc))
        if decision.path is not None:
            req.path = decision.path
        if decision.referrer_changed:
            if decision.referrer is None:
                del h["Referer"]
            else:
                h["Referer"] = decision.referrer
        if decision.strip_cookies and cookies:
            del h["Cookie"]

    @guarded
    def response(self, flow: http.HTTPFlow) -> None:
        seen = flow.metadata.get(_META)
        if not isinstance(seen, _Seen) or flow.response is None or seen.decision.block:
            return
        headers = flow.response.headers
        set_cookies = headers.get_all("set-cookie")
        if set_cookies:
            self._learn(seen.info, set_cookies=set_cookies, now=self.clock())
            if seen.decision.strip_cookies:
                del headers["Set-Cookie"]

    def _learn(
        self,
        info: RequestInfo,
        *,
        cookies: list[str] | None = None,
        set_cookies: list[str] | None = None,
        query: str = "",
        now: float,
    ) -> None:
        learner = self.learner
        if learner is None:
            return
        if info.navigation:
            query = ""  # a top-level load's URL is the site's own, not a third party's
        if not (cookies or set_cookies or query):
            return
        pair = learning_pair(info, self.knowledge)
        if pair is None or pair[1] in learner.sites(pair[0]):
            return
        why = identifier_evidence(cookies or (), set_cookies or (), query, now=now)
        if why is not None and learner.observe(*pair):
            log.info(
                "learned tracker %s (%s, now seen on %d sites)", pair[0], why, learner.threshold
            )
