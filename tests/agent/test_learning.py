from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.learning import (
    LearnedStateError,
    TrackerLearner,
    identifier_evidence,
    learned_path,
)

NOW = 1_750_000_000.0


def test_the_state_lives_in_the_user_data_dir(config_home: Path) -> None:
    assert learned_path() == config_home.parent / "data" / "trackpref" / "learned-trackers.json"


def test_identifiers_in_cookies_and_urls_are_evidence() -> None:
    assert identifier_evidence(["lang=en; uid=8f3a9c2e7b1d4f60aa"], now=NOW) == "cookie uid sent"
    assert (
        identifier_evidence(set_cookies=["_id=Zx8Qk2Lm9Pq3Rt7V; Path=/"], now=NOW)
        == "cookie _id set"
    )
    assert (
        identifier_evidence(query="u=3f2b9c1e-55aa-4c1e-9d0e-7a6b5c4d3e2f&w=600", now=NOW)
        == "query parameter u"
    )


def test_ordinary_values_are_not() -> None:
    assert identifier_evidence(["lang=en-US; theme=dark; consent=true"], now=NOW) is None
    assert identifier_evidence(query=f"v=2&_={int(NOW)}&w=600", now=NOW) is None
    assert identifier_evidence(set_cookies=["malformed"], now=NOW) is None


def test_three_distinct_sites_make_a_tracker() -> None:
    learner = TrackerLearner()
    assert not learner.observe("ads.example", "a.example")
    assert not learner.observe("ads.example", "a.example")
    assert not learner.observe("ads.example", "b.example")
    assert "ads.example" not in learner.learned
    assert not learner.observe("ads.example", "ads.example")
    assert learner.observe("ads.example", "c.example")
    assert "ads.example" in learner.learned
    assert not learner.observe("ads.example", "d.example")
    assert learner.sites("ads.example") == {"a.example", "b.example", "c.example", "d.example"}


def test_sites_are_capped() -> None:
    learner = TrackerLearner(threshold=2, max_sites=3)
    for i in range(10):
        learner.observe("ads.example", f"s{i}.example")
    assert len(learner.sites("ads.example")) == 3


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    learner = TrackerLearner(path)
    assert not learner.save()
    for site in ("a.example", "b.example", "c.example"):
        learner.observe("ads.example", site)
    learner.observe("maybe.example", "a.example")
    assert learner.save()
    assert not learner.save()
    again = TrackerLearner.load(path)
    assert again.learned == {"ads.example"}
    assert again.sites("maybe.example") == {"a.example"}
    assert json.loads(path.read_text())["version"] == 1


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 2}',
        '{"version": 1, "trackers": {"a": "b"}}',
        '{"version": 1, "threshold": 3, "trackers": []}',
    ],
)
def test_a_broken_state_file_is_moved_aside_and_learning_restarts(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "learned.json"
    path.write_text(content)
    learner = TrackerLearner.load(path)
    assert learner.learned == frozenset()
    assert not path.exists()
    (aside,) = tmp_path.glob("learned.json.broken-*")
    assert aside.read_text() == content


def test_breakages_within_one_second_keep_every_copy(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    for n in range(3):
        path.write_text(f'{{"version": {n + 2}}}')
        TrackerLearner.load(path)
    kept = sorted(p.read_text() for p in tmp_path.glob("learned.json.broken-*"))
    assert kept == ['{"version": 2}', '{"version": 3}', '{"version": 4}']


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{", "not JSON"),  # we write atomically: a torn file is not one of ours
        (b"[" * 100_000, "nested too deeply"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "not JSON"),
        (b"my notes\n", "not JSON"),
        (b"[]", "not the learned-trackers fields"),
        (b'{"version": 1}' * 2, "not JSON"),
        # a DuckDuckGo tracker file named by mistake, with a field we also use
        (b'{"trackers": {"ads.example": {"default": "block"}}, "entities": {}}', "fields"),
        (b'{"version": 1, "trackers": {}, "domains": {}}', "fields"),
    ],
)
def test_a_file_that_is_not_learned_state_is_refused_and_left_alone(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "notes.json"
    path.write_bytes(content)
    with pytest.raises(LearnedStateError, match=why) as raised:
        TrackerLearner.load(path)
    assert str(path) in str(raised.value)
    assert "not a learned-trackers file" in str(raised.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json"]


def test_a_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    (path / "inside").mkdir(parents=True)
    with pytest.raises(LearnedStateError, match="is a directory") as raised:
        TrackerLearner.load(path)
    assert str(path) in str(raised.value)
    assert (path / "inside").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learned.json"]


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            TrackerLearner.load(path)
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        # Release the blocked open() so the thread ends, then fail.
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("loading a FIFO waited for a writer")
    (error,) = outcome
    assert isinstance(error, LearnedStateError)
    assert "named pipe" in str(error)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learned.json"]


def test_an_empty_file_is_an_empty_state(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    path.write_bytes(b"")
    learner = TrackerLearner.load(path)
    assert learner.learned == frozenset()
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learned.json"]
    learner.observe("ads.example", "a.example")
    assert learner.save()
    assert TrackerLearner.load(path).sites("ads.example") == {"a.example"}


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        TrackerLearner(threshold=0)


@given(
    st.lists(st.text(max_size=40), max_size=3),
    st.lists(st.text(max_size=40), max_size=3),
    st.text(max_size=80),
)
def test_evidence_never_raises(cookies: list[str], set_cookies: list[str], query: str) -> None:
    why = identifier_evidence(cookies, set_cookies, query, now=NOW)
    assert why is None or isinstance(why, str)


def test_at_its_own_path_an_unparseable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    path.write_bytes(b'{"version": 1, "trackers": {"a')
    learner = TrackerLearner.load(path, own=True)
    assert learner.learned == frozenset()
    (aside,) = tmp_path.glob("learned.json.broken-*")
    assert aside.read_bytes() == b'{"version": 1, "trackers": {"a'
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(LearnedStateError, match=r"pipe\.json"):
        TrackerLearner.load(fifo, own=True)  # not a file: someone else's, even here
    assert fifo.exists()
