"""The three-state preference and its precedence (DESIGN.md "Decisions already taken").

Default precedence: a user-granted exception > do-not-track (DNT: 1 or Sec-GPC: 1)
> allow (DNT: 0) > the site default; every overruled signal is kept as a conflict.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.signals.dnt import DNT, parse_dnt
from trackpref.signals.errors import SignalError
from trackpref.signals.gpc import GPC, parse_gpc
from trackpref.signals.preference import (
    DEFAULT_PRECEDENCE,
    STRICT_PRECEDENCE,
    Claim,
    Conflict,
    Precedence,
    Preference,
    PreferenceState,
    Source,
    resolve,
    resolve_headers,
)

fast = settings(deadline=None)

UNSET, DNT_STATE, ALLOW = "unset", "do-not-track", "allow"

dnts = st.one_of(
    st.builds(DNT),
    st.builds(DNT, choice=st.sampled_from(["0", "1"]), extensions=st.sampled_from(["", "xy"])),
    st.builds(DNT, problem=st.just("broken")),
    st.builds(DNT, choice=st.just("1"), problem=st.just("2 DNT fields")),
)
gpcs = st.one_of(st.builds(GPC, enabled=st.booleans()), st.just(GPC(problem="'0'")))
precedences = st.builds(
    Precedence,
    order=st.permutations(list(Claim)).map(lambda p: (p[0], p[1], p[2])),
    default=st.sampled_from(PreferenceState),
)
header_values = st.one_of(
    st.none(),
    st.sampled_from(["1", "0", "1x", "yes", "", "1, 1", "0, 1", "true"]),
    st.text(max_size=5),
    st.lists(st.sampled_from(["1", "0", "x"]), max_size=3),
)


def oracle(
    dnt_choice: str | None,
    gpc_on: bool,
    exception: bool,
    order: list[str],
    default: str,
) -> str:
    """The precedence, written as "first listed claim that is present wins"."""
    present = set()
    if exception:
        present.add("exception")
    if dnt_choice == "1" or gpc_on:
        present.add("do-not-track")
    if dnt_choice == "0":
        present.add("allow")
    for claim in order:
        if claim in present:
            return ALLOW if claim in ("exception", "allow") else DNT_STATE
    return default


# (DNT, Sec-GPC, exception) -> (state, deciding source) under the DESIGN.md default.
DESIGN_TABLE = {
    (None, None, False): (UNSET, "site-default"),
    ("1", None, False): (DNT_STATE, "dnt"),
    ("0", None, False): (ALLOW, "dnt"),
    (None, "1", False): (DNT_STATE, "gpc"),
    ("1", "1", False): (DNT_STATE, "dnt"),
    ("0", "1", False): (DNT_STATE, "gpc"),
    (None, None, True): (ALLOW, "exception"),
    ("1", None, True): (ALLOW, "exception"),
    ("0", None, True): (ALLOW, "exception"),
    (None, "1", True): (ALLOW, "exception"),
    ("1", "1", True): (ALLOW, "exception"),
    ("0", "1", True): (ALLOW, "exception"),
}


@pytest.mark.parametrize(("signals", "expected"), DESIGN_TABLE.items())
def test_design_precedence(
    signals: tuple[str | None, str | None, bool], expected: tuple[str, str]
) -> None:
    dnt, gpc, exception = signals
    pref = resolve_headers(dnt, gpc, exception=exception)
    assert (pref.state.value, pref.source.value) == expected
    assert pref.exception is exception
    assert pref.dnt == parse_dnt(dnt)
    assert pref.gpc == parse_gpc(gpc)


def test_every_conflict_is_recorded_with_both_sides() -> None:
    pref = resolve_headers("1", "1", exception=True)
    assert pref.state is PreferenceState.ALLOW
    assert set(pref.conflicts) == {
        Conflict(
            Source.EXCEPTION,
            PreferenceState.ALLOW,
            loser,
            PreferenceState.DO_NOT_TRACK,
            "exception > do-not-track > allow",
        )
        for loser in (Source.DNT, Source.GPC)
    }
    text = pref.conflicts[0].explain()
    assert "exception (allow)" in text
    assert "do-not-track)" in text
    assert "exception > do-not-track > allow" in text

    pref = resolve_headers("0", "1")
    assert pref.conflicts == (
        Conflict(
            Source.GPC,
            PreferenceState.DO_NOT_TRACK,
            Source.DNT,
            PreferenceState.ALLOW,
            str(DEFAULT_PRECEDENCE),
        ),
    )


def test_agreeing_signals_are_not_conflicts() -> None:
    pref = resolve_headers("1", "1")
    assert pref.conflicts == ()
    assert pref.sources == (Source.DNT, Source.GPC)
    # TPE makes the agent send DNT: 0 for a stored exception: both agree.
    pref = resolve_headers("0", None, exception=True)
    assert pref.conflicts == ()
    assert pref.source is Source.EXCEPTION
    assert pref.sources == (Source.EXCEPTION, Source.DNT)
    assert resolve_headers(None, None).sources == (Source.SITE_DEFAULT,)


def test_strict_precedence_keeps_do_not_track_over_an_exception() -> None:
    pref = resolve_headers("1", None, exception=True, precedence=STRICT_PRECEDENCE)
    assert pref.state is PreferenceState.DO_NOT_TRACK
    assert pref.source is Source.DNT
    assert pref.exception
    assert pref.conflicts == (
        Conflict(
            Source.DNT,
            PreferenceState.DO_NOT_TRACK,
            Source.EXCEPTION,
            PreferenceState.ALLOW,
            "do-not-track > exception > allow",
        ),
    )
    assert not pref.by_consent
    # Without a general do-not-track the exception still allows.
    assert resolve_headers(None, None, exception=True, precedence=STRICT_PRECEDENCE).allows_tracking
    assert str(STRICT_PRECEDENCE) == "do-not-track > exception > allow"


def test_site_default_applies_only_to_silence() -> None:
    policy = Precedence(default=PreferenceState.DO_NOT_TRACK)
    silent = resolve_headers(None, None, precedence=policy)
    assert silent.state is PreferenceState.DO_NOT_TRACK
    assert silent.source is Source.SITE_DEFAULT
    assert silent.conflicts == ()
    # A broken header is no valid preference, so the default still decides.
    assert resolve_headers("yes", "true", precedence=policy).source is Source.SITE_DEFAULT
    assert resolve_headers("0", None, precedence=policy).state is PreferenceState.ALLOW


@pytest.mark.parametrize(
    "text",
    [
        "exception > do-not-track > allow",
        "do-not-track>exception>allow",
        "  allow >  exception > do-not-track ",
    ],
)
def test_precedence_parse_good(text: str) -> None:
    parsed = Precedence.parse(text)
    assert [c.value for c in parsed.order] == [p.strip() for p in text.split(">")]
    assert parsed.default is PreferenceState.UNSET
    assert Precedence.parse(str(parsed)) == parsed
    assert Precedence.parse("exception > do-not-track > allow") == DEFAULT_PRECEDENCE
    assert Precedence.parse(str(STRICT_PRECEDENCE)) == STRICT_PRECEDENCE
    assert Precedence.parse(text, default="allow").default is PreferenceState.ALLOW


@pytest.mark.parametrize(
    "text",
    [
        "",
        "exception > do-not-track",
        "exception > exception > allow",
        "exception > do-not-track > allow > allow",
        "Exception > do-not-track > allow",
        "exception, do-not-track, allow",
        "exception > dnt > allow",
        "exception >> allow",
    ],
)
def test_precedence_parse_bad_order(text: str) -> None:
    with pytest.raises(SignalError) as info:
        Precedence.parse(text)
    assert info.value.field == "precedence"
    assert repr(text) in str(info.value)  # the message names the value at fault


def test_precedence_parse_bad_default() -> None:
    with pytest.raises(SignalError, match="default 'maybe'") as info:
        Precedence.parse("exception > do-not-track > allow", default="maybe")
    assert info.value.field == "precedence"


def test_precedence_order_must_name_each_claim_once() -> None:
    with pytest.raises(SignalError, match="once each"):
        Precedence(order=(Claim.ALLOW, Claim.ALLOW, Claim.EXCEPTION))


def test_by_consent() -> None:
    assert resolve_headers("1", None, exception=True).by_consent
    assert resolve_headers(None, "1", exception=True).by_consent
    # Nothing general was overridden: an exception alone, or with DNT: 0.
    assert not resolve_headers(None, None, exception=True).by_consent
    assert not resolve_headers("0", None, exception=True).by_consent
    assert not resolve_headers("0", None).by_consent
    assert not resolve_headers("1", None).by_consent


def test_as_dict_is_the_api_preference_shape() -> None:
    """``GET /api/preference`` answers ``preference``, ``dnt``, ``gpc``, ``exception``.

    ``tracking_status`` comes from the party's :class:`Decision`, not from here.
    """
    pref = resolve_headers("1xyz", "1", exception=True)
    body = pref.as_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["preference"] == "allow"
    assert body["dnt"] == "1xyz"
    assert body["gpc"] is True
    assert body["exception"] is True
    assert body["source"] == "exception"
    assert body["sources"] == ["exception"]
    assert body["dnt_problem"] is None
    assert body["gpc_problem"] is None
    assert body["conflicts"] == [
        {
            "winner": "exception",
            "winner_state": "allow",
            "loser": loser,
            "loser_state": "do-not-track",
            "rule": "exception > do-not-track > allow",
        }
        for loser in ("dnt", "gpc")
    ]
    empty = Preference().as_dict()
    assert {k: empty[k] for k in ("preference", "dnt", "gpc", "exception")} == {
        "preference": "unset",
        "dnt": None,
        "gpc": False,
        "exception": False,
    }
    broken = resolve_headers("yes", "0").as_dict()
    assert broken["preference"] == "unset"
    assert broken["dnt"] is None
    assert broken["dnt_problem"]
    assert broken["gpc_problem"]


@fast
@given(dnts, gpcs, st.booleans(), precedences)
def test_resolve_agrees_with_the_oracle(
    dnt: DNT, gpc: GPC, exception: bool, precedence: Precedence
) -> None:
    pref = resolve(dnt, gpc, exception=exception, precedence=precedence)
    order = [str(c) for c in precedence.order]
    expected = oracle(dnt.choice, gpc.enabled, exception, order, precedence.default.value)
    assert pref.state.value == expected
    assert pref.dnt is dnt
    assert pref.gpc is gpc
    # Every signal that asked for something else is a conflict, with both sides.
    asked = {
        Source.EXCEPTION: ALLOW if exception else None,
        Source.DNT: {"1": DNT_STATE, "0": ALLOW}.get(dnt.choice or ""),
        Source.GPC: DNT_STATE if gpc.enabled else None,
    }
    losers = {s for s, want in asked.items() if want is not None and want != expected}
    assert {c.loser for c in pref.conflicts} == losers
    assert len(pref.conflicts) == len(losers)
    for conflict in pref.conflicts:
        assert conflict.winner is pref.source
        assert conflict.winner_state is pref.state
        assert conflict.loser_state.value == asked[conflict.loser]
        assert conflict.rule == str(precedence)
    agreeing = {s for s, want in asked.items() if want == expected}
    if agreeing:
        assert set(pref.sources) == agreeing
        assert pref.source in agreeing
    else:
        assert pref.sources == (Source.SITE_DEFAULT,)
        assert pref.state is precedence.default
    assert pref.by_consent == (
        pref.source is Source.EXCEPTION and DNT_STATE in (asked[Source.DNT], asked[Source.GPC])
    )


@fast
@given(header_values, header_values, st.booleans(), precedences)
def test_resolve_headers_is_total(
    dnt: str | list[str] | None, gpc: str | list[str] | None, exception: bool, prec: Precedence
) -> None:
    pref = resolve_headers(dnt, gpc, exception=exception, precedence=prec)
    parsed = resolve(parse_dnt(dnt), parse_gpc(gpc), exception=exception, precedence=prec)
    assert pref == parsed
    order = [str(c) for c in prec.order]
    expected = oracle(pref.dnt.choice, pref.gpc.enabled, exception, order, prec.default.value)
    assert pref.state.value == expected
    json.dumps(pref.as_dict())


def test_every_order_is_reachable() -> None:
    # All six orders resolve a three-way disagreement to their first claim that is present.
    for order in itertools.permutations(Claim):
        prec = Precedence(order=(order[0], order[1], order[2]))
        pref = resolve_headers("0", "1", exception=True, precedence=prec)
        assert pref.state.value == oracle("0", True, True, list(order), "unset")
