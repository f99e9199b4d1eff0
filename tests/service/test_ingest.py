"""Group commit: batching, bounded waits, failures reach every waiter, bounded memory."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from trackpref.service.ingest import GroupCommitter, Overloaded, Prepared


def prepared(n: int = 1) -> Prepared:
    return Prepared([], {}, n)


class Recorder:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[Prepared]] = []
        self.delay = delay
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: list[Prepared]) -> None:
        self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("disk full")
        self.batches.append(batch)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_requests_resolve_only_after_their_batch_is_committed() -> None:
    rec = Recorder()
    rec.gate.clear()
    w = GroupCommitter(rec, max_events=100)

    async def main() -> None:
        w.start()
        fut = w.submit(prepared())
        await asyncio.sleep(0.05)
        assert not fut.done(), "acknowledged before the commit"
        rec.gate.set()
        await asyncio.wait_for(fut, 5)
        assert len(rec.batches) == 1

    run(main())
    w.stop()


def test_concurrent_requests_share_commits() -> None:
    rec = Recorder(delay=0.01)
    w = GroupCommitter(rec, max_events=50)

    async def main() -> None:
        w.start()
        futs = [w.submit(prepared()) for _ in range(200)]
        await asyncio.wait_for(asyncio.gather(*futs), 10)

    run(main())
    w.stop()
    sizes = [sum(p.events for p in b) for b in rec.batches]
    assert sum(sizes) == 200
    assert max(sizes) <= 50
    assert len(rec.batches) < 200 / 2, "no grouping happened"


def test_requests_of_one_pass_of_the_loop_share_the_idle_writers_commit() -> None:
    # The requests a loop reads in one pass are submitted one after another,
    # each after some work of its own. Woken at the first, an idle writer took
    # it alone and committed it while the rest queued for the next commit.
    rec = Recorder()
    w = GroupCommitter(rec, max_events=100)

    async def main() -> None:
        w.start()
        for _ in range(500):  # until the writer is asleep
            if w._idle:
                break
            await asyncio.sleep(0.01)
        assert w._idle
        futs = []
        for _ in range(10):
            futs.append(w.submit(prepared()))
            time.sleep(0.003)  # parsing and gating the next request
        await asyncio.wait_for(asyncio.gather(*futs), 5)

    run(main())
    w.stop()
    assert [len(b) for b in rec.batches] == [10]


def test_a_wake_up_left_pending_on_a_closed_loop_does_not_strand_the_next_loop() -> None:
    rec = Recorder()
    w = GroupCommitter(rec, max_events=100)
    w.start()
    dead = asyncio.new_event_loop()

    async def first() -> None:
        w.submit(prepared())  # schedules the wake-up on this loop

    dead.run_until_complete(first())
    dead.close()
    w._local.kicking = dead  # as if the loop had closed before running it

    async def second() -> None:
        await asyncio.wait_for(w.submit(prepared()), 5)

    run(second())
    w.stop()
    assert sum(len(b) for b in rec.batches) == 2


def test_linger_gathers_requests_that_arrive_while_a_batch_is_open() -> None:
    rec = Recorder()
    w = GroupCommitter(rec, max_events=1000, max_delay=0.5, linger=0.2)

    async def main() -> None:
        w.start()
        first = w.submit(prepared())
        await asyncio.sleep(0.01)
        second = w.submit(prepared())
        await asyncio.wait_for(asyncio.gather(first, second), 5)

    run(main())
    w.stop()
    assert [len(b) for b in rec.batches] == [2]


def test_a_failed_commit_fails_every_request_of_the_batch() -> None:
    rec = Recorder(fail=True)
    w = GroupCommitter(rec)

    async def main() -> list[object]:
        w.start()
        futs = [w.submit(prepared()) for _ in range(5)]
        return await asyncio.gather(*futs, return_exceptions=True)

    results = run(main())
    w.stop()
    assert isinstance(results, list)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert w.stats.failures >= 1
    assert w.queued == 0


def test_the_queue_is_bounded() -> None:
    rec = Recorder()
    rec.gate.clear()
    w = GroupCommitter(rec, max_events=10, max_queued=25)

    async def main() -> None:
        w.start()
        futs = [w.submit(prepared(10)), w.submit(prepared(10))]
        with pytest.raises(Overloaded):
            w.submit(prepared(10))
        rec.gate.set()
        await asyncio.wait_for(asyncio.gather(*futs), 5)
        await asyncio.wait_for(w.submit(prepared(10)), 5)  # room again

    run(main())
    w.stop()


def test_stop_writes_what_is_queued() -> None:
    rec = Recorder(delay=0.01)
    w = GroupCommitter(rec, max_events=1)

    async def main() -> list[asyncio.Future[None]]:
        w.start()
        return [w.submit(prepared()) for _ in range(5)]

    loop = asyncio.new_event_loop()
    try:
        futs = loop.run_until_complete(main())
        w.stop()
        loop.run_until_complete(asyncio.wait_for(asyncio.gather(*futs), 5))
    finally:
        loop.close()
    assert sum(len(b) for b in rec.batches) == 5


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_events"):
        GroupCommitter(Recorder(), max_events=0)
    with pytest.raises(ValueError, match="linger"):
        GroupCommitter(Recorder(), max_delay=0.01, linger=0.1)


def test_each_thread_and_each_new_loop_gets_its_own_futures() -> None:
    """submit remembers each thread's running loop; a new loop replaces a finished one."""
    rec = Recorder()
    w = GroupCommitter(rec, max_events=10)

    async def one() -> asyncio.AbstractEventLoop:
        fut = w.submit(prepared())
        assert fut.get_loop() is asyncio.get_running_loop()
        await asyncio.wait_for(fut, 5)
        return asyncio.get_running_loop()

    first = asyncio.run(one())
    second = asyncio.run(one())  # same thread, a new loop after the first closed
    assert first is not second
    seen: list[object] = []
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            seen.append(asyncio.run(one()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len({id(loop) for loop in seen}) == 3
    w.stop()
    assert sum(len(b) for b in rec.batches) == 5


def test_a_failing_observer_never_keeps_an_answer_back(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    w = GroupCommitter(rec, max_events=10)

    def broken(events: int, seconds: float, ok: bool) -> None:
        raise ValueError("metrics backend gone")

    w.stats.observers.append(broken)

    async def main() -> None:
        await asyncio.wait_for(w.submit(prepared()), 5)

    run(main())
    w.stop()
    assert len(rec.batches) == 1
    assert any("observer failed" in r.message for r in caplog.records)


def test_a_writer_that_dies_fails_what_waits_and_a_new_one_takes_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    rec.gate.clear()  # hold the first batch in its commit
    w = GroupCommitter(rec, max_events=1)
    take = w._take
    calls = 0

    def take_once_then_fail() -> list[Prepared] | None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("a bug in the writer")
        return take()

    w._take = take_once_then_fail  # type: ignore[method-assign]

    async def main() -> None:
        first = w.submit(prepared())
        await asyncio.sleep(0.05)  # the writer holds it in its commit
        queued = w.submit(prepared())  # waits behind it, then the writer dies
        rec.gate.set()
        await asyncio.wait_for(first, 5)  # committed before the fault: answered
        with pytest.raises(RuntimeError, match="a bug in the writer"):
            await asyncio.wait_for(queued, 5)  # never written: the endpoint says 503
        assert w.queued == 0
        # The next request starts a new writer instead of waiting forever.
        await asyncio.wait_for(w.submit(prepared()), 5)

    run(main())
    w.stop()
    assert len(rec.batches) == 2
    assert any("writer stopped" in r.message for r in caplog.records)


def test_a_forked_child_gets_a_writer_of_its_own() -> None:
    """The child has none of the parent's threads; its requests must still be written."""
    rec = Recorder()
    w = GroupCommitter(rec, max_events=10)

    async def one() -> None:
        await asyncio.wait_for(w.submit(prepared()), 5)

    run(one())  # the parent's writer is running
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's exit
        code = 1
        try:
            run(one())
            code = 0 if len(rec.batches) == 2 else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert answer == b"\x00", f"child: {answer!r}, status {status}"
    w.stop()
    assert len(rec.batches) == 1  # the child's batch was the child's


def test_a_commit_ended_by_a_base_exception_fails_its_requests_as_errors() -> None:
    def interrupted(batch: list[Prepared]) -> None:
        raise KeyboardInterrupt

    w = GroupCommitter(interrupted, max_events=10)

    async def main() -> None:
        # An Exception (which the endpoint turns into 503), not a BaseException
        # that would tear through the request's task.
        with pytest.raises(RuntimeError, match="the writer stopped: KeyboardInterrupt"):
            await asyncio.wait_for(w.submit(prepared()), 5)

    run(main())
    w.stop()
