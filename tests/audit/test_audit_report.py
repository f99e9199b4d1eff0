from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from audit_fakes import request, tracking_visit, visit
from hypothesis import event, given, settings
from hypothesis import strategies as st

from trackpref.audit.consent import ConsentSnapshot
from trackpref.audit.declarations import (
    Fetched,
    OriginDeclarations,
    SiteDeclarations,
    evaluate_dnt_policy,
    evaluate_gpc_json,
    evaluate_tsr,
)
from trackpref.audit.failures import Failure, FailureKind
from trackpref.audit.report import (
    SCHEMA_VERSION,
    build_report,
    order_dependence,
    site_to_json,
    write_json,
)
from trackpref.audit.report_html import render_html, write_html
from trackpref.audit.site import analyse_site, cloaked_with, failed_site, same_party_of
from trackpref.audit.states import DEFAULT_STATES, SignalState
from trackpref.audit.trackers import TrackerKnowledge

PAGE = "https://shop.example/search?q=shoes"
HOSTILE = '"><script>alert(1)</script>'


def _declarations() -> SiteDeclarations:
    def f(path: str, body: str, ctype: str, status: int = 200) -> Fetched:
        url = "https://shop.example" + path
        return Fetched(url, url, status, (("Content-Type", ctype),), body.encode())

    return SiteDeclarations(
        OriginDeclarations(
            "https://shop.example",
            evaluate_tsr(
                f("/.well-known/dnt/", '{"tracking": "N"}', "application/tracking-status+json")
            ),
            evaluate_gpc_json(f("/.well-known/gpc.json", '{"gpc": true}', "application/json")),
            evaluate_dnt_policy(f("/.well-known/dnt-policy.txt", "", "text/plain", 404)),
        )
    )


def _audit() -> dict[str, Any]:
    s0, s1, s2 = DEFAULT_STATES
    hostile = visit(
        s1,
        PAGE,
        request("https://evil.example/x", state=s1, response={"Tk": HOSTILE}),
        consent=ConsentSnapshot(usp_api="1YNN"),
    )
    audit = analyse_site(
        PAGE,
        {
            s0: [tracking_visit(s0, PAGE, "a1b2c3d4e5f6a7b8c9d0")],
            s1: [hostile],
            s2: [tracking_visit(s2, PAGE, "0f9e8d7c6b5a49382716")],
        },
        _declarations(),
        audited_at="2026-01-01T00:00:00+00:00",
    )
    return site_to_json(audit)


def test_site_schema() -> None:
    site = _audit()
    assert {"url", "declarations", "states", "verdicts"} <= set(site)
    verdicts = site["verdicts"]
    assert isinstance(verdicts, dict)
    for name in ("gpc_honored", "dnt_honored", "declarations_valid", "claims_contradicted"):
        assert verdicts[name] in (True, False, None)
        assert isinstance(verdicts["evidence"][name], list)
    states = site["states"]
    assert isinstance(states, dict)
    assert list(states) == ["no-signal", "dnt1-gpc", "dnt0"]
    base = states["no-signal"]
    assert base["summary"]["third_party_identifiers"] == 2
    assert base["third_parties"][0]["site"] == "tracker.example"
    assert base["signal"]["verified"] is True
    assert states["dnt1-gpc"]["consent"]["usp"] == {"raw": "1YNN", "opted_out": False}
    assert site["declarations"]["gpc"]["gpc"] is True
    json.dumps(site, allow_nan=False)


def test_failed_site_schema() -> None:
    audit = failed_site("nope", Failure(FailureKind.INVALID_URL, "bad"), audited_at="t")
    site = site_to_json(audit)
    assert site["error"] == {"kind": "invalid-url", "message": "bad", "states": []}
    assert site["states"] == {}
    assert site["verdicts"]["gpc_honored"] is None


def test_report_marks_learned_trackers(tmp_path: Path) -> None:
    knowledge = TrackerKnowledge(threshold=1).with_sightings([("tracker.example", "shop.example")])
    document = build_report([_audit()], knowledge=knowledge, states=DEFAULT_STATES)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["trackers"][0]["domain"] == "tracker.example"
    party = document["sites"][0]["states"]["no-signal"]["third_parties"][0]
    assert party["tracker"] is True
    write_json(tmp_path / "report.json", document)
    assert json.loads((tmp_path / "report.json").read_text())["sites"][0]["url"] == PAGE


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append(value)


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    document = build_report(
        [_audit()],
        knowledge=TrackerKnowledge(),
        states=DEFAULT_STATES,
        crawl={"id": 1, "complete": False, "audited": 1, "total": 3, "started_at": "t"},
    )
    html = render_html(document)
    parsed = _Resources()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert all(ref.startswith("#") for ref in parsed.refs), parsed.refs
    assert "svg" in parsed.tags
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "interrupted: 1 of 3 recorded" in html
    write_html(tmp_path / "report.html", document)
    assert (tmp_path / "report.html").read_text() == html


def test_state_names() -> None:
    assert [s.value for s in DEFAULT_STATES] == ["no-signal", "dnt1-gpc", "dnt0"]
    assert SignalState("gpc") is SignalState.GPC


def test_reports_replace_lone_surrogates(tmp_path: Path) -> None:
    # A value a page stored ('ab\ud800cd') that UTF-8 cannot encode: the report
    # files must still be written, with U+FFFD in its place.
    site = _audit()
    site["states"]["no-signal"]["storage"] = [
        {"origin": "https://shop.example", "kind": "local", "key": "k\udc00", "value": "ab\ud800cd"}
    ]
    document = build_report([site], knowledge=TrackerKnowledge(), states=DEFAULT_STATES)
    write_json(tmp_path / "report.json", document)
    write_html(tmp_path / "report.html", document)
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (stored,) = written["sites"][0]["states"]["no-signal"]["storage"]
    assert (stored["key"], stored["value"]) == ("k\ufffd", "ab\ufffdcd")
    assert (tmp_path / "report.html").read_text(encoding="utf-8")


# -- verdicts that depend on the crawl's order -------------------------------------------------


def _site_with(
    knowledge: TrackerKnowledge,
    chains: dict[str, tuple[str, ...]] | None = None,
    same_party: tuple[str, ...] = ("partner.example",),
) -> dict[str, Any]:
    """A site whose TSR declares ``same_party``, audited (CNAMEs included) as
    the runner does it, with ``knowledge``."""
    url = "https://shop.example/.well-known/dnt/"
    body = json.dumps({"tracking": "N", "same-party": list(same_party)}).encode()
    tsr = evaluate_tsr(
        Fetched(url, url, 200, (("Content-Type", "application/tracking-status+json"),), body)
    )
    others = _declarations().site
    assert others is not None
    declarations = SiteDeclarations(
        OriginDeclarations("https://shop.example", tsr, others.gpc, others.dnt_policy)
    )
    same, _ = same_party_of(tsr, knowledge)
    cloaked = cloaked_with(chains or {}, "shop.example", same, knowledge)
    s0 = DEFAULT_STATES[0]
    audit = analyse_site(
        PAGE,
        {s0: [visit(s0, PAGE)]},
        declarations,
        audited_at="2026-01-01T00:00:00+00:00",
        knowledge=knowledge,
        cloaked=cloaked,
        cname_chains=chains,
    )
    return site_to_json(audit)


def test_a_same_party_domain_learned_as_a_tracker_later_is_named(tmp_path: Path) -> None:
    site = _site_with(TrackerKnowledge())
    assert site["same_party_honored"] == ["partner.example"]
    assert order_dependence(site, TrackerKnowledge()) == {"same_party": [], "cname": []}
    later = TrackerKnowledge(tds_trackers=frozenset({"partner.example"}))
    assert order_dependence(site, later) == {"same_party": ["partner.example"], "cname": []}
    document = build_report([site], knowledge=later, states=DEFAULT_STATES)
    assert document["order_dependent"] == [PAGE]
    assert document["sites"][0]["order_dependent"]["same_party"] == ["partner.example"]
    html = render_html(document)
    assert "Audited before trackers were learned" in html
    assert "partner.example (honored then, known trackers now)" in html
    # Audited with that knowledge, the same site depends on nothing.
    again = _site_with(later)
    assert again["same_party_honored"] == []
    assert build_report([again], knowledge=later, states=DEFAULT_STATES)["order_dependent"] == []


def test_a_cname_to_a_tracker_learned_later_is_named() -> None:
    chains = {
        "m.shop.example": ("edge.cdn.example", "c.trk.example"),
        "img.shop.example": ("img.partner.example",),
        "www2.shop.example": ("lb.hosting.example",),
    }
    site = _site_with(TrackerKnowledge(), chains)
    assert site["cname_cloaked"] == []
    assert site["cname_chains"]["m.shop.example"] == ["edge.cdn.example", "c.trk.example"]
    trk = TrackerKnowledge(tds_trackers=frozenset({"trk.example"}))
    assert order_dependence(site, trk)["cname"] == ["m.shop.example"]
    # A target declared same-party stays the site's, until it is a known tracker.
    both = TrackerKnowledge(tds_trackers=frozenset({"trk.example", "partner.example"}))
    assert order_dependence(site, both) == {
        "same_party": ["partner.example"],
        "cname": ["img.shop.example", "m.shop.example"],
    }
    # Cloaked at audit time already: nothing to name.
    assert order_dependence(_site_with(trk, chains), trk)["cname"] == []


_TARGETS = st.sampled_from(
    ["x.trk.example", "y.cdn.example", "z.partner.example", "w.shop.example", "v.other.example"]
)
#: As TSRs write them: subdomains, capitals and a trailing dot included.
_SAME_PARTY = st.lists(
    st.sampled_from(
        ["partner.example", "cdn.Partner.example", "trk.example.", "Other.Example", "cdn.example"]
    ),
    max_size=3,
    unique=True,
).map(tuple)
_KNOWN = st.frozensets(
    st.sampled_from(["trk.example", "cdn.example", "partner.example", "other.example"])
)


def _knowledge(listed: frozenset[str], learned: frozenset[str]) -> TrackerKnowledge:
    """Trackers from a tracker file and learned ones (seen on one site, threshold 1)."""
    return TrackerKnowledge(threshold=1, tds_trackers=listed).with_sightings(
        (domain, "elsewhere.example") for domain in learned
    )


@settings(max_examples=120, deadline=None)
@given(
    chains=st.dictionaries(
        st.sampled_from(["a.shop.example", "b.shop.example", "c.shop.example"]),
        st.lists(_TARGETS, min_size=1, max_size=3).map(tuple),
        max_size=3,
    ),
    same_party=_SAME_PARTY,
    listed=_KNOWN,
    learned=_KNOWN,
    more_listed=_KNOWN,
    more_learned=_KNOWN,
)
def test_only_what_later_knowledge_changes_is_order_dependent(
    chains: dict[str, tuple[str, ...]],
    same_party: tuple[str, ...],
    listed: frozenset[str],
    learned: frozenset[str],
    more_listed: frozenset[str],
    more_learned: frozenset[str],
) -> None:
    audited = _knowledge(listed, learned)
    site = _site_with(audited, chains, same_party)
    # With the knowledge the audit had, nothing depends on the order.
    assert order_dependence(site, audited) == {"same_party": [], "cname": []}
    # With more, exactly what an audit with it would decide differently.
    later = _knowledge(listed | more_listed, learned | more_learned)
    redone = _site_with(later, chains, same_party)
    found = order_dependence(site, later)
    assert found is not None
    assert found["same_party"] == [
        d for d in site["same_party_honored"] if d not in redone["same_party_honored"]
    ]
    was = {c["host"] for c in site["cname_cloaked"]}
    assert found["cname"] == sorted({c["host"] for c in redone["cname_cloaked"]} - was)
    # Audited again with it, nothing is left: the crawl's recheck stops there.
    assert order_dependence(redone, later) == {"same_party": [], "cname": []}
    event("same-party named" if found["same_party"] else "no same-party named")
    event("cname named" if found["cname"] else "no cname named")


def test_a_site_stored_before_the_keys_existed_is_unknown_not_independent() -> None:
    site = _site_with(TrackerKnowledge())
    del site["same_party_honored"], site["cname_chains"]
    assert order_dependence(site, TrackerKnowledge(tds_trackers=frozenset({"x"}))) is None
    document = build_report([site], knowledge=TrackerKnowledge(), states=DEFAULT_STATES)
    assert document["sites"][0]["order_dependent"] is None
    assert document["order_dependent"] == []
    assert render_html(document)


def test_a_same_party_entry_spelled_otherwise_is_named_like_the_audit_refuses_it() -> None:
    spelled = ("cdn.Partner.example", "trk.example.")
    site = _site_with(TrackerKnowledge(), same_party=spelled)
    assert site["same_party_honored"] == list(spelled)
    learned = _knowledge(frozenset(), frozenset({"partner.example", "trk.example"}))
    assert _site_with(learned, same_party=spelled)["same_party_honored"] == []
    assert order_dependence(site, learned) == {"same_party": list(spelled), "cname": []}
