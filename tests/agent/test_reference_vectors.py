"""DuckDuckGo's reference vectors, driven through the proxy's pure decision core.

Every applicable case is one test; the not-applicable ones are listed with
their reason in the session summary (``conftest.py``).
"""

from __future__ import annotations

import base64
from collections import Counter
from urllib.parse import urlsplit

import pytest
from ddg_vectors import CASES, ROOT, Case, applicable, load_json

from trackpref.agent.decision import Knowledge, decide_request, tracking_verdict
from trackpref.agent.domains import canonical_host
from trackpref.agent.preference_file import UserPreference
from trackpref.agent.protections import load_privacy_config
from trackpref.agent.request import RequestInfo, describe_request
from trackpref.agent.tds import TrackerAction, load_tds, read_surrogates
from trackpref.signals.preference import PreferenceState

NOW = 1_750_000_000.0
DNT = UserPreference(PreferenceState.DO_NOT_TRACK)


def host_of(url: str) -> str:
    host = canonical_host(urlsplit(url).hostname or "")
    assert host is not None, url
    return host


def request_to(
    url: str,
    site_url: str | None,
    *,
    resource_type: str = "script",
    navigation: bool = False,
    referrer: str | None = None,
) -> RequestInfo:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return RequestInfo(
        method="GET",
        scheme=parts.scheme,
        host=host_of(url),
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=path,
        site=host_of(site_url) if site_url else None,
        resource_type=resource_type,
        navigation=navigation,
        referrer=referrer,
    )


def knowledge(folder: str, *, tds: bool = True) -> Knowledge:
    protections = load_privacy_config(load_json(f"{folder}/config_reference.json"))
    trackers = load_tds(load_json(f"{folder}/tracker_radar_reference.json")) if tds else None
    if trackers is None:
        return Knowledge(protections=protections)
    return Knowledge(trackers=trackers, protections=protections)


def ids(case: Case) -> str:
    return case.name


# -- the sorting itself -----------------------------------------------------------------


def test_every_case_is_sorted_and_every_exclusion_has_a_reason() -> None:
    counts = Counter((c.suite, c.applicable) for c in CASES)
    assert counts[("global-privacy-control", True)] == 8
    assert counts[("global-privacy-control", False)] == 7
    assert counts[("referrer-trimming", True)] == 23
    assert counts[("referrer-trimming", False)] == 11
    assert counts[("url-parameters", True)] == 20
    assert counts[("block-third-party-tracking-cookies", True)] == 20
    assert counts[("block-third-party-tracking-cookies", False)] == 8
    assert counts[("tracker-domain-matching", True)] == 134
    assert all(c.reason for c in CASES if not c.applicable)
    names = [c.id for c in CASES]
    assert len(names) == len(set(names)), "case ids must be unique"


# -- Global Privacy Control ---------------------------------------------------------------


GPC = knowledge("global-privacy-control", tds=False)


@pytest.mark.parametrize("case", applicable("global-privacy-control"), ids=ids)
def test_gpc_header(case: Case) -> None:
    t = case.data
    on = t.get("gpcUserSettingOn", True)
    req = request_to(
        t["requestURL"],
        t["siteURL"],
        resource_type=t["requestType"],
        navigation=t["requestType"] == "main_frame",
    )
    prefs = [DNT] if on else [UserPreference(), UserPreference(PreferenceState.ALLOW)]
    for pref in prefs:
        decision = decide_request(req, pref, GPC, NOW)
        sent = decision.signals.gpc or ()
        assert bool(sent) is t["expectGPCHeader"], (pref.state, decision)
        if "expectGPCHeaderValue" in t:
            assert sent == (t["expectGPCHeaderValue"],)


# -- Referrer trimming ---------------------------------------------------------------------


REFERRER = knowledge("referrer-trimming")


@pytest.mark.parametrize("case", applicable("referrer-trimming"), ids=ids)
def test_referrer_header(case: Case) -> None:
    t = case.data
    if "navigatingFromURL" in t:
        # A top-level navigation: the destination becomes the site.
        req = request_to(
            t["navigatingToURL"],
            t["navigatingToURL"],
            resource_type="main_frame",
            navigation=True,
            referrer=t["referrerValue"],
        )
    else:
        req = request_to(
            t["requestURL"],
            t["siteURL"],
            resource_type=t["requestType"],
            referrer=t["referrerValue"],
        )
    decision = decide_request(req, DNT, REFERRER, NOW)
    sent = decision.referrer if decision.referrer_changed else req.referrer
    assert sent == t["expectReferrerHeaderValue"]


# -- URL parameters -----------------------------------------------------------------------


PARAMS = knowledge("url-parameters", tds=False)


@pytest.mark.parametrize("case", applicable("url-parameters"), ids=ids)
def test_tracking_parameters(case: Case) -> None:
    t = case.data
    parts = urlsplit(t["testURL"])
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req = describe_request(
        method="GET",
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=path,
        referer=t.get("initiatorURL"),
    )
    assert req is not None
    assert req.navigation
    decision = decide_request(req, DNT, PARAMS, NOW)
    assert req.origin + (decision.path or req.path) == (t["expectURL"] or t["testURL"])


# -- Third-party tracking cookies ---------------------------------------------------------


COOKIES = knowledge("block-third-party-tracking-cookies")


@pytest.mark.parametrize("case", applicable("block-third-party-tracking-cookies"), ids=ids)
def test_third_party_tracking_cookies(case: Case) -> None:
    t = case.data
    req = request_to(t["requestURL"], t["siteURL"], resource_type="xmlhttprequest")
    decision = decide_request(req, DNT, COOKIES, NOW)
    expected = t.get("expectCookieHeadersRemoved", t.get("expectSetCookieHeadersRemoved"))
    assert decision.strip_cookies is expected, decision


# -- Tracker domain matching and surrogates -------------------------------------------------


TR = "tracker-radar-tests/TR-domain-matching"
TDS = load_tds(load_json(f"{TR}/tracker_radar_reference.json"))
SURROGATES = read_surrogates(ROOT / TR / "surrogates.txt")
TR_KNOWLEDGE = Knowledge(trackers=TDS, surrogates=SURROGATES)


@pytest.mark.parametrize("case", applicable("tracker-domain-matching"), ids=ids)
def test_tracker_matching(case: Case) -> None:
    t = case.data
    req = request_to(t["requestURL"], t["siteURL"], resource_type=t["requestType"])
    match = TDS.match(req.scheme, req.host, req.path, req.site, req.resource_type, SURROGATES)
    action = None if match is None else match.action.value
    assert action == t["expectAction"], match
    verdict = tracking_verdict(req, TR_KNOWLEDGE, NOW)
    assert verdict.block is (action in ("block", "redirect"))
    if action == "redirect":
        assert match is not None
        assert match.action is TrackerAction.REDIRECT
        assert verdict.surrogate is not None
        if "expectRedirect" in t:
            served = "data:" + verdict.surrogate.content_type + ";base64,"
            served += base64.b64encode(verdict.surrogate.body).decode()
            assert served == t["expectRedirect"]
        # expectExpression is 'window.surrogateN === true': the served script sets it.
        variable = t["expectExpression"].split("===")[0].strip()
        assert f"{variable}=true" in verdict.surrogate.body.decode()
