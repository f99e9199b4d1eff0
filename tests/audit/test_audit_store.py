from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from trackpref.audit.store import ResultStore, StoreError

URLS = ["https://a.example/", "https://b.example/", "https://c.example/"]
OPTIONS = {"states": ["no-signal", "dnt1-gpc", "dnt0"], "repeats": 1}


def result(url: str, gpc: bool | None = True, error: str | None = None) -> dict[str, object]:
    return {
        "url": url,
        "site": url.split("/")[2],
        "audited_at": "2026-01-01T00:00:00+00:00",
        "error": {"kind": error, "message": "x"} if error else None,
        "verdicts": {"gpc_honored": gpc, "dnt_honored": gpc, "declarations_valid": None},
        "states": {},
    }


def test_resume_then_reaudit(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with ResultStore(path) as store:
        crawl = store.open_crawl(URLS, OPTIONS)
        assert not crawl.resumed
        store.save(crawl.id, result(URLS[0]), [("tracker.example", "a.example")])
    # A new process, the same command: the crawl resumes.
    with ResultStore(path) as store:
        again = store.open_crawl(URLS, OPTIONS)
        assert again.resumed
        assert again.id == crawl.id
        assert again.pending == tuple(URLS[1:])
        for url in again.pending:
            store.save(again.id, result(url, gpc=False, error="timeout" if "c." in url else None))
        store.finish_crawl(again.id)
        info = store.crawl(again.id)
        assert (info["complete"], info["total"], info["audited"], info["with_errors"]) == (
            True,
            3,
            3,
            1,
        )
        assert [r["url"] for r in store.results(again.id)] == URLS
        # Finished: the same command now re-audits, in a new crawl.
        second = store.open_crawl(URLS, OPTIONS)
        assert not second.resumed
        assert second.id != crawl.id
        store.save(second.id, result(URLS[0], gpc=False))
        previous = store.previous(URLS[0], second.id)
        assert previous is not None
        assert previous["verdicts"]["gpc_honored"] is True
        history = store.history(URLS[0])
        assert [h["gpc_honored"] for h in history] == [True, False]


def test_other_options_or_fresh_start_a_new_crawl(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "a.sqlite") as store:
        first = store.open_crawl(URLS, OPTIONS)
        other = store.open_crawl(URLS, {**OPTIONS, "repeats": 2})
        assert other.id != first.id
        fresh = store.open_crawl(URLS, OPTIONS, fresh=True)
        assert fresh.id not in (first.id, other.id)


def test_sightings_build_knowledge(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "a.sqlite") as store:
        crawl = store.open_crawl(URLS, OPTIONS)
        for url in URLS:
            site = url.split("/")[2]
            store.save(
                crawl.id, result(url), [("tracker.example", site), ("cdn.example", "a.example")]
            )
        knowledge = store.knowledge(threshold=3)
        assert knowledge.classify("tracker.example").tracker
        assert not knowledge.classify("cdn.example").tracker


def test_duplicate_urls_are_audited_once(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "a.sqlite") as store:
        crawl = store.open_crawl([URLS[0], URLS[0], URLS[1]], OPTIONS)
        assert crawl.urls == (URLS[0], URLS[1])


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable results database"):
        ResultStore(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema 99"):
        ResultStore(path)


def test_a_failed_write_is_rolled_back_and_the_store_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ResultStore(tmp_path / "a.sqlite") as store:
        crawl = store.open_crawl(URLS, OPTIONS)
        real = store._run

        def failing(sql: str, params: object = ()) -> None:
            real("SELECT * FROM no_such_table")

        monkeypatch.setattr(store, "_run", failing)
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            store.finish_crawl(crawl.id)
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            store.save(crawl.id, result(URLS[0]))
        monkeypatch.setattr(store, "_run", real)
        # Not stuck inside the failed transaction: the next ones begin and commit.
        store.save(crawl.id, result(URLS[0]))
        store.finish_crawl(crawl.id)
    with ResultStore(tmp_path / "a.sqlite") as store:
        assert store.crawl(crawl.id)["complete"]
        assert [r["url"] for r in store.results(crawl.id)] == URLS[:1]


def test_fresh_machines_join_by_the_stores_clock_not_their_own(tmp_path: Path) -> None:
    class Shared(ResultStore):
        """A store whose clock (the database's) runs 5 s behind this machine's."""

        shared = True

        def _epoch(self) -> float:
            return time.time() - 5

    with Shared(tmp_path / "a.sqlite") as a, Shared(tmp_path / "a.sqlite") as b:
        first = a.open_crawl(URLS, OPTIONS, fresh=True)
        second = b.open_crawl(URLS, OPTIONS, fresh=True)
        assert second.id == first.id, "one new crawl for the machines of one launch"


def test_a_lone_surrogate_from_a_page_is_stored_as_a_replacement_character(
    tmp_path: Path,
) -> None:
    # What a hostile page's localStorage.setItem('k', 'ab\ud800cd') leaves in a
    # result: UTF-8 cannot encode it, and SQLite used to refuse the whole row.
    site = result(URLS[0])
    site["states"] = {
        "no-signal": {"storage": [{"key": "k\udc00", "value": "ab\ud800cd"}]},
    }
    site["site"] = "a.example\ud800"
    with ResultStore(tmp_path / "audit.sqlite") as store:
        crawl = store.open_crawl(URLS, OPTIONS)
        store.save(crawl.id, site)
        (saved,) = store.results(crawl.id)
        (history,) = store.history(URLS[0])
    assert saved["states"]["no-signal"]["storage"] == [{"key": "k\ufffd", "value": "ab\ufffdcd"}]
    assert saved["site"] == "a.example\ufffd"
    assert history["gpc_honored"] is True
