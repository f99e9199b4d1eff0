"""A crawl shared by several machines: one PostgreSQL, claims with leases.

The claim logic is exercised on a real PostgreSQL the tests start (no
browser); the last test runs two real ``trackpref audit`` processes on the
loopback fixture web against one database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from audit_web import FixtureWeb

from trackpref.audit import store as store_module
from trackpref.audit.store import ResultStore, StoreError, open_results
from trackpref.audit.store_postgres import PostgresResultStore

pytestmark = pytest.mark.postgres

URLS = [f"http://site{i}.test/" for i in range(12)]
OPTIONS = {"states": ["none", "dnt1-gpc", "dnt0"], "repeats": 0}


def _site(url: str, *, honored: bool = True) -> dict[str, object]:
    return {
        "url": url,
        "site": url.split("//")[1].rstrip("/"),
        "verdicts": {"gpc_honored": honored, "dnt_honored": honored},
    }


@pytest.fixture
def stores(postgres_dsn: str) -> Iterator[tuple[PostgresResultStore, PostgresResultStore]]:
    a, b = PostgresResultStore(postgres_dsn), PostgresResultStore(postgres_dsn)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_machines_running_the_same_command_join_one_crawl(
    stores: tuple[PostgresResultStore, PostgresResultStore],
) -> None:
    a, b = stores
    first = a.open_crawl(URLS, OPTIONS)
    second = b.open_crawl(URLS, OPTIONS)
    assert not first.resumed
    assert second.resumed
    assert second.id == first.id
    assert b.open_crawl(URLS, {**OPTIONS, "repeats": 1}).id != first.id, "other options"


def test_concurrent_claims_hand_out_every_site_exactly_once(
    stores: tuple[PostgresResultStore, PostgresResultStore],
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS, OPTIONS).id
    taken: list[str] = []
    errors: list[BaseException] = []

    def machine(store: PostgresResultStore, name: str) -> None:
        try:
            while (url := store.claim(crawl, name, lease=60)) is not None:
                taken.append(url)
                store.save(crawl, _site(url), [("tracker.test", url)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=machine, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(taken) == sorted(URLS), Counter(taken).most_common(3)
    assert a.remaining(crawl) == 0
    assert [r["url"] for r in b.results(crawl)] == URLS
    assert len(a.knowledge().sightings["tracker.test"]) == len(URLS)


def test_a_dead_machines_site_is_claimed_again_after_its_lease(
    stores: tuple[PostgresResultStore, PostgresResultStore],
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS[:2], OPTIONS).id
    held = a.claim(crawl, "a/0", lease=3)  # then machine a dies (3 s: a busy CI machine)
    assert held == URLS[0]
    assert b.claim(crawl, "b/0", lease=60) == URLS[1], "a's site is still leased"
    b.save(crawl, _site(URLS[1]))
    assert b.claim(crawl, "b/0", lease=60) is None
    assert b.remaining(crawl) == 1
    time.sleep(3.1)
    assert b.claim(crawl, "b/0", lease=60) == held, "the lease ran out"
    b.save(crawl, _site(held))
    assert b.remaining(crawl) == 0


def test_a_clean_stop_hands_its_sites_back_at_once(
    stores: tuple[PostgresResultStore, PostgresResultStore],
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS[:1], OPTIONS).id
    assert a.claim(crawl, "a/0", lease=600) == URLS[0]
    assert b.claim(crawl, "b/0", lease=600) is None
    a.release(crawl, "a/0")
    assert b.claim(crawl, "b/0", lease=600) == URLS[0]


def test_fresh_on_several_machines_makes_one_new_crawl(
    stores: tuple[PostgresResultStore, PostgresResultStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = stores
    old = a.open_crawl(URLS, OPTIONS)
    monkeypatch.setattr(store_module, "FRESH_JOIN_SECONDS", -1)  # the old crawl is not recent
    first = a.open_crawl(URLS, OPTIONS, fresh=True)
    assert first.id != old.id
    monkeypatch.setattr(store_module, "FRESH_JOIN_SECONDS", 600)
    second = b.open_crawl(URLS, OPTIONS, fresh=True)  # the other machine of the same launch
    assert second.id == first.id
    assert second.resumed


def test_a_renewed_claim_outlives_its_first_lease_and_a_lost_one_is_not_taken_back(
    stores: tuple[PostgresResultStore, PostgresResultStore],
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS[:1], OPTIONS).id
    assert a.claim(crawl, "a/0", lease=0.5) == URLS[0]
    assert a.renew(crawl, URLS[0], "a/0", lease=60)  # a second attempt begins
    time.sleep(0.6)
    assert b.claim(crawl, "b/0", lease=60) is None, "a renewed its lease"
    # a stalls past its lease; b takes the site over.
    assert a.renew(crawl, URLS[0], "a/0", lease=0.1)
    time.sleep(0.2)
    assert b.claim(crawl, "b/0", lease=60) == URLS[0]
    assert not a.renew(crawl, URLS[0], "a/0", lease=60), "the claim is b's now"
    # a finishes anyway: its result is kept, b's claim is not deleted with it.
    a.save(crawl, _site(URLS[0], honored=False), holder="a/0")
    assert a._rows("SELECT holder FROM claims WHERE crawl_id = %s", (crawl,)) == [("b/0",)]
    b.save(crawl, _site(URLS[0]), holder="b/0")
    assert a._rows("SELECT holder FROM claims WHERE crawl_id = %s", (crawl,)) == []
    assert a.results(crawl)[0]["verdicts"]["gpc_honored"] is True  # the last result


def test_leases_run_on_the_databases_clock_not_a_machines(
    stores: tuple[PostgresResultStore, PostgresResultStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS[:1], OPTIONS).id
    assert a.claim(crawl, "a/0", lease=600) == URLS[0]
    # Machine b's clock runs a day ahead: a's lease has not run out all the same.
    ahead = time.time() + 86_400
    monkeypatch.setattr(store_module.time, "time", lambda: ahead)
    assert b.claim(crawl, "b/0", lease=600) is None


def test_a_failed_statement_leaves_the_connection_usable(
    stores: tuple[PostgresResultStore, PostgresResultStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = stores
    crawl = a.open_crawl(URLS[:2], OPTIONS).id
    assert a.claim(crawl, "a/0", lease=600) == URLS[0]
    real = a._run

    def failing(sql: str, params: object = ()) -> None:
        real("SELECT 1 / 0")  # a statement the server refuses: the transaction aborts

    monkeypatch.setattr(a, "_run", failing)
    with pytest.raises(psycopg.errors.DivisionByZero):
        a.release(crawl, "a/0")
    with pytest.raises(psycopg.errors.DivisionByZero):
        a.finish_crawl(crawl)
    monkeypatch.setattr(a, "_run", real)
    # Rolled back, not left open: the next statements work and commit (the
    # other machine sees them).
    assert a.claim(crawl, "a/1", lease=600) == URLS[1]
    a.release(crawl, "a/0")
    assert b._rows("SELECT holder FROM claims WHERE crawl_id = %s", (crawl,)) == [("a/1",)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_both_backends_keep_the_same_results(
    backend: str, postgres_dsn: str, tmp_path: Path
) -> None:
    store: ResultStore = open_results(
        postgres_dsn if backend == "postgres" else tmp_path / "audit.sqlite"
    )
    try:
        first = store.open_crawl(URLS[:2], OPTIONS)
        store.save(first.id, _site(URLS[1], honored=False))
        store.save(first.id, _site(URLS[0]))
        store.save(first.id, _site(URLS[0]))  # saved twice (a lease ran out): one result
        store.finish_crawl(first.id)
        again = store.open_crawl(URLS[:2], OPTIONS)
        assert again.id != first.id, "a finished crawl is re-audited, not resumed"
        store.save(again.id, _site(URLS[1]))
        summary = store.crawl(first.id)
        assert (summary["total"], summary["audited"], summary["complete"]) == (2, 2, True)
        assert [r["url"] for r in store.results(first.id)] == URLS[:2]
        previous = store.previous(URLS[1], again.id)
        assert previous is not None
        assert previous["verdicts"]["gpc_honored"] is False
        assert [h["gpc_honored"] for h in store.history(URLS[1])] == [False, True]
    finally:
        store.close()


def test_an_unreachable_database_is_named_without_its_password(postgres_dsn: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    with pytest.raises(StoreError) as caught:
        open_results(f"postgresql://u:s3cret-pw@127.0.0.1:1/{info['dbname']}")
    assert "127.0.0.1:1" in str(caught.value)
    assert "cannot connect" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


@pytest.mark.browser
def test_two_machines_share_one_crawl(
    fixture_web: FixtureWeb, postgres_dsn: str, tmp_path: Path
) -> None:
    """Two real `trackpref audit` processes, one list, one PostgreSQL."""
    names = ("clean", "honor", "hostile", "wrongtypes", "liar", "broken")
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(fixture_web.url(n) for n in names) + "\n")

    def machine(out: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable, "-m", "trackpref", "audit", "--from", str(urls),
                "--out", str(tmp_path / out), "--db", postgres_dsn,
                "--host-rules", "MAP *.test 127.0.0.1", "--settle", "0.2", "--timeout", "5",
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    procs = [machine("a"), machine("b")]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode in (0, 1), err
        assert "Traceback" not in err
    with psycopg.connect(postgres_dsn) as conn:
        audited = [r[0] for r in conn.execute("SELECT url FROM results")]
        crawls = conn.execute("SELECT count(*), count(finished_at) FROM crawls").fetchone()
        claims = conn.execute("SELECT count(*) FROM claims").fetchone()
    assert sorted(audited) == sorted(fixture_web.url(n) for n in names), "each site once"
    assert crawls == (1, 1)
    assert claims == (0,)
    # Whichever machine finished last wrote the whole crawl's report.
    reports = [json.loads((tmp_path / m / "report.json").read_text()) for m in ("a", "b")]
    complete = [r for r in reports if r["crawl"]["complete"]]
    assert complete, "at least one machine saw the crawl finished"
    assert [s["url"] for s in complete[0]["sites"]] == [fixture_web.url(n) for n in names]
    verdicts = {s["url"]: s["verdicts"]["claims_contradicted"] for s in complete[0]["sites"]}
    assert verdicts[fixture_web.url("liar")] is True
