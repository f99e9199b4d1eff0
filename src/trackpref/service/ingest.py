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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..ledger.gate import Encoded
from .tables import Tally

__all__ = ["GroupCommitter", "Overloaded", "Prepared", "Row"]

#: (site, dataset, the gate's answer: ts, subject, visitor hash, fields JSON, plan)
Row = tuple[str, str, Encoded]


class Overloaded(RuntimeError):
    """The write queue is full; the client should retry after a pause."""


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
        else:
            fut.set_exception(error)


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
        self._queue: collections.deque[Prepared] = collections.deque()
        self._cond = threading.Condition()
        self._queued = 0  # events submitted and not yet resolved
        self._stopping = False
        self._idle = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._running = False
        #: The running loop of each thread that submits, so that submit need not
        #: ask asyncio (which costs a getpid() system call every time).
        self._loops: dict[int, asyncio.AbstractEventLoop] = {}
        self.stats = WriterStats()

    # -- the event loop's side ------------------------------------------------
    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        with self._cond:
            if not self._thread.is_alive() and not self._stopping:
                self._thread.start()
                self._running = True

    def submit(self, prepared: Prepared) -> asyncio.Future[None]:
        """Queue one request's rows; the future resolves once they are committed."""
        if not self._running:
            self.start()  # an app used without its lifespan (a bare test client)
        tid = threading.get_ident()
        loop = self._loops.get(tid)
        # A thread runs one loop at a time, so a cached loop that is still
        # running is this thread's current one.
        if loop is None or not loop.is_running():
            if len(self._loops) > 64:
                self._loops.clear()  # threads come and go (test clients); forget old loops
            loop = self._loops[tid] = asyncio.get_running_loop()
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
            if self._idle:
                # Wake the writer only when it sleeps: a busy writer looks at the
                # queue again after its commit, and every needless wake-up is a
                # context switch on the core the event loop needs.
                self._cond.notify()
        return fut

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
        while True:
            batch = self._take()
            if batch is None:
                return
            events = sum(p.events for p in batch)
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                self._commit(batch)
            except BaseException as exc:
                error = exc
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
                observe(events, elapsed, error is None)
            by_loop: dict[asyncio.AbstractEventLoop, list[Prepared]] = {}
            for p in batch:
                if p.loop is not None:
                    by_loop.setdefault(p.loop, []).append(p)
            for loop, items in by_loop.items():
                # A closed loop has nobody waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, items, error)
