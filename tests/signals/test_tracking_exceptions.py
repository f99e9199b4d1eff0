"""User-granted exceptions: the TPE Note's store / remove / exists and the DNT:0 rule."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trackpref.signals.dnt import parse_dnt
from trackpref.signals.errors import (
    InvalidStateError,
    SecurityError,
    SignalError,
    SyntaxError_,
)
from trackpref.signals.gpc import parse_gpc
from trackpref.signals.parties import registrable_domain
from trackpref.signals.preference import PreferenceState, Source, resolve
from trackpref.signals.tracking_exceptions import (
    MAX_GRANTS,
    MAX_TARGETS,
    Duplet,
    ExceptionRequest,
    ExceptionSet,
    Grant,
    matches,
    subsumes,
)

registrable_domain("warm.example.com")  # parse the list before any timed example

R = ExceptionRequest.from_json
EMPTY = ExceptionSet()


def store(s: ExceptionSet, data: object, script: str, now: float = 0.0, **kw: Any) -> ExceptionSet:
    new, _ = s.store(R(data), script_domain=script, now=now, **kw)
    return new


def duplets(s: ExceptionSet) -> list[tuple[str, str]]:
    return [(d.site, d.target) for g in s.grants for d in g.duplets]


# -- the Note's example ----------------------------------------------------------------


def test_note_example_metrics_example_net_on_news_example_com() -> None:
    """An exception for metrics.example.net on news.example.com (TPE §5.5)."""
    s = store(EMPTY, {"targets": ["metrics.example.net"]}, "news.example.com")
    s = store(s, {"targets": ["metrics.example.net"]}, "weather.example.com")
    # http://news.example.com/news/story/2098373.html embeds two references:
    assert s.covers("news.example.com", "metrics.example.net", now=1)  # 1x1.gif: DNT: 0
    assert not s.covers("news.example.com", "weather.example.com", now=1)  # widget.js
    assert s.covers("weather.example.com", "metrics.example.net", now=1)
    assert not s.covers("medical.example.org", "metrics.example.net", now=1)


def test_note_example_as_a_web_wide_exception_from_the_target() -> None:
    """A third party asks on its own site for a web-wide exception."""
    s = store(EMPTY, {"site": "*", "targets": []}, "metrics.example.net")
    assert duplets(s) == [("*", "metrics.example.net")]
    assert s.covers("news.example.com", "metrics.example.net", now=1)
    assert s.covers("medical.example.org", "metrics.example.net", now=1)
    assert not s.covers("news.example.com", "weather.example.com", now=1)


# -- the checklist ---------------------------------------------------------------------


def test_checklist_7_exception_sends_dnt_0_even_when_preference_unset() -> None:
    s = store(EMPTY, {"targets": ["metrics.example.net"]}, "news.example.com")
    covered = s.covers("news.example.com", "metrics.example.net", now=5)
    pref = resolve(parse_dnt(None), parse_gpc(None), exception=covered)
    assert pref.state is PreferenceState.ALLOW
    assert pref.source is Source.EXCEPTION
    other = s.covers("news.example.com", "ads.example.org", now=5)
    assert resolve(parse_dnt(None), parse_gpc(None), exception=other).is_unset


@pytest.mark.parametrize(
    "data",
    [
        {"site": "*"},
        {"site": "*", "targets": None},
        {"site": "*", "targets": ["*"]},
        {"site": "*", "targets": ["www.example.com", "*"]},
    ],
)
def test_checklist_9_site_and_target_both_star_is_security_error(data: dict[str, object]) -> None:
    for call in ("store", "exists", "remove"):
        with pytest.raises(SecurityError):
            getattr(EMPTY, call)(R(data), script_domain="www.example.com", now=0)


def test_checklist_10_defaults_for_site_and_targets() -> None:
    script = "www.example.com"
    assert duplets(store(EMPTY, {}, script)) == [(script, "*")]
    assert duplets(store(EMPTY, {"site": None, "targets": None}, script)) == [(script, "*")]
    assert duplets(store(EMPTY, {"site": ""}, script)) == [(script, "*")]
    assert duplets(store(EMPTY, {"targets": []}, script)) == [(script, script)]
    assert duplets(store(EMPTY, {"site": "example.com", "targets": []}, script)) == [
        ("example.com", script)
    ]
    listed = store(EMPTY, {"targets": ["a.example.net", "b.example.org", "a.example.net"]}, script)
    assert duplets(listed) == [(script, "a.example.net"), (script, "b.example.org")]
    assert len(listed) == 1  # one call, one unit


def test_checklist_11_script_may_use_parent_domain_not_sibling_or_tld() -> None:
    script = "www.foo.bar.example.com"
    for site in ("bar.example.com", "example.com", "*.example.com", "*.bar.example.com", script):
        s = store(EMPTY, {"site": site}, script)
        assert duplets(s) == [(site, "*")]
    for site in ("something.else.example.com", "com", "*.com", "example.org", "co.uk"):
        with pytest.raises(SecurityError) as info:
            EMPTY.store(R({"site": site}), script_domain=script, now=0)
        assert info.value.field == "site"
        with pytest.raises(SecurityError):
            EMPTY.remove(R({"site": site}), script_domain=script, now=0)
        with pytest.raises(SecurityError):
            EMPTY.exists(R({"site": site}), script_domain=script, now=0)


def test_checklist_12_web_wide_target_needs_cookie_scope_nothing_stored() -> None:
    script = "consent.metrics.example.net"
    before = store(EMPTY, {}, "news.example.com")
    ok = store(before, {"site": "*", "targets": ["metrics.example.net", "*.example.net"]}, script)
    assert duplets(ok)[1:] == [("*", "metrics.example.net"), ("*", "*.example.net")]
    for targets in (["example.org"], ["metrics.example.net", "ads.example.org"], ["net"]):
        with pytest.raises(SecurityError) as info:
            before.store(R({"site": "*", "targets": targets}), script_domain=script, now=0)
        assert info.value.field == "targets"
    # A site-specific exception may name any target: the cookie rule is on the site.
    assert duplets(store(EMPTY, {"targets": ["ads.example.org"]}, script))


@pytest.mark.parametrize(
    ("data", "member"),
    [
        ({"site": 3}, "site"),
        ({"site": "exa mple.com"}, "site"),
        ({"site": ".example.com"}, "site"),
        ({"site": "*.*.example.com"}, "site"),
        ({"site": "*.127.0.0.1"}, "site"),
        ({"targets": "example.com"}, "targets"),
        ({"targets": [""]}, "targets"),
        ({"targets": [None]}, "targets"),
        ({"targets": ["ok.example", ["nested"]]}, "targets"),
        ({"targets": ["x"] * (MAX_TARGETS + 1)}, "targets"),
        ({"name": 5}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "line\nbreak"}, "name"),
        ({"name": "n" * 10_000}, "name"),
        ({"explanation": "bell\x07"}, "explanation"),
        ({"explanation": "\ud800"}, "explanation"),
        ({"details": "javascript:alert(1)"}, "details"),
        ({"details": "data:text/html,hi"}, "details"),
        ({"details": "https://exa mple.com/"}, "details"),
        ({"details": "http://[::1/"}, "details"),
        ({"maxAge": 0}, "maxAge"),
        ({"maxAge": -5}, "maxAge"),
        ({"maxAge": 1.5}, "maxAge"),
        ({"maxAge": True}, "maxAge"),
        ({"maxAge": "60"}, "maxAge"),
        ({"maxAge": 2**31}, "maxAge"),
        ([], "properties"),
        ("site", "properties"),
    ],
)
def test_checklist_12_malformed_argument_is_syntax_error_naming_it(
    data: object, member: str
) -> None:
    with pytest.raises(SyntaxError_) as info:
        R(data)
    assert info.value.field == member
    assert info.value.dom_name == "SyntaxError"


def test_checklist_12_informational_members_kept_and_unknown_members_ignored() -> None:
    req = R(
        {
            "site": "Example.COM",
            "name": "Measurement",
            "explanation": "Counts visits.\nNothing else.",
            "details": "/privacy#exceptions",
            "maxAge": 3600,
            "futureMember": {"anything": [1, 2]},
            "siteName": "2015-CR member, ignored",
        }
    )
    assert req == ExceptionRequest(
        site="example.com",
        name="Measurement",
        explanation="Counts visits.\nNothing else.",
        details="/privacy#exceptions",
        max_age=3600,
    )
    assert R({"name": "", "explanation": None, "details": ""}) == ExceptionRequest()
    assert R(None) == ExceptionRequest()


def test_checklist_13_store_resolves_is_site_wide() -> None:
    script = "www.example.com"
    _, listed = EMPTY.store(R({"targets": ["a.example.net"]}), script_domain=script, now=0)
    assert listed.is_site_wide is False
    _, everything = EMPTY.store(R({}), script_domain=script, now=0)
    assert everything.is_site_wide is True
    broadened, result = EMPTY.store(
        R({"targets": ["a.example.net", "b.example.net"]}),
        script_domain=script,
        now=0,
        broaden=True,
    )
    assert result.is_site_wide is True
    assert duplets(broadened) == [(script, "*")]
    _, web = EMPTY.store(R({"site": "*", "targets": []}), script_domain=script, now=0, broaden=True)
    assert web.is_site_wide is False  # a web-wide grant is never broadened to [*, *]


def test_checklist_14_max_age_removes_the_exception() -> None:
    script = "www.example.com"
    req = R({"targets": ["a.example.net"], "maxAge": 60})
    s, result = EMPTY.store(req, script_domain=script, now=1000.0)
    assert result.grant.expires == 1060.0
    assert s.exists(req, script_domain=script, now=1059.999)
    assert s.covers(script, "a.example.net", now=1059.999)
    assert not s.exists(req, script_domain=script, now=1060.0)
    assert not s.covers(script, "a.example.net", now=1060.0)
    assert s.expire(1059.0) is s
    assert len(s.expire(1060.0)) == 0


def test_checklist_15_exists_only_when_every_duplet_exists_and_is_live() -> None:
    script = "www.example.com"
    s = store(EMPTY, {"targets": ["a.example.net", "b.example.net"]}, script)
    s = store(s, {"targets": ["c.example.net"], "maxAge": 10}, script, now=0)

    def exists(targets: list[str] | None, now: float = 5) -> bool:
        return s.exists(R({"targets": targets}), script_domain=script, now=now)

    assert exists(["a.example.net", "b.example.net"])
    assert exists(["b.example.net"])
    assert exists(["a.example.net", "c.example.net"])
    assert not exists(["a.example.net", "c.example.net"], now=10)  # c has expired
    assert not exists(["a.example.net", "d.example.net"])
    # [site, *] is broader than anything stored: a narrower grant does not answer for it.
    assert not exists(None)
    assert store(s, {}, script).exists(R({"targets": ["z.example"]}), script_domain=script, now=5)


def test_checklist_16_remove_empty_clears_all_of_the_script_domain() -> None:
    script = "www.example.com"
    s = store(EMPTY, {}, script)
    s = store(s, {"targets": ["a.example.net"]}, script)
    s = store(s, {"targets": ["b.example.net", "c.example.net"], "maxAge": 5}, script)
    s = store(s, {}, "other.example.org")
    s = store(s, {"site": "*", "targets": []}, script)  # web-wide: not the site's to revoke here
    removed = s.remove(R({"targets": ["ignored.example"]}), script_domain=script, now=1)
    assert duplets(removed) == [("other.example.org", "*"), ("*", script)]
    assert not removed.exists(R({}), script_domain=script, now=1)


def test_checklist_16_remove_without_match_resolves_and_changes_nothing() -> None:
    s = store(EMPTY, {}, "other.example.org")
    assert s.remove(R({}), script_domain="www.example.com", now=0) is s
    assert EMPTY.remove(R({"site": "*", "targets": []}), script_domain="a.example", now=0) is EMPTY


def test_remove_a_site_scope_takes_overlapping_scopes() -> None:
    s = store(EMPTY, {"site": "*.example.com"}, "www.example.com")
    s = store(s, {"site": "example.com"}, "www.example.com")
    s = store(s, {}, "shop.example.com")
    only_apex = s.remove(R({"site": "example.com"}), script_domain="www.example.com", now=0)
    assert duplets(only_apex) == [("shop.example.com", "*")]
    everything = s.remove(R({"site": "*.example.com"}), script_domain="www.example.com", now=0)
    assert len(everything) == 0


def test_remove_web_wide_per_target() -> None:
    script = "metrics.example.net"
    s = store(EMPTY, {"site": "*", "targets": []}, script)
    s = store(s, {"site": "*", "targets": []}, "cdn.metrics.example.net")
    s = store(s, {"targets": [script]}, "news.example.com")  # site-specific: untouched
    s2 = s.remove(R({"site": "*", "targets": []}), script_domain=script, now=0)
    assert duplets(s2) == [("*", "cdn.metrics.example.net"), ("news.example.com", script)]
    s3 = s.remove(
        R({"site": "*", "targets": ["*.metrics.example.net"]}), script_domain=script, now=0
    )
    assert duplets(s3) == [("news.example.com", script)]
    with pytest.raises(SecurityError):
        s.remove(R({"site": "*", "targets": ["example.org"]}), script_domain=script, now=0)
    with pytest.raises(SecurityError):  # another site cannot revoke the target's grant
        s.remove(R({"site": "*", "targets": [script]}), script_domain="news.example.com", now=0)


@pytest.mark.parametrize(
    ("stored", "value", "expected"),
    [
        ("*.example.com", "example.com", True),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "badexample.com", False),
        ("*.example.com", "example.org", False),
        ("*", "anything.example", True),
        ("anything.example", "*", True),  # "either is *"
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", False),  # no "*.": exact
        ("www.example.com", "example.com", False),
    ],
)
def test_checklist_17_matching(stored: str, value: str, expected: bool) -> None:
    assert matches(stored, value) is expected


def test_checklist_17_matching_through_the_store() -> None:
    s = store(EMPTY, {"site": "*.example.com", "targets": ["*.example.net"]}, "example.com")
    assert s.covers("example.com", "example.net", now=0)
    assert s.covers("a.b.example.com", "x.example.net", now=0)
    assert s.covers("A.Example.COM.", "X.EXAMPLE.NET", now=0)  # hosts are normalized
    assert not s.covers("example.org", "x.example.net", now=0)
    assert not s.covers("a.example.com", "example.org", now=0)


def test_subsumes_orders_patterns() -> None:
    assert subsumes("*", "*.example.com")
    assert subsumes("*.example.com", "*.a.example.com")
    assert subsumes("*.example.com", "example.com")
    assert not subsumes("example.com", "*.example.com")
    assert not subsumes("a.example", "*")
    assert Duplet("*.example.com", "*").subsumes(Duplet("www.example.com", "a.example.net"))


def test_checklist_18_units_are_kept_or_dropped_together() -> None:
    script = "www.example.com"
    s = store(EMPTY, {"targets": ["a.example.net", "b.example.net"]}, script)
    assert len(s.grants) == 1
    assert len(s.grants[0].duplets) == 2
    # A store that fails part-way stores nothing (no subset of the unit).
    with pytest.raises(SecurityError):
        s.store(
            R({"site": "*", "targets": [script, "elsewhere.example.org"]}),
            script_domain=script,
            now=0,
        )
    # A removal that hits one duplet of a unit drops the whole unit.
    web = store(EMPTY, {"site": "*", "targets": [script, "example.com"]}, script)
    assert len(web.grants[0].duplets) == 2
    assert len(web.remove(R({"site": "*", "targets": [script]}), script_domain=script, now=0)) == 0


def test_store_over_same_duplets_replaces() -> None:
    script = "www.example.com"
    s = store(EMPTY, {"targets": ["a.example.net", "b.example.net"], "name": "old"}, script)
    s = store(s, {"targets": ["b.example.net", "a.example.net"], "name": "new"}, script, now=9)
    assert len(s) == 1
    assert s.grants[0].name == "new"
    assert s.grants[0].created == 9
    s = store(s, {"targets": ["a.example.net"]}, script)  # different duplets: a second unit
    assert len(s) == 2


def test_checklist_19_invalid_state_without_policy() -> None:
    s = store(EMPTY, {}, "other.example.org")
    with pytest.raises(InvalidStateError) as info:
        s.store(R({}), script_domain="www.example.com", now=0, site_has_policy=False)
    assert info.value.dom_name == "InvalidStateError"


@pytest.mark.parametrize("script", ["", "not a host", None, 42, "*"])
def test_unknown_script_domain_is_invalid_state(script: object) -> None:
    for call in ("store", "remove", "exists"):
        with pytest.raises(InvalidStateError):
            getattr(EMPTY, call)(R({}), script_domain=script, now=0)


@pytest.mark.parametrize(
    ("call", "args", "error"),
    [
        ("store", ({"site": "x"}, "www.example.com"), SyntaxError_),  # req not a request
        ("exists", ({}, "www.example.com"), SyntaxError_),
        ("remove", (None, "www.example.com"), SyntaxError_),
    ],
)
def test_hostile_arguments_give_documented_errors(
    call: str, args: tuple[object, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        getattr(EMPTY, call)(args[0], script_domain=args[1], now=0)


@pytest.mark.parametrize("now", [float("nan"), float("inf"), "5", None, True])
def test_bad_now_is_syntax_error(now: object) -> None:
    with pytest.raises(SyntaxError_):
        EMPTY.store(R({}), script_domain="example.com", now=now)  # type: ignore[arg-type]
    with pytest.raises(SyntaxError_):
        EMPTY.expire(now)  # type: ignore[arg-type]


@pytest.mark.parametrize(("site", "target"), [("*", "x.example"), ("exa mple", "x.example")])
def test_covers_takes_hosts_only(site: str, target: str) -> None:
    with pytest.raises(SignalError):
        EMPTY.covers(site, target, now=0)


def test_duplet_star_star_cannot_exist() -> None:
    with pytest.raises(SyntaxError_):
        Duplet("*", "*")
    assert Duplet("Example.COM", "*.B.example") == Duplet("example.com", "*.b.example")


def test_database_is_bounded() -> None:
    grant = Grant((Duplet("example.com", "*"),), created=0, expires=None)
    many = tuple(Grant((Duplet(f"h{i}.example.com", "*"),), 0, 10) for i in range(MAX_GRANTS - 1))
    full = ExceptionSet((*many, grant))
    with pytest.raises(SyntaxError_, match="full"):
        full.store(R({}), script_domain="x.example.com", now=1)
    # Expired grants make room; the live one is kept.
    after, _ = full.store(R({}), script_domain="x.example.com", now=10)
    assert duplets(after) == [("example.com", "*"), ("x.example.com", "*")]


# -- persistence --------------------------------------------------------------------------


def test_to_json_is_plain_json() -> None:
    s = store(EMPTY, {"targets": ["a.example.net"], "name": "n", "maxAge": 5}, "x.example", 2.5)
    assert json.loads(json.dumps(s.to_json())) == [
        {
            "duplets": [["x.example", "a.example.net"]],
            "created": 2.5,
            "expires": 7.5,
            "name": "n",
            "explanation": None,
            "details": None,
        }
    ]


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        [1],
        [{}],
        [{"duplets": [], "created": 0}],
        [{"duplets": [["*", "*"]], "created": 0}],
        [{"duplets": [["a.example", "*", "x"]], "created": 0}],
        [{"duplets": ["a.example"], "created": 0}],
        [{"duplets": [["a.example", "*"]], "created": "0"}],
        [{"duplets": [["a.example", "*"]], "created": 5, "expires": 5}],
        [{"duplets": [["a.example", "*"], ["a.example", "*"]], "created": 0}],
        [{"duplets": [["a.example", "*"]], "created": 0, "details": "javascript:x"}],
    ],
)
def test_exception_set_from_json_refuses_bad_data(data: object) -> None:
    with pytest.raises(SyntaxError_):
        ExceptionSet.from_json(data)


# -- properties ---------------------------------------------------------------------------

HOSTS = [
    "example.com",
    "www.example.com",
    "a.www.example.com",
    "news.example.com",
    "metrics.example.net",
    "example.net",
    "other.example.org",
]
VALUES = st.sampled_from(HOSTS) | st.sampled_from(HOSTS).map(lambda h: "*." + h)
SITES = st.none() | st.just("") | st.just("*") | VALUES
TARGETS = st.none() | st.lists(VALUES | st.just("*"), max_size=4)
MAX_AGES = st.none() | st.integers(min_value=1, max_value=10_000)


@st.composite
def requests(draw: st.DrawFn, sites: st.SearchStrategy[str | None] = SITES) -> ExceptionRequest:
    return ExceptionRequest(
        site=draw(sites),
        targets=draw(TARGETS.map(lambda t: None if t is None else tuple(t))),
        name=draw(st.none() | st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=10)),
        details=draw(st.none() | st.just("https://example.com/privacy")),
        max_age=draw(MAX_AGES),
    )


OPS = st.lists(
    st.tuples(
        st.sampled_from(["store", "remove"]),
        requests(),
        st.sampled_from(HOSTS),
        st.integers(min_value=0, max_value=1000).map(float),
    ),
    max_size=12,
)


def apply(ops: list[tuple[str, ExceptionRequest, str, float]]) -> tuple[ExceptionSet, set[Grant]]:
    s, stored = EMPTY, set()
    for kind, req, script, now in ops:
        try:
            if kind == "store":
                s, result = s.store(req, script_domain=script, now=now)
                stored.add(result.grant)
            else:
                s = s.remove(req, script_domain=script, now=now)
        except (SecurityError, SyntaxError_):
            pass
    return s, stored


@given(OPS)
def test_property_units_are_all_or_nothing(
    ops: list[tuple[str, ExceptionRequest, str, float]],
) -> None:
    s, stored = EMPTY, set()
    for kind, req, script, now in ops:
        before = s
        try:
            if kind == "store":
                s, result = s.store(req, script_domain=script, now=now)
                stored.add(result.grant)
                assert s.grants[-1] == result.grant
            else:
                s = s.remove(req, script_domain=script, now=now)
                assert set(s.grants) <= set(before.grants)
        except (SecurityError, SyntaxError_):
            assert s is before  # a failing call changes nothing
        # Every grant present is exactly the unit one store call made: never a part of one.
        assert set(s.grants) <= stored


@given(
    req=requests(),
    script=st.sampled_from(HOSTS),
    now=st.floats(min_value=0, max_value=1e9),
    max_age=st.integers(min_value=1, max_value=10**6),
    later=st.floats(min_value=0, max_value=2e6),
)
def test_property_exists_after_store_until_max_age(
    req: ExceptionRequest, script: str, now: float, max_age: int, later: float
) -> None:
    req = ExceptionRequest(site=req.site, targets=req.targets, max_age=max_age)
    try:
        s, result = EMPTY.store(req, script_domain=script, now=now)
    except SecurityError:
        assume(False)
    at = now + later
    assert s.exists(req, script_domain=script, now=at) is (at < now + max_age)
    assert result.grant.expires == now + max_age


@given(
    prior=OPS.map(lambda ops: [op for op in ops if op[1].site != "*"]),
    req=requests(),
    script=st.sampled_from(HOSTS),
)
def test_property_remove_then_exists_is_false(
    prior: list[tuple[str, ExceptionRequest, str, float]], req: ExceptionRequest, script: str
) -> None:
    s, _ = apply(prior)  # site-specific grants only: a web-wide one is no site's to revoke
    try:
        s, _ = s.store(req, script_domain=script, now=0)
    except SecurityError:
        assume(False)
    assert s.exists(req, script_domain=script, now=0)
    s = s.remove(req, script_domain=script, now=0)
    assert not s.exists(req, script_domain=script, now=0)


@given(OPS)
def test_property_json_round_trip(ops: list[tuple[str, ExceptionRequest, str, float]]) -> None:
    s, _ = apply(ops)
    assert ExceptionSet.from_json(s.to_json()) == s
    assert ExceptionSet.from_json(json.loads(json.dumps(s.to_json()))) == s


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["*", "", "*.example.com", "example.com", ".x", "javascript:1"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
MEMBERS = st.dictionaries(
    st.sampled_from(["site", "targets", "name", "explanation", "details", "maxAge", "other"]),
    JSON,
)


@given(JSON | MEMBERS)
def test_property_arbitrary_json_into_request_raises_only_syntax_error(data: object) -> None:
    try:
        req = ExceptionRequest.from_json(data)
    except SyntaxError_:
        return
    assert isinstance(req, ExceptionRequest)
    # A request that parsed never fails with anything but the documented errors.
    for call in (EMPTY.exists, EMPTY.remove):
        with contextlib.suppress(SecurityError, SyntaxError_):
            call(req, script_domain="www.example.com", now=0)


@given(JSON | st.lists(st.dictionaries(st.sampled_from(["duplets", "created", "expires"]), JSON)))
def test_property_arbitrary_json_into_exception_set_raises_only_syntax_error(data: object) -> None:
    try:
        s = ExceptionSet.from_json(data)
    except SyntaxError_:
        return
    assert ExceptionSet.from_json(s.to_json()) == s
