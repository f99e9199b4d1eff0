"""The driver's reading policy, with fakes for the browser (the real thing is in
test_audit_browser.py): the main frame's storage is read in an isolated world,
never in the page's own, whatever the world does."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from playwright.async_api import Browser, Frame
from playwright.async_api import Error as PlaywrightError

from trackpref.audit.driver import (
    _CONSENT_JS,
    _STORAGE_JS,
    BrowserDriver,
    BrowserOptions,
    _IsolatedReader,
)

STORAGE = {"origin": "https://shop.example", "local": [["_uid", "f00d"]], "session": []}
DEEP = {"origin": "https://shop.example", "indexeddb": [], "cache": []}


class FakeFrame:
    """The page's own world: records what it is asked, answers the consent read."""

    parent_frame = None

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def evaluate(self, script: str, *args: Any) -> object:
        self.asked.append(script)
        return {"usp": None} if script == _CONSENT_JS else {"origin": "lie", "local": []}


class FakeReader:
    """An isolated world whose document goes away ``gone`` times."""

    def __init__(self, gone: int) -> None:
        self.gone = gone
        self.worlds = 0  # made, the first one included

    async def make_world(self) -> None:
        self.worlds += 1

    async def evaluate(self, script: str, arg: int | None = None) -> object:
        if script == _STORAGE_JS and self.gone:
            self.gone -= 1
            raise PlaywrightError("Cannot find context with specified id")
        return STORAGE if script == _STORAGE_JS else DEEP


def frame_state(gone: int) -> tuple[tuple[object, object], FakeFrame, FakeReader]:
    driver = BrowserDriver(cast(Browser, None), BrowserOptions(read_timeout=1.0))
    frame, reader = FakeFrame(), FakeReader(gone)
    state = asyncio.run(driver._frame_state(cast(Frame, frame), cast(_IsolatedReader, reader)))
    return state, frame, reader


def test_the_main_frame_is_read_in_the_world_and_only_consent_in_the_page() -> None:
    (state, deep), frame, reader = frame_state(gone=0)
    assert state == {**STORAGE, "consent": {"usp": None}}
    assert deep == DEEP
    assert frame.asked == [_CONSENT_JS]
    assert reader.worlds == 1


def test_a_world_gone_with_its_document_is_made_again() -> None:
    (state, deep), frame, reader = frame_state(gone=2)
    assert state == {**STORAGE, "consent": {"usp": None}}
    assert deep == DEEP
    assert reader.worlds == 3
    assert frame.asked == [_CONSENT_JS]


def test_a_page_that_keeps_navigating_is_unread_never_read_in_its_own_world() -> None:
    (state, deep), frame, reader = frame_state(gone=10)
    assert (state, deep) == (None, None)
    assert frame.asked == []  # not _PAGE_STATE_JS, not _STORAGE_JS, not _DEEP_STORAGE_JS
    assert reader.worlds == 3  # two new worlds, then no more
