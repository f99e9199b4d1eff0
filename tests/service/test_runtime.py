"""The running service's process-wide settings."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from trackpref.ledger.storage import open_store
from trackpref.service.runtime import SERVICE_SITE, smtp_address
from trackpref.service.tables import ServiceTables
from trackpref.signals.errors import SignalError


@pytest.fixture
def gc_state() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("gc_state")
def test_tune_gc_freezes_startup_objects_and_raises_gen0(
    make_app: Callable[..., Starlette],
) -> None:
    gc.unfreeze()
    with TestClient(make_app(tune_gc=True)):
        assert gc.get_freeze_count() > 10_000, "the PSL and the app were frozen"
        assert gc.get_threshold()[0] == 20_000


@pytest.mark.usefixtures("gc_state")
def test_tune_gc_off_leaves_the_collector_alone(make_app: Callable[..., Starlette]) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    with TestClient(make_app(tune_gc=False)):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before


def test_a_clean_stop_folds_the_tally_log(
    make_app: Callable[..., Starlette], tmp_path: Path
) -> None:
    with TestClient(make_app()) as client:
        page = {"site": "news.example", "type": "pageview", "url": "/a"}
        assert client.post("/api/collect", json=page).status_code == 202
    with open_store(tmp_path / "service.db", site=SERVICE_SITE) as store:
        tables = ServiceTables(store)
        assert tables.logged_tallies() == 0, "every count keyed at shutdown"
        rows = tables.tallies("news.example", since="2000-01-01", until="2999-12-31")
        assert ("pageviews", "total", 1) in [(m, v, n) for _, m, v, n in rows]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("mail.example", ("mail.example", 587)),
        ("mail.example:25", ("mail.example", 25)),
        ("[::1]:2525", ("::1", 2525)),
        ("[::1]", ("::1", 587)),
        (" localhost:1025 ", ("localhost", 1025)),
    ],
)
def test_an_smtp_address_is_read_at_startup(text: str, address: tuple[str, int]) -> None:
    assert smtp_address(text) == address


@pytest.mark.parametrize(
    "text", [":25", "::1", "mail.example:99999", "mail.example:0", "mail:", "a b:25", "u@h:25"]
)
def test_a_bad_smtp_address_is_named_before_the_first_mail(text: str) -> None:
    with pytest.raises(SignalError) as info:
        smtp_address(text)
    assert info.value.field == "smtp"
    assert repr(text) in str(info.value)
