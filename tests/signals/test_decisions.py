"""Decisions: who may use what under which preference (TCS drafts, GPC §3.1, specs.md §2-3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.signals.decisions import (
    CROSS_CONTEXT_USES,
    PERMITTED_USES,
    Decision,
    PartyRole,
    Purpose,
    decide,
)
from trackpref.signals.errors import SignalError
from trackpref.signals.preference import Preference, PreferenceState, resolve_headers

fast = settings(deadline=None)

#: The TCS permitted uses, by name (specs.md §2), independent of the module's set.
TCS_PERMITTED = {
    "security",
    "frequency-capping",
    "financial-logging",
    "debugging",
    "legal-compliance",
    "short-term",
}
FIRST_PARTY_ONLY = {"core-service", "first-party-analytics", "contextual-advertising"}
CROSS_CONTEXT = {
    "measurement",
    "personalization",
    "targeted-advertising",
    "profiling",
    "sharing",
    "ai-training",
}

DO_NOT_TRACK = {
    "DNT: 1": resolve_headers("1", None),
    "Sec-GPC: 1": resolve_headers(None, "1"),
    "both": resolve_headers("1", "1"),
    "GPC over DNT: 0": resolve_headers("0", "1"),
}
ALLOW_OR_UNSET = {
    "DNT: 0": resolve_headers("0", None),
    "exception": resolve_headers(None, None, exception=True),
    "exception over DNT: 1": resolve_headers("1", None, exception=True),
    "unset": resolve_headers(None, None),
}


def test_purpose_groups_partition_every_purpose() -> None:
    assert {p.value for p in PERMITTED_USES} == TCS_PERMITTED
    assert {p.value for p in CROSS_CONTEXT_USES} == CROSS_CONTEXT
    assert {p.value for p in Purpose} == TCS_PERMITTED | FIRST_PARTY_ONLY | CROSS_CONTEXT


@pytest.mark.parametrize("signal", DO_NOT_TRACK)
@pytest.mark.parametrize("role", list(PartyRole))
def test_permitted_uses_are_allowed_under_do_not_track(signal: str, role: PartyRole) -> None:
    decision = decide(DO_NOT_TRACK[signal], role)
    for purpose in TCS_PERMITTED:
        verdict = decision.may(purpose)
        assert verdict.allowed, (signal, role, purpose)
        assert bool(verdict)
        assert "permitted use" in verdict.reason


@pytest.mark.parametrize("signal", DO_NOT_TRACK)
@pytest.mark.parametrize("role", list(PartyRole))
def test_cross_context_uses_are_refused_under_do_not_track(signal: str, role: PartyRole) -> None:
    decision = decide(DO_NOT_TRACK[signal], role)
    for purpose in CROSS_CONTEXT:
        verdict = decision.may(purpose)
        assert not verdict.allowed, (signal, role, purpose)
        assert not verdict
        assert purpose in verdict.reason
    assert not decision.may_share
    assert not decision.may_track
    assert not decision.may_set_tracking_cookies


@pytest.mark.parametrize("signal", DO_NOT_TRACK)
def test_first_party_in_context_uses_are_allowed(signal: str) -> None:
    first = decide(DO_NOT_TRACK[signal], PartyRole.FIRST_PARTY)
    third = decide(DO_NOT_TRACK[signal], PartyRole.THIRD_PARTY)
    for purpose in FIRST_PARTY_ONLY:
        assert first.may(purpose).allowed, purpose
        assert "own context" in first.may(purpose).reason
        assert not third.may(purpose).allowed, purpose
        assert "third party" in third.may(purpose).reason


@pytest.mark.parametrize("signal", DO_NOT_TRACK)
def test_service_provider_is_treated_as_first_party(signal: str) -> None:
    provider = decide(DO_NOT_TRACK[signal], "service-provider")
    first = decide(DO_NOT_TRACK[signal], "first-party")
    assert provider.role is PartyRole.SERVICE_PROVIDER
    assert provider.effective_role is PartyRole.FIRST_PARTY
    for purpose in Purpose:
        assert provider.may(purpose) == first.may(purpose), purpose
    assert decide(DO_NOT_TRACK[signal], "third-party").effective_role is PartyRole.THIRD_PARTY


@pytest.mark.parametrize("signal", ALLOW_OR_UNSET)
@pytest.mark.parametrize("role", list(PartyRole))
def test_allow_and_unset_open_every_declared_purpose(signal: str, role: PartyRole) -> None:
    """Unset is not a refusal (TPE §4: absence is no preference); the site's policy applies."""
    decision = decide(ALLOW_OR_UNSET[signal], role)
    for purpose in Purpose:
        assert decision.may(purpose).allowed, (signal, role, purpose)
    assert decision.may_track
    assert decision.may_share


def test_allow_reasons_name_the_signal() -> None:
    assert "DNT: 0" in decide(resolve_headers("0", None)).may("sharing").reason
    by_exception = decide(resolve_headers("1", None, exception=True)).may("sharing")
    assert "exception" in by_exception.reason
    assert "no preference" in decide(Preference()).may("sharing").reason
    refused = decide(resolve_headers("1", "1"), "third-party").may("profiling")
    assert "DNT and GPC" in refused.reason


def test_unknown_purpose_is_refused_with_a_reason() -> None:
    verdict = decide(resolve_headers("0", None)).may("mind-reading")
    assert not verdict.allowed
    assert "'mind-reading'" in verdict.reason


def test_tracking_status_n_t_c() -> None:
    """``N`` when do-not-track is honored, ``C`` when consent overrode it, else ``T``."""
    for pref in DO_NOT_TRACK.values():
        for role in PartyRole:
            assert decide(pref, role).tracking_status == "N"
    assert decide(resolve_headers("1", None, exception=True)).tracking_status == "C"
    assert decide(resolve_headers(None, "1", exception=True)).tracking_status == "C"
    assert decide(resolve_headers("0", None)).tracking_status == "T"
    assert decide(resolve_headers(None, None)).tracking_status == "T"
    # An exception with nothing general to override is plain consent to track: T.
    assert decide(resolve_headers(None, None, exception=True)).tracking_status == "T"


def test_explain() -> None:
    pref = resolve_headers("1", None, exception=True)
    explained = decide(pref, PartyRole.THIRD_PARTY).explain()
    assert json.loads(json.dumps(explained)) == explained
    assert explained["role"] == "third-party"
    assert explained["preference"] == "allow"
    assert explained["source"] == "exception"
    assert explained["tracking_status"] == "C"
    uses = explained["uses"]
    assert isinstance(uses, dict)
    assert set(uses) == {p.value for p in Purpose}
    assert all(isinstance(reason, str) and reason for reason in uses.values())
    assert explained["conflicts"] == [c.explain() for c in pref.conflicts]
    assert len(pref.conflicts) == 1

    refused = decide(resolve_headers("1", None), "third-party").explain()
    assert refused["tracking_status"] == "N"
    assert refused["conflicts"] == []
    assert "crosses contexts" in str(refused["uses"])


def test_bad_role_is_a_signal_error() -> None:
    with pytest.raises(SignalError, match="'fourth-party'") as info:
        decide(Preference(), "fourth-party")
    assert info.value.field == "role"
    with pytest.raises(SignalError):
        Decision(Preference(), "nobody")  # type: ignore[arg-type]
    # A role given as text is coerced, never misread as a third party.
    direct = Decision(resolve_headers("1", None), "service-provider")  # type: ignore[arg-type]
    assert direct.role is PartyRole.SERVICE_PROVIDER
    assert direct.may("core-service").allowed


@fast
@given(
    dnt=st.sampled_from([None, "1", "0", "yes"]),
    gpc=st.sampled_from([None, "1", "0"]),
    exception=st.booleans(),
    role=st.sampled_from(PartyRole),
    purpose=st.one_of(st.sampled_from(Purpose), st.text(max_size=8)),
)
def test_may_is_total_and_consistent(
    dnt: str | None, gpc: str | None, exception: bool, role: PartyRole, purpose: str
) -> None:
    pref = resolve_headers(dnt, gpc, exception=exception)
    verdict = decide(pref, role).may(purpose)
    assert verdict.reason
    known = purpose in {p.value for p in Purpose}
    if not known:
        assert not verdict.allowed
    elif pref.state is not PreferenceState.DO_NOT_TRACK:
        assert verdict.allowed  # allow or unset: the site's declared purposes are open
    elif purpose in TCS_PERMITTED:
        assert verdict.allowed, "a permitted use"
    elif purpose in FIRST_PARTY_ONLY:
        assert verdict.allowed == (role is not PartyRole.THIRD_PARTY)
    else:
        assert not verdict.allowed
