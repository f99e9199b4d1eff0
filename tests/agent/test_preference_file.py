from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.agent.preference_file import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    PreferenceFileError,
    UserPreference,
    backup_file,
    load_preference,
    preference_lock,
    preference_path,
    save_preference,
)
from trackpref.signals.errors import SignalError
from trackpref.signals.preference import PreferenceState

T = 1_700_000_000.0
DNT = PreferenceState.DO_NOT_TRACK


def test_the_file_lives_in_the_platform_config_dir_and_honours_xdg(config_home: Path) -> None:
    assert preference_path() == config_home / "trackpref" / "preference.json"


def test_no_file_means_unset_and_nothing_is_sent(config_home: Path) -> None:
    pref = load_preference()
    assert pref.state is PreferenceState.UNSET
    assert pref.header_values("news.example", "news.example", T) == {}
    assert pref.header_values(None, "cdn.example", T) == {}


@pytest.mark.parametrize(
    ("state", "headers"),
    [
        (PreferenceState.UNSET, {}),
        (PreferenceState.DO_NOT_TRACK, {"DNT": "1", "Sec-GPC": "1"}),
        (PreferenceState.ALLOW, {"DNT": "0"}),
    ],
)
def test_header_values_per_state(state: PreferenceState, headers: dict[str, str]) -> None:
    assert UserPreference(state).header_values("a.example", "b.example", T) == headers


@pytest.mark.parametrize("state", list(PreferenceState))
def test_an_exception_sends_dnt_0_for_its_pair_only(state: PreferenceState) -> None:
    pref = UserPreference(state).allow("news.example", ["metrics.example"], now=T)
    assert pref.header_values("news.example", "metrics.example", T) == {"DNT": "0"}
    assert pref.effective_state("news.example", "metrics.example", T) is PreferenceState.ALLOW
    other = UserPreference(state).header_values("x.example", "y.example", T)
    assert pref.header_values("news.example", "other.example", T) == other
    assert pref.header_values("other.example", "metrics.example", T) == other
    assert pref.header_values("www.news.example", "metrics.example", T) == other


def test_wildcard_site_scope_and_expiry() -> None:
    pref = UserPreference(DNT).allow("*.news.example", now=T, max_age=60)
    assert pref.covers("www.news.example", "anything.example", T + 59)
    assert pref.covers("news.example", "x.example", T)
    assert not pref.covers("www.news.example", "anything.example", T + 60)


def test_an_unknown_site_matches_web_wide_exceptions_only() -> None:
    pref = UserPreference(DNT).allow("news.example", now=T).allow("*", ["cdn.example"], now=T)
    assert pref.covers(None, "cdn.example", T)
    assert not pref.covers(None, "other.example", T)
    assert pref.header_values(None, "other.example", T) == {"DNT": "1", "Sec-GPC": "1"}


def test_a_web_wide_grant_needs_targets() -> None:
    with pytest.raises(SignalError, match="'\\*' for both"):
        UserPreference().allow("*", now=T)


@pytest.mark.parametrize("bad", ["", "exa mple.com", "http://x.example/", ".example.com"])
def test_a_bad_site_is_named(bad: str) -> None:
    with pytest.raises(SignalError) as err:
        UserPreference().allow(bad, ["t.example"], now=T)
    assert err.value.field == "site"


def test_a_grant_with_the_same_pairs_replaces_the_old_one() -> None:
    pref = UserPreference().allow("a.example", ["t.example"], now=T, max_age=10)
    pref = pref.allow("a.example", ["t.example"], now=T + 5)
    assert len(pref.exceptions) == 1
    assert pref.exceptions.grants[0].expires is None


def test_revoke_removes_whole_grants_and_only_matching_ones() -> None:
    pref = (
        UserPreference(DNT)
        .allow("news.example", ["a.example", "b.example"], now=T)
        .allow("shop.example", now=T)
        .allow("*", ["cdn.example"], now=T)
    )
    same, removed = pref.revoke("other.example")
    assert removed == 0
    assert same is pref
    after, removed = pref.revoke("news.example", ["b.example"])
    assert removed == 1
    # The grant was a unit: a.example goes with b.example.
    assert not after.covers("news.example", "a.example", T)
    assert after.covers("shop.example", "x.example", T)
    assert after.covers("news.example", "cdn.example", T)
    after, removed = after.revoke("*")
    assert removed == 1
    assert not after.covers("news.example", "cdn.example", T)
    assert after.covers("shop.example", "x.example", T)
    after, removed = after.revoke("*.example")
    assert removed == 1
    assert len(after.exceptions) == 0


def test_save_and_load_round_trip_atomically_and_privately(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "preference.json"
    pref = UserPreference(DNT).allow("news.example", ["m.example"], now=T, name="News")
    written = save_preference(pref, path, now=T + 1)
    assert written == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["preference.json"]
    loaded = load_preference(path)
    assert loaded.state is DNT
    assert loaded.exceptions == pref.exceptions
    assert loaded.updated == T + 1
    document = json.loads(path.read_text())
    assert document["version"] == FORMAT_VERSION
    assert document["preference"] == "do-not-track"
    assert document["exceptions"][0]["duplets"] == [["news.example", "m.example"]]


def test_members_of_a_newer_writer_are_kept_on_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "preference.json"
    path.write_text(json.dumps({"version": 1, "preference": "allow", "ui": {"theme": "dark"}}))
    pref = load_preference(path).with_state(DNT)
    save_preference(pref, path)
    assert json.loads(path.read_text())["ui"] == {"theme": "dark"}


def test_saving_through_a_symlink_keeps_the_link_and_updates_its_target(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "trackpref.json"
    target.parent.mkdir()
    save_preference(UserPreference(PreferenceState.ALLOW), target, now=T)
    link = tmp_path / "config" / "trackpref" / "preference.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    written = save_preference(load_preference(link).with_state(DNT), link, now=T + 1)
    assert written == link
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert load_preference(target).state is DNT
    assert load_preference(target).updated == T + 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "trackpref.json"
    link = tmp_path / "preference.json"
    link.symlink_to(target)
    assert load_preference(link).state is PreferenceState.UNSET  # no file yet: unset
    save_preference(UserPreference(DNT), link, now=T)
    assert link.is_symlink()
    assert load_preference(target).state is DNT


def test_a_symlink_loop_is_named_and_not_replaced(tmp_path: Path) -> None:
    link = tmp_path / "preference.json"
    link.symlink_to(link)
    with pytest.raises(PreferenceFileError, match="cannot be written") as err:
        save_preference(UserPreference(DNT), link)
    assert str(link) in str(err.value)
    assert link.is_symlink()


def test_the_lock_names_the_file_when_another_writer_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "preference.json"
    with (
        preference_lock(path) as locked,
        pytest.raises(PreferenceFileError, match="being changed by another process") as err,
        preference_lock(path, timeout=0.05),
    ):
        pytest.fail("took a held lock")
    assert locked == path
    assert err.value.path == path
    assert "preference.json.lock" in err.value.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preference.json.lock"]


def test_the_lock_says_when_it_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "preference.json.lock").mkdir()
    with (
        pytest.raises(PreferenceFileError, match="cannot be locked for a change"),
        preference_lock(tmp_path / "preference.json"),
    ):
        pytest.fail("locked a directory")


def test_the_lock_leaves_errors_from_inside_the_block_alone(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), preference_lock(tmp_path / "preference.json"):
        (tmp_path / "missing").read_text()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "one JSON object"),
        (b"{}", "'version' is missing"),
        (b'{"version": "1"}', "'version' must be a positive integer"),
        (b'{"version": 2, "preference": "unset"}', "newer trackpref"),
        (b'{"version": 1, "preference": "maybe"}', "'preference' must be one of"),
        (b'{"version": 1, "exceptions": {}}', "'exceptions'"),
        (
            b'{"version": 1, "exceptions": [{"duplets": [["*", "*"]], "created": 1}]}',
            "'exceptions'",
        ),
        (b'{"version": 1, "updated": "yesterday"}', "'updated'"),
    ],
)
def test_a_broken_file_is_an_error_naming_the_file_and_the_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "preference.json"
    path.write_bytes(content)
    with pytest.raises(PreferenceFileError) as err:
        load_preference(path)
    assert str(path) in str(err.value)
    assert problem in err.value.problem
    assert path.read_bytes() == content  # never repaired behind the person's back


def test_a_directory_or_an_oversized_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(PreferenceFileError, match="directory"):
        load_preference(tmp_path / "dir")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(PreferenceFileError, match="larger than"):
        load_preference(big)


def test_backup_moves_the_broken_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "preference.json"
    assert backup_file(path) is None
    path.write_text("{broken")
    first = backup_file(path, now=T)
    path.write_text("{broken again")
    second = backup_file(path, now=T)
    assert first is not None
    assert second is not None
    assert first != second
    assert first.read_text() == "{broken"
    assert second.read_text() == "{broken again"
    assert not path.exists()


def test_backup_through_a_symlink_moves_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "trackpref.json"
    target.parent.mkdir()
    target.write_text("{broken")
    link = tmp_path / "preference.json"
    link.symlink_to(target)
    moved = backup_file(link, now=T)
    assert moved is not None
    assert moved.parent == target.parent
    assert moved.read_text() == "{broken"
    assert link.is_symlink()
    assert not target.exists()
    save_preference(UserPreference(DNT), link)
    assert link.is_symlink()
    assert load_preference(target).state is DNT


hosts = st.sampled_from(["a.example", "b.example", "*.c.example", "d.example"])


@settings(max_examples=60, deadline=None)
@given(
    state=st.sampled_from(list(PreferenceState)),
    grants=st.lists(
        st.tuples(
            hosts, st.lists(hosts, max_size=3, unique=True), st.none() | st.integers(1, 10**6)
        ),
        max_size=5,
    ),
)
def test_round_trip_property(
    state: PreferenceState, grants: list[tuple[str, list[str], int | None]]
) -> None:
    pref = UserPreference(state)
    for site, targets, max_age in grants:
        pref = pref.allow(site, targets, now=T, max_age=max_age)
    again = UserPreference.from_json(json.loads(json.dumps(pref.to_json())))
    assert again.state is pref.state
    assert again.exceptions == pref.exceptions


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_load_or_fail_with_a_named_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("p") / "preference.json"
    path.write_bytes(content)
    error: PreferenceFileError | None = None
    try:
        load_preference(path)
    except PreferenceFileError as exc:
        error = exc
    if error is not None:
        assert str(path) in str(error)


@settings(max_examples=200, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=10,
    ),
    version=st.sampled_from([1, 2, "1", None]),
    state=st.sampled_from(["unset", "allow", "do-not-track", "nope", 1]),
)
def test_any_json_document_parses_or_raises_signal_error(
    document: object, version: object, state: object
) -> None:
    data = {"version": version, "preference": state, "exceptions": document}
    error: SignalError | None = None
    try:
        pref = UserPreference.from_json(data)
    except SignalError as exc:
        error = exc
    if error is not None:
        assert error.field in {"version", "preference", "exceptions"}
    else:
        assert pref.state.value == state
