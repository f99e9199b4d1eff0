"""The service tables: counts are logged, folded, and read back exactly."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref.ledger.storage import Store, open_store
from trackpref.service import tables as tables_module
from trackpref.service.tables import ServiceTables, Tally

SITES = ("a.example", "b.example")
DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")

tally = st.tuples(
    st.sampled_from(SITES),
    st.sampled_from(DAYS),
    st.sampled_from(("path", "signal")),
    st.sampled_from(("/", "/x", "gpc", "ünïcode'\"")),
)
#: Batches of counts, each with a flag: fold after this batch?
batches = st.lists(
    st.tuples(st.dictionaries(tally, st.integers(1, 1000), max_size=12), st.booleans()),
    max_size=12,
)


def _read(tables: ServiceTables) -> Counter[Tally]:
    out: Counter[Tally] = Counter()
    for site in SITES:
        for day, metric, value, n in tables.tallies(site, since=DAYS[0], until=DAYS[-1]):
            out[site, day, metric, value] += n
    return out


def _check(tables: ServiceTables, data: list[tuple[dict[Tally, int], bool]]) -> None:
    expected: Counter[Tally] = Counter()
    for counts, fold in data:
        with tables.store.transaction():
            tables.add_tallies(counts)
        expected.update(counts)
        if fold:
            tables.fold_tallies()
        assert _read(tables) == expected
    tables.fold_tallies()
    assert tables.logged_tallies() == 0
    assert _read(tables) == expected
    assert tables.sites() == sorted({k[0] for k, n in expected.items() if n})


@pytest.fixture
def sqlite_tables(tmp_path: Path) -> Iterator[ServiceTables]:
    store = open_store(tmp_path / "t.db", site="_service")
    try:
        yield ServiceTables(store)
    finally:
        store.close()


def _empty(tables: ServiceTables) -> None:
    with tables.store.transaction():
        tables.store.execute("DELETE FROM service_tallies")
        tables.store.execute("DELETE FROM service_tally_log")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=batches)
def test_logged_and_folded_counts_add_up_sqlite(
    sqlite_tables: ServiceTables, data: list[tuple[dict[Tally, int], bool]]
) -> None:
    _empty(sqlite_tables)
    _check(sqlite_tables, data)


def test_the_log_folds_itself_when_due(
    sqlite_tables: ServiceTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables_module, "FOLD_ROWS", 3)
    key = (SITES[0], DAYS[0], "path")
    with sqlite_tables.store.transaction():
        sqlite_tables.add_tallies({(*key, "/a"): 1, (*key, "/b"): 1})
    assert sqlite_tables.logged_tallies() == 2
    with sqlite_tables.store.transaction():
        sqlite_tables.add_tallies({(*key, "/a"): 4})
    assert sqlite_tables.logged_tallies() == 0, "three rows logged: folded in that batch"
    assert sorted(sqlite_tables.tallies(SITES[0], since=DAYS[0], until=DAYS[0])) == [
        (DAYS[0], "path", "/a", 5),
        (DAYS[0], "path", "/b", 1),
    ]


def test_a_failed_batch_leaves_neither_log_nor_fold(sqlite_tables: ServiceTables) -> None:
    key = (SITES[0], DAYS[0], "path", "/a")
    with sqlite_tables.store.transaction():
        sqlite_tables.add_tallies({key: 2})

    def failing_batch() -> None:
        with sqlite_tables.store.transaction():
            sqlite_tables.add_tallies({key: 3})
            sqlite_tables.fold_tallies()
            raise RuntimeError("the batch's commit fails")

    with pytest.raises(RuntimeError):
        failing_batch()
    assert _read(sqlite_tables) == Counter({key: 2})


def test_deleting_old_days_reaches_the_log_too(sqlite_tables: ServiceTables) -> None:
    with sqlite_tables.store.transaction():
        sqlite_tables.add_tallies({(SITES[0], DAYS[0], "path", "/"): 1})
    sqlite_tables.fold_tallies()
    with sqlite_tables.store.transaction():
        sqlite_tables.add_tallies(
            {(SITES[0], DAYS[0], "path", "/"): 1, (SITES[0], DAYS[2], "path", "/"): 1}
        )
    sqlite_tables.delete_tallies_before(DAYS[1])
    assert _read(sqlite_tables) == Counter({(SITES[0], DAYS[2], "path", "/"): 1})


@pytest.mark.postgres
def test_logged_and_folded_counts_add_up_postgres(postgres_dsn: str) -> None:
    store: Store = open_store(postgres_dsn, site="_service")
    try:
        tables = ServiceTables(store)
        paths = ("/", "/x")
        data = [
            ({(s, d, "path", v): i + 1 for s in SITES for d in DAYS for v in paths}, i % 2 == 0)
            for i in range(5)
        ]
        _check(tables, data)
    finally:
        store.close()


@pytest.mark.postgres
def test_concurrent_folds_on_postgres_count_everything_once(postgres_dsn: str) -> None:
    """Two instances log and fold at once: nothing lost, nothing twice, no deadlock."""
    stores = [open_store(postgres_dsn, site="_service") for _ in range(2)]
    try:
        tables = [ServiceTables(s) for s in stores]
        keys = [(SITES[0], DAYS[0], "path", f"/{i}") for i in range(50)]
        errors: list[BaseException] = []

        def work(t: ServiceTables, order: int) -> None:
            try:
                for round_ in range(20):
                    ks = keys if order == 0 else keys[::-1]
                    with t.store.transaction():
                        t.add_tallies(dict.fromkeys(ks, 1))
                        if round_ % 3 == order:
                            t.fold_tallies()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t, i)) for i, t in enumerate(tables)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors
        tables[0].fold_tallies()
        assert _read(tables[0]) == Counter(dict.fromkeys(keys, 40))
    finally:
        for s in stores:
            s.close()


def _count_up_concurrently(tables: list[ServiceTables]) -> None:
    errors: list[BaseException] = []
    seen: list[int] = []

    def work(t: ServiceTables) -> None:
        try:
            for _ in range(25):
                seen.append(t.increment_counter("generation"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    total = 25 * len(tables)
    assert sorted(seen) == list(range(1, total + 1)), "every raise counted, each value once"
    assert tables[0].secret("generation") == str(total)


def test_a_counter_only_goes_up_and_counts_every_raise_sqlite(tmp_path: Path) -> None:
    stores = [open_store(tmp_path / "t.db", site="_service") for _ in range(2)]
    try:
        _count_up_concurrently([ServiceTables(s) for s in stores])
    finally:
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_a_counter_only_goes_up_and_counts_every_raise_postgres(postgres_dsn: str) -> None:
    stores = [open_store(postgres_dsn, site="_service") for _ in range(2)]
    try:
        _count_up_concurrently([ServiceTables(s) for s in stores])
    finally:
        for s in stores:
            s.close()
