"""The running service's process-wide settings."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient


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
