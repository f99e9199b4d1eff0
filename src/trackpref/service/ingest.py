"""Group commit: one writer, many waiting requests, ``202`` only once durable.

Every collect request prepares its rows on the event loop (parse, gate,
classify), hands them to the single writer and waits. The writer thread takes
everything queued (up to ``max_events`` events, and never holding a batch open
longer than ``max_delay`` after its first request arrived), commits it in one
transaction, and only then resolves every waiting request. So:

* an acknowledged event is in a committed transaction (see ``docs/service.md``
  for why that survives ``kill -9``, and power loss with ``synchronous=FULL``);
* a failed commit rolls the whole batch back and every request in it gets
  ``503``: the client retries, nothing was half-written;
* under load the batches grow by themselves (requests pile up while the
  previous commit runs), so the cost of a commit is shared by many events
  without adding latency when the service is idle;
* memory stays bounded: :meth:`GroupCommitter.submit` refuses work once
  ``max_queued`` events wait (the endpoint answers ``503`` with
  ``Retry-After``).

The writer is a thread, not a task: SQLite and psycopg calls block, and the
event loop must keep parsing requests while a commit is under way.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..ledger.gate import Encoded
from .tables import Tally

__all__ = ["GroupCommitter", "Overloaded", "Prepared", "Row"]

#: (site, dataset, the gate's answer: ts, subject, visitor hash, fields JSON, plan)
Row = tuple[str, str, Encoded]


logger = logging.getLogger("trackpref.service")


class Overloaded(RuntimeError):
    """The write queue is full; the client should retry after a pause."""


#: Every committer of this process, so that a forked child can start afresh.
_COMMITTERS: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child has none of the parent's threads: a writer that looks alive
    # would take requests and never answer them.
    for committer in list(_COMMITTERS):
        committer._forget_writer()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(slots=True)
class Prepared:
    """One request's gated rows and tallies, waiting for the writer."""

    rows: list[Row]
    tallies: dict[Tally, int]
    events: int
    #: Events by what was kept ("raw", "with-id", "counted-only"), for the metrics.
    kept: dict[str, int] = field(default_factory=dict)
    enqueued: float = 0.0
    future: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None


@dataclass(slots=True)
class WriterStats:
    batches: int = 0
    events: int = 0
    failures: int = 0
    last_batch_events: int = 0
    last_commit_seconds: float = 0.0
    observers: list[Callable[[int, float, bool], None]] = field(default_factory=list)


def _resolve(items: Sequence[Prepared], error: BaseException | None) -> None:
    for p in items:
        fut = p.future
        if fut is None or fut.done():
            continue
        if error is None:
            fut.set_result(None)
        elif isinstance(error, Exception):
            fut.set_exception(error)
        else:  # KeyboardInterrupt and the like end the writer, not the request's task
            fut.set_exception(RuntimeError(f"the writer stopped: {error!r}"))


class GroupCommitter:
    """The single writer. ``commit(batch)`` must write the batch in one transaction."""

    def __init__(
        self,
        commit: Callable[[list[Prepared]], None],
        *,
        max_events: int = 2000,
        max_delay: float = 0.02,
        linger: float = 0.0,
        max_queued: int = 50_000,
        name: str = "trackpref-writer",
    ) -> None:
        if max_events < 1 or max_queued < 1:
            raise ValueError("max_events and max_queued must be at least 1")
        if not 0 <= linger <= max_delay:
            raise ValueError("linger must be between 0 and max_delay")
        self._commit = commit
        self.max_events = max_events
        self.max_delay = max_delay
        self.linger = linger
        self.max_queued = max_queued
        self.name = name
        self._queue: collections.deque[Prepared] = collections.deque()
        self._cond = threading.Condition()
        self._queued = 0  # events submitted and not yet resolved
        self._stopping = False
        self._idle = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._running = False
        #: The running loop of each thread that submits, so that submit need not
        #: ask asyncio (which costs a getpid() system call every time).
        self._local = threading.local()
        self.stats = WriterStats()
        _COMMITTERS.add(self)

    # -- the event loop's side ------------------------------------------------
    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        with self._cond:
            if not self._thread.is_alive() and not self._stopping:
                if self._thread.ident is not None:  # it ran and ended: a new one
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                self._running = True

    def _forget_writer(self) -> None:
        """In a forked child: no writer, nothing queued (the parent's requests
        are the parent's); the next submit starts a writer of this process."""
        self._cond = threading.Condition()  # the parent's may have been held
        self._queue.clear()
        self._queued = 0
        self._idle = False
        self._running = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._local = threading.local()

    def submit(self, prepared: Prepared) -> asyncio.Future[None]:
        """Queue one request's rows; the future resolves once they are committed."""
        if not self._running:
            self.start()  # an app used without its lifespan (a bare test client)
        local = self._local
        loop: asyncio.AbstractEventLoop | None = getattr(local, "loop", None)
        # A thread runs one loop at a time, so a cached loop that is still
        # running is this thread's current one.
        if loop is None or not loop.is_running():
            loop = local.loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        prepared.future = fut
        prepared.loop = loop
        prepared.enqueued = time.monotonic()
        with self._cond:
            if self._stopping:
                raise Overloaded("the service is shutting down")
            if self._queued and self._queued + prepared.events > self.max_queued:
                raise Overloaded(f"{self._queued} events are waiting to be written")
            self._queued += prepared.events
            self._queue.append(prepared)
            if not self._running:  # the writer died since the check above
                self.start()
            elif self._idle and local.__dict__.get("kicking") is not loop:
                # Wake a sleeping writer once this loop has run what is ready,
                # not now: the requests read in the same pass of the loop are
                # submitted in the meantime and share the commit. Woken at the
                # first of them, the writer took one or two, and the rest waited
                # for the next commit; half the commits were of under ten
                # events, each paying a whole fsync (docs/service.md).
                local.kicking = loop
                loop.call_soon(self._kick, local)
        return fut

    def _kick(self, local: threading.local) -> None:
        local.kicking = None
        with self._cond:
            if self._idle and self._queue:
                self._cond.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the writer thread ------------------------------------------------------
    def _take(self) -> list[Prepared] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._idle = True
                self._cond.wait()
                self._idle = False
            first = self._queue.popleft()
            batch = [first]
            n = first.events
            deadline = first.enqueued + self.max_delay
            while n < self.max_events:
                if self._queue:
                    nxt = self._queue[0]
                    if n + nxt.events > self.max_events and n:
                        break
                    batch.append(self._queue.popleft())
                    n += nxt.events
                    continue
                if self.linger <= 0 or self._stopping:
                    break
                wait = min(deadline, time.monotonic() + self.linger) - time.monotonic()
                if wait <= 0:
                    break
                self._cond.wait(wait)
                if not self._queue:
                    break
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._write(batch)
        except BaseException as exc:  # a fault of the writer itself, not a failed commit
            logger.exception("the writer stopped; it starts again with the next request")
            with self._cond:
                # A fresh, unstarted thread: the next submit starts it, even
                # while this one is still on its way out.
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._running = False
                pending = list(self._queue)
                self._queue.clear()
                self._queued -= sum(p.events for p in pending)
            _resolve_by_loop(pending, exc)  # not written: each gets 503

    def _write(self, batch: list[Prepared]) -> None:
        """Commit one batch and answer its requests, whatever happens after the commit."""
        events = sum(p.events for p in batch)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            self._commit(batch)
        except BaseException as exc:
            error = exc
        try:
            elapsed = time.perf_counter() - started
            with self._cond:
                self._queued -= events
            st = self.stats
            st.batches += 1
            st.last_batch_events = events
            st.last_commit_seconds = elapsed
            if error is None:
                st.events += events
            else:
                st.failures += 1
            for observe in st.observers:
                try:
                    observe(events, elapsed, error is None)
                except Exception:  # metrics must never keep an answer back
                    logger.exception("a commit observer failed")
        finally:
            _resolve_by_loop(batch, error)


def _resolve_by_loop(batch: Sequence[Prepared], error: BaseException | None) -> None:
    """Resolve each request's future on its own event loop, one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Prepared]] = {}
    for p in batch:
        if p.loop is not None:
            by_loop.setdefault(p.loop, []).append(p)
    for loop, items in by_loop.items():
        # A closed loop has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items, error)
