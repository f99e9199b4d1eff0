from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.signal_headers import merge_signal_headers

DNT = {"DNT": "1", "Sec-GPC": "1"}
ALLOW = {"DNT": "0"}


def test_unset_leaves_the_app_fields_alone() -> None:
    fields = merge_signal_headers({}, ["1"])
    assert fields.untouched


def test_do_not_track_sends_exactly_one_of_each() -> None:
    fields = merge_signal_headers(DNT, ["1", "1"])
    assert fields.dnt == ("1",)
    assert fields.gpc == ("1",)


def test_allow_adds_no_gpc_but_keeps_an_apps_and_drops_junk() -> None:
    assert merge_signal_headers(ALLOW, []).gpc == ()
    assert merge_signal_headers(ALLOW, ["1"]).gpc == ("1",)
    assert merge_signal_headers(ALLOW, ["true"]).gpc == ()
    assert merge_signal_headers(ALLOW, ["1"]).dnt == ("0",)


def test_a_gpc_exception_stops_adding_but_never_removes() -> None:
    assert merge_signal_headers(DNT, [], add_gpc=False).gpc == ()
    assert merge_signal_headers(DNT, ["1"], add_gpc=False).gpc == ("1",)


@given(
    st.sampled_from([{}, DNT, ALLOW]),
    st.lists(st.sampled_from(["1", "0", "", "true", " 1 ", "1, 1"]), max_size=3),
    st.booleans(),
)
def test_property_an_apps_gpc_1_is_never_stripped(
    wanted: dict[str, str], app: list[str], add: bool
) -> None:
    fields = merge_signal_headers(wanted, app, add_gpc=add)
    sends_one = any(part.strip(" \t") == "1" for value in app for part in value.split(","))
    if sends_one:
        assert fields.gpc is None or fields.gpc == ("1",)
    if fields.gpc is not None:
        assert len(fields.gpc) <= 1
    if fields.dnt is not None:
        assert fields.dnt == (wanted["DNT"],)
