from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.learning import TrackerLearner, identifier_evidence, learned_path

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
    ["{", '{"version": 2}', '{"version": 1, "trackers": {"a": "b"}}', "[" * 100_000],
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
