from __future__ import annotations

import json
import math
from importlib import resources
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref.ledger.gate import Admission, ExceptionScope, Gate, GatedBatch, GateError
from trackpref.ledger.inventory import Inventory, load_inventory, parse_inventory
from trackpref.signals import (
    PartyRole,
    Preference,
    PreferenceState,
    Purpose,
    decide,
    parse_dnt,
    parse_gpc,
    resolve,
    resolve_headers,
)

EXAMPLE = str(resources.files("trackpref").joinpath("examples", "inventory.toml"))
NOW = 1_750_000_000.0

DNT1 = resolve_headers("1", None)
GPC1 = resolve_headers(None, "1")
DNT0 = resolve_headers("0", None)
UNSET = resolve_headers(None, None)
EXCEPTION_OVER_DNT = resolve_headers("1", "1", exception=True)

PAGEVIEW = {
    "path": "/news/1",
    "referrer_host": "search.example",
    "country": "DE",
    "visitor_id": "c-123",
    "load_ms": 120,
}


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(EXAMPLE)


@pytest.fixture
def gate(inventory: Inventory) -> Gate:
    return Gate(inventory, clock=lambda: NOW)


# -- bad input ---------------------------------------------------------------


def test_undeclared_field_is_refused_by_name(gate: Gate) -> None:
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", {**PAGEVIEW, "fingerprint": "abc"}, DNT0)
    assert info.value.field == "pageviews.fingerprint"
    assert "not declared" in info.value.message
    assert info.value.as_dict()["field"] == "pageviews.fingerprint"


def test_undeclared_dataset(gate: Gate) -> None:
    with pytest.raises(GateError, match="dataset 'clicks' is not declared") as info:
        gate.admit("clicks", {}, DNT0)
    assert info.value.field == "dataset"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("path", 5, "expected text, got int"),
        ("path", b"/x", "expected text, got bytes"),
        ("path", ["/x"], "expected text, got list"),
        ("path", "x" * 2049, "2049 characters, more than the 2048 allowed"),
        ("country", "DEU", "3 characters, more than the 2 allowed"),
        ("path", "/a\x00b", "U+0000"),
        ("path", "/a\x1b[31m", "U+001B"),
        ("path", "/a\nFAKE LOG LINE", "U+000A"),
        ("path", "/a\u202eevil", "U+202E"),
        ("path", "/a\ud800", "U+D800"),
        ("path", "/a\x85", "U+0085"),
        ("load_ms", "120", "expected a whole number, got str"),
        ("load_ms", 1.5, "expected a whole number, got float"),
        ("load_ms", True, "expected a whole number, got bool"),
        ("load_ms", -1, "below the minimum 0"),
        ("load_ms", 600_001, "above the maximum 600000"),
        ("load_ms", 2**70, "out of range"),
    ],
)
def test_bad_values_are_refused_by_name(gate: Gate, field: str, value: object, needle: str) -> None:
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", {**PAGEVIEW, field: value}, DNT0)
    assert info.value.field == f"pageviews.{field}"
    assert needle in info.value.message


def test_number_and_boolean_fields() -> None:
    inv = parse_inventory(
        """
[site]
name = "x"
[datasets.m]
purposes = ["debugging"]
legal_basis = "legitimate-interests"
[datasets.m.fields.ratio]
type = "number"
category = "system.metric"
min = 0
max = 1
[datasets.m.fields.ok]
type = "boolean"
category = "system.metric"
[datasets.m.fields.note]
category = "system.metric"
required = true
"""
    )
    gate = Gate(inv, clock=lambda: NOW)
    rec = gate.admit("m", {"ratio": 0.5, "ok": True, "note": "n"}, DNT1).record
    assert rec is not None
    assert rec.fields == {"ratio": 0.5, "ok": True, "note": "n"}
    assert gate.admit("m", {"ratio": 1, "note": "n"}, DNT1).record is not None
    for value, needle in [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (2.0, "maximum"),
        ("0.5", "number"),
        (10**400, "finite"),  # too large for a float: math.isfinite would raise
        (-(10**400), "finite"),
    ]:
        with pytest.raises(GateError, match=needle):
            gate.admit("m", {"ratio": value, "note": "n"}, DNT1)
        with pytest.raises(GateError, match=needle):
            gate.check_json("m", {"ratio": value, "note": "n"}, DNT1)
        refused = gate.check_json_many([("m", {"ratio": value, "note": "n"}, DNT1)] * 3).refused
        assert [i for i, _ in refused] == [0, 1, 2]
    with pytest.raises(GateError, match="true or false"):
        gate.admit("m", {"ok": 1, "note": "n"}, DNT1)
    with pytest.raises(GateError, match="required but missing") as info:
        gate.admit("m", {"ok": True}, DNT1)
    assert info.value.field == "m.note"


def test_hostile_but_printable_strings_are_data(gate: Gate) -> None:
    hostile = "/'; DROP TABLE events; -- <script>alert(1)</script> ü 漢字 👍🏽"
    rec = gate.admit("pageviews", {"path": hostile}, DNT0).record
    assert rec is not None
    assert rec.fields["path"] == hostile


def test_refs_and_time_are_checked(gate: Gate) -> None:
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", PAGEVIEW, DNT0, subject="a\x00b")
    assert info.value.field == "subject"
    with pytest.raises(GateError, match="must not be empty") as info:
        gate.admit("pageviews", PAGEVIEW, DNT0, subject="")
    assert info.value.field == "subject"
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", PAGEVIEW, DNT0, visitor_hash="x" * 300)
    assert info.value.field == "visitor_hash"
    with pytest.raises(GateError, match="future") as info:
        gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW + 3600)
    assert info.value.field == "ts"
    for bad in (math.nan, "yesterday", True):
        with pytest.raises(GateError) as info:
            gate.admit("pageviews", PAGEVIEW, DNT0, ts=bad)  # type: ignore[arg-type]
        assert info.value.field == "ts"
    rec = gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 60).record
    assert rec is not None
    assert rec.ts == NOW - 60


def test_non_mapping_fields_and_odd_keys(gate: Gate) -> None:
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", [("path", "/")], DNT0)  # type: ignore[arg-type]
    assert info.value.field == "fields"
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", {7: "x"}, DNT0)  # type: ignore[dict-item]
    assert info.value.field == "pageviews.?"
    with pytest.raises(GateError) as info:
        gate.admit("pageviews", {"x" * 10_000: "y"}, DNT0)
    assert len(info.value.message) < 300


def test_input_is_not_modified(gate: Gate) -> None:
    fields = dict(PAGEVIEW)
    gate.admit("pageviews", fields, DNT1, subject="u1", visitor_hash="h")
    assert fields == PAGEVIEW


# -- the preference ------------------------------------------------------------


@pytest.mark.parametrize("pref", [DNT1, GPC1, resolve_headers("1", "1")])
def test_do_not_track_keeps_no_identifier(gate: Gate, pref: Preference) -> None:
    a = gate.admit("pageviews", PAGEVIEW, pref, subject="user-7", visitor_hash="ab12")
    assert a.record is not None
    assert a.record.subject is None
    assert a.record.visitor_hash is None
    assert "visitor_id" not in a.record.fields
    assert set(a.dropped) == {"visitor_id", "subject", "visitor_hash"}
    assert a.record.preference == "do-not-track"
    # The service provider still receives data; nothing else does.
    assert a.record.recipients == ("cdn",)
    rules = {(r.rule, r.target): r for r in a.explanation.rules}
    assert rules[("field", "visitor_id")].outcome == "dropped"
    assert "do-not-track" in rules[("field", "visitor_id")].reason
    assert rules[("identifier", "subject")].outcome == "dropped"
    assert rules[("identifier", "subject")].signal == "+".join(s.value for s in pref.sources)


def test_do_not_track_withholds_third_parties_and_non_permitted_uses(gate: Gate) -> None:
    a = gate.admit("ad_events", {"ad_id": "a1", "event": "view", "ad_cookie": "ck"}, DNT1)
    assert a.record is not None
    assert a.record.purposes == ("financial-logging", "frequency-capping")
    assert a.record.recipients == ()
    assert "ad_cookie" not in a.record.fields
    adnet = a.explanation.about("adnet")
    assert adnet[0].outcome == "withheld"
    targeted = a.explanation.about("targeted-advertising")
    assert targeted[0].outcome == "refused"
    assert targeted[0].reason == decide(DNT1).may(Purpose.TARGETED_ADVERTISING).reason


def test_allow_opens_every_declared_purpose_and_recipient(gate: Gate) -> None:
    a = gate.admit(
        "ad_events", {"ad_id": "a1", "event": "view", "ad_cookie": "ck"}, DNT0, visitor_hash="h"
    )
    assert a.record is not None
    assert a.record.purposes == ("financial-logging", "frequency-capping", "targeted-advertising")
    assert a.record.recipients == ("adnet",)
    assert a.record.fields["ad_cookie"] == "ck"
    assert a.record.visitor_hash == "h"
    assert a.dropped == ()


def test_unset_follows_the_core(gate: Gate) -> None:
    a = gate.admit("pageviews", PAGEVIEW, UNSET, visitor_hash="h")
    assert a.record is not None
    assert a.record.fields["visitor_id"] == "c-123"
    assert a.record.preference == "unset"


def test_exception_opens_exactly_what_was_granted(gate: Gate) -> None:
    event = {"ad_id": "a1", "event": "view", "ad_cookie": "ck"}
    # An exception with no grant: first party only, nothing to third parties.
    a = gate.admit("ad_events", event, EXCEPTION_OVER_DNT)
    assert a.record is not None
    assert a.record.recipients == ()
    assert a.record.fields["ad_cookie"] == "ck"  # tracking identifiers are what an exception opens
    assert "not covered by the exception" in a.explanation.about("adnet")[0].reason
    # Granted for the ad network: shared with it.
    b = gate.admit(
        "ad_events", event, EXCEPTION_OVER_DNT, grant=ExceptionScope(frozenset({"adnet"}))
    )
    assert b.record is not None
    assert b.record.recipients == ("adnet",)
    assert b.explanation.grant == ExceptionScope(frozenset({"adnet"}))
    # Granted for some purposes only: the rest stays under the overridden DNT.
    c = gate.admit(
        "ad_events",
        event,
        EXCEPTION_OVER_DNT,
        grant=ExceptionScope.site_wide().__class__(
            frozenset({"*"}), frozenset({"frequency-capping"})
        ),
    )
    assert c.record is not None
    assert c.record.purposes == ("financial-logging", "frequency-capping")
    assert "targeted-advertising" not in c.record.purposes
    refused = c.explanation.about("targeted-advertising")[0]
    assert refused.outcome == "refused"
    assert "not covered by the exception" in refused.reason
    assert refused.signal == "dnt+gpc"
    # Site-wide: everything.
    d = gate.admit("ad_events", event, EXCEPTION_OVER_DNT, grant=ExceptionScope.site_wide())
    assert d.record is not None
    assert d.record.recipients == ("adnet",)
    assert "targeted-advertising" in d.record.purposes


def test_an_exception_limited_to_purposes_opens_identifiers_only_for_them(gate: Gate) -> None:
    # Granted for ad frequency capping, a purpose page views do not have: the
    # page view stays as do-not-track left it, with no identifier at all.
    event = {"path": "/p", "visitor_id": "VID-1", "load_ms": 12}
    only_capping = ExceptionScope(frozenset({"*"}), frozenset({"frequency-capping"}))
    under_dnt = gate.check("pageviews", event, DNT1, subject="s1", visitor_hash="vh1")
    capped = gate.check(
        "pageviews", event, EXCEPTION_OVER_DNT, subject="s1", visitor_hash="vh1", grant=only_capping
    )
    assert under_dnt is not None
    assert capped is not None
    assert (capped.subject, capped.visitor_hash, capped.fields) == (None, None, under_dnt.fields)
    rule = next(
        r
        for r in gate.explain("pageviews", EXCEPTION_OVER_DNT, grant=only_capping).rules
        if r.target == "subject"
    )
    assert rule.outcome == "dropped"
    assert "not covered by the exception" in rule.reason
    # Granted for debugging, which page views have: identifiers kept for it, but
    # not an identifier field none of whose purposes the grant covers.
    debugging = ExceptionScope(frozenset({"*"}), frozenset({"debugging"}))
    kept = gate.check(
        "pageviews", event, EXCEPTION_OVER_DNT, subject="s1", visitor_hash="vh1", grant=debugging
    )
    assert kept is not None
    assert (kept.subject, kept.visitor_hash) == ("s1", "vh1")
    assert "visitor_id" not in kept.fields
    # The whole exception still opens everything.
    whole = gate.check(
        "pageviews",
        event,
        EXCEPTION_OVER_DNT,
        subject="s1",
        visitor_hash="vh1",
        grant=ExceptionScope.site_wide(),
    )
    assert whole is not None
    assert whole.fields["visitor_id"] == "VID-1"


def test_site_defined_purposes(gate: Gate) -> None:
    sub = {"email": "a@b.example", "topics": "tech", "consent_text_version": 3}
    # "newsletter" counts as core-service: a first party's own use, allowed under DNT;
    # the e-mail itself is a direct identifier and is dropped, so is the sensitive field.
    a = gate.admit("subscriptions", sub, DNT1, subject="s1")
    assert a.record is not None
    assert "newsletter" in a.record.purposes
    assert "email" not in a.record.fields
    assert "judged as core-service" in a.explanation.about("newsletter")[0].reason
    inv = parse_inventory(
        """
[site]
name = "x"
[purposes.upsell]
description = "Suggesting other products"
[datasets.v]
purposes = ["upsell", "security"]
legal_basis = "consent"
[datasets.v.fields.a]
category = "a.b"
purposes = ["upsell"]
[datasets.v.fields.b]
category = "a.b"
"""
    )
    g = Gate(inv, clock=lambda: NOW)
    r = g.admit("v", {"a": "1", "b": "2"}, DNT1)
    assert r.record is not None
    assert r.record.purposes == ("security",)
    assert r.record.fields == {"b": "2"}
    assert "not a permitted use" in r.explanation.about("upsell")[0].reason
    r = g.admit("v", {"a": "1", "b": "2"}, DNT0)
    assert r.record is not None
    assert r.record.purposes == ("upsell", "security")


def test_sensitive_fields_need_a_subject(gate: Gate) -> None:
    sub = {"email": "a@b.example", "topics": "tech"}
    a = gate.admit("subscriptions", sub, DNT0, subject="s1")
    assert a.record is not None
    assert a.record.sealed == ("email",)
    assert a.explanation.about("email")[0].outcome == "sealed"
    with pytest.raises(GateError, match="required"):
        gate.admit("subscriptions", {"topics": "tech"}, DNT0, subject="s1")
    b = gate.admit("subscriptions", sub, DNT0)
    assert b.record is not None
    assert "email" not in b.record.fields
    assert "no subject" in b.explanation.about("email")[0].reason


def test_nothing_kept_when_no_purpose_is_allowed(inventory: Inventory) -> None:
    inv = parse_inventory(
        """
[site]
name = "x"
[datasets.t]
purposes = ["targeted-advertising", "profiling"]
legal_basis = "consent"
[datasets.t.fields.seg]
category = "user.inferred"
"""
    )
    gate = Gate(inv, clock=lambda: NOW)
    a = gate.admit("t", {"seg": "sports"}, GPC1)
    assert a.record is None
    assert not a.stored
    assert a.dropped == ("seg",)
    assert a.explanation.about("t")[0].outcome == "refused"


def test_third_party_role(inventory: Inventory) -> None:
    gate = Gate(inventory, role=PartyRole.THIRD_PARTY, clock=lambda: NOW)
    a = gate.admit("pageviews", PAGEVIEW, DNT1)
    assert a.record is not None
    # A third party may not use first-party analytics under DNT: only permitted uses remain.
    assert a.record.purposes == ("security", "debugging")
    assert "referrer_host" not in a.record.fields  # its only purpose was analytics
    assert a.explanation.role == "third-party"


def test_explanation_is_json_data(gate: Gate) -> None:
    e = gate.explain("ad_events", EXCEPTION_OVER_DNT, grant=ExceptionScope(frozenset({"adnet"})))
    doc = json.loads(json.dumps(e.as_dict()))
    assert doc["preference"] == "allow"
    assert doc["source"] == "exception"
    assert doc["grant"] == {"recipients": ["adnet"], "purposes": None}
    assert {r["rule"] for r in doc["rules"]} == {"purpose", "identifier", "field", "recipient"}


def test_admit_many_is_all_or_nothing(gate: Gate) -> None:
    rows = [{"path": f"/p/{i}", "country": "FR"} for i in range(5)]
    records = gate.admit_many("pageviews", rows, DNT1)
    assert [r.fields["path"] for r in records] == [f"/p/{i}" for i in range(5)]
    rows[3]["country"] = "FRA"
    with pytest.raises(GateError, match="row 3") as info:
        gate.admit_many("pageviews", rows, DNT1)
    assert info.value.field == "pageviews.country"


def test_validate_for_corrections(gate: Gate) -> None:
    assert gate.validate("pageviews", "country", "NL") == "NL"
    with pytest.raises(GateError):
        gate.validate("pageviews", "country", "\x00")
    with pytest.raises(GateError, match="not declared"):
        gate.validate("pageviews", "nope", "x")


# -- properties ----------------------------------------------------------------

headers = st.one_of(st.none(), st.sampled_from(["0", "1", "1;x", "2", "", " 1 ", "0x"]))
prefs = st.builds(
    lambda d, g, e: resolve(parse_dnt(d), parse_gpc(g), exception=e),
    headers,
    st.one_of(st.none(), st.sampled_from(["1", "0", "true", ""])),
    st.booleans(),
)
scopes = st.one_of(
    st.none(),
    st.builds(
        ExceptionScope,
        st.frozensets(st.sampled_from(["cdn", "adnet", "*", "other"])),
        st.one_of(
            st.none(), st.frozensets(st.sampled_from([p.value for p in Purpose] + ["newsletter"]))
        ),
    ),
)
text_values = st.text(max_size=20)
values = st.one_of(
    text_values,
    st.integers(-10, 10**6),
    st.sampled_from([10**400, -(10**400)]),  # too large for a float
    st.floats(),
    st.booleans(),
    st.none(),
)


@st.composite
def events(draw: st.DrawFn, inventory: Inventory) -> tuple[str, dict[str, object]]:
    ds = draw(st.sampled_from(sorted(inventory.datasets)))
    names = sorted(inventory.datasets[ds].fields)
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    fields: dict[str, object] = {}
    for name in chosen:
        spec = inventory.datasets[ds].fields[name]
        if spec.type.value == "integer" and draw(st.booleans()):
            fields[name] = draw(st.integers(0, 600_000))
        elif spec.type.value == "string" and draw(st.booleans()):
            fields[name] = draw(
                st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=2)
            )
        else:
            fields[name] = draw(values)
    return ds, fields


INV = load_inventory(EXAMPLE)


def admit_or_error(gate: Gate, *args: Any, **kwargs: Any) -> Admission | GateError:
    try:
        return gate.admit(*args, **kwargs)
    except GateError as exc:
        return exc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events(INV),
    prefs,
    scopes,
    st.one_of(st.none(), text_values),
    st.one_of(st.none(), text_values),
    st.sampled_from(list(PartyRole)),
)
def test_property_no_identifier_is_ever_kept_under_do_not_track(
    event: tuple[str, dict[str, object]],
    pref: Preference,
    grant: ExceptionScope | None,
    subject: str | None,
    visitor: str | None,
    role: PartyRole,
) -> None:
    dataset, fields = event
    gate = Gate(INV, role=role, clock=lambda: NOW)
    a = admit_or_error(
        gate, dataset, fields, pref, subject=subject, visitor_hash=visitor, grant=grant
    )
    if isinstance(a, GateError):
        assert a.field  # every refusal names what was wrong
        return
    rec = a.record
    if rec is None:
        return
    ds = INV.datasets[dataset]
    assert set(rec.fields) <= set(ds.fields)
    assert all(fields[k] == v for k, v in rec.fields.items())
    decision = decide(pref, role)
    if pref.state is PreferenceState.DO_NOT_TRACK:
        assert rec.subject is None
        assert rec.visitor_hash is None
        assert not any(ds.fields[k].is_identifier for k in rec.fields)
        assert all(INV.recipients[r].service_provider for r in rec.recipients)
        for p in rec.purposes:
            spec = INV.purposes.get(p)
            core = spec.counts_as if spec is not None else p
            assert core is not None
            assert decision.may(core).allowed
    if pref.by_consent:  # an exception overrode a do-not-track signal
        for r in rec.recipients:
            recipient = INV.recipients[r]
            assert recipient.service_provider or (grant is not None and grant.covers_recipient(r))
    assert set(rec.purposes) <= set(ds.purposes)
    assert set(rec.sealed) <= set(rec.fields)
    assert rec.subject is not None or not rec.sealed


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=6), prefs)
def test_property_garbage_gets_a_named_error_or_a_valid_record(
    fields: dict[str, object], pref: Preference
) -> None:
    gate = Gate(INV, clock=lambda: NOW)
    a = admit_or_error(gate, "pageviews", fields, pref)
    if isinstance(a, GateError):
        assert a.field
        assert a.field.startswith(("pageviews.", "fields"))
        return
    assert a.record is not None
    json.dumps(a.record.fields, allow_nan=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events(INV),
    prefs,
    scopes,
    st.one_of(st.none(), text_values),
    st.one_of(st.none(), text_values),
)
def test_property_check_json_agrees_with_admit(
    event: tuple[str, dict[str, object]],
    pref: Preference,
    grant: ExceptionScope | None,
    subject: str | None,
    visitor: str | None,
) -> None:
    """The ingest fast path keeps, drops and refuses exactly what admit does."""
    dataset, fields = event
    gate = Gate(INV, clock=lambda: NOW)
    slow = admit_or_error(
        gate, dataset, fields, pref, subject=subject, visitor_hash=visitor, grant=grant
    )
    try:
        fast = gate.check_json(dataset, fields, pref, subject, visitor, grant)
    except GateError as exc:
        failed: GateError | None = exc
    else:
        failed = None
    if failed is not None:
        assert isinstance(slow, GateError)
        assert (failed.field, failed.message) == (slow.field, slow.message)
        return
    assert isinstance(slow, Admission)
    if slow.record is None:
        assert fast is None
        return
    assert fast is not None
    ts, subj, vis, text, plan = fast
    assert (ts, subj, vis) == (slow.record.ts, slow.record.subject, slow.record.visitor_hash)
    assert json.loads(text) == slow.record.fields
    assert plan.explanation is slow.explanation


def test_backdated_events_respect_retention(gate: Gate) -> None:
    # pageviews are kept 10 days; referrer_host only 24 hours.
    with pytest.raises(GateError, match="keeps events 10 days") as info:
        gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 10 * 86400)
    assert info.value.field == "ts"
    # nearly expired is not worth storing: less than an hour left
    with pytest.raises(GateError, match="nearly"):
        gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 10 * 86400 + 1800)
    half_hour_left = gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 86400 + 1800)
    assert half_hour_left.record is not None
    assert "referrer_host" not in half_hour_left.record.fields
    a = gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 2 * 86400)
    assert a.record is not None
    assert "referrer_host" not in a.record.fields
    assert "referrer_host" in a.dropped
    assert a.record.fields["path"] == PAGEVIEW["path"]
    fast = gate.check_json("pageviews", PAGEVIEW, DNT0, ts=NOW - 2 * 86400)
    assert fast is not None
    assert "referrer_host" not in json.loads(fast[3])
    recent = gate.admit("pageviews", PAGEVIEW, DNT0, ts=NOW - 3600)
    assert recent.record is not None
    assert "referrer_host" in recent.record.fields


# -- the batch path --------------------------------------------------------------


def check_one(gate: Gate, event: tuple[Any, ...]) -> Any:
    try:
        return gate.check_json(*event)
    except GateError as exc:
        return exc


def assert_batch_agrees(gate: Gate, batch: list[tuple[Any, ...]]) -> GatedBatch:
    """check_json_many judges every event exactly as check_json does, one by one."""
    got = gate.check_json_many(batch)
    stored = dict(zip(got.index, range(len(got.index)), strict=True))
    refused = dict(got.refused)
    assert got.index == sorted(got.index)
    assert [i for i, _ in got.refused] == sorted(refused)
    withheld = 0
    for i, event in enumerate(batch):
        expected = check_one(gate, event)
        if i in got.sealed:  # left whole to a caller that can seal (it checks them itself)
            assert isinstance(expected, GateError) or expected[4].sealed
            assert i not in stored
            assert i not in refused
            continue
        if isinstance(expected, GateError):
            assert i in refused, (i, expected)
            assert (refused[i].field, refused[i].message) == (expected.field, expected.message)
            continue
        assert i not in refused, (i, refused.get(i))
        assert expected is None or not expected[4].sealed
        if expected is None:
            withheld += 1
            assert i not in stored
            continue
        k = stored[i]
        ts, subject, visitor, text, plan = expected
        assert got.datasets[k] == event[0]
        assert (got.ts[k], got.subjects[k], got.visitor_hashes[k]) == (ts, subject, visitor)
        assert json.loads(got.fields[k]) == json.loads(text)
        assert got.plans[k].explanation.as_dict() == plan.explanation.as_dict()
    assert got.withheld == withheld
    assert len(got.index) + len(got.refused) + len(got.sealed) + got.withheld == len(batch)
    return got


def value_for(spec: Any, rare_garbage: bool) -> st.SearchStrategy[object]:
    """Mostly valid values of a field, so that the column checks clear whole batches."""
    kind = spec.type.value
    if kind == "integer":
        valid: st.SearchStrategy[object] = st.integers(0, 600_000)
    elif kind == "string":
        size = min(8, spec.max_length)
        plain = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=size)
        printable = st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"))
        valid = st.one_of(plain, plain, st.text(printable, max_size=size))  # ", \\, ü, 漢
    else:
        valid = values
    garbage = st.one_of(values, st.just("x" * (spec.max_length + 1)))
    if rare_garbage:
        return st.integers(0, 199).flatmap(lambda k: garbage if k == 0 else valid)
    return st.one_of(valid, garbage)


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Batches of one shape (the column path) or of many (the grouping and fallbacks)."""
    pool = draw(st.lists(prefs, min_size=1, max_size=4))
    uniform = draw(st.booleans())
    clean = uniform and draw(st.integers(0, 3)) > 0  # mostly valid: the column path
    refs = st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=6),
        *([] if clean else [st.text(max_size=6), st.just(""), st.integers()]),
    )
    times = st.one_of(
        st.none(),
        st.floats(NOW - 3600, NOW),
        *(
            []
            if clean
            else [
                st.floats(NOW - 11 * 86400, NOW + 600),
                st.integers(int(NOW) - 3 * 86400, int(NOW)),
                st.sampled_from([math.nan, math.inf, True, "now"]),
            ]
        ),
    )
    ds = draw(st.sampled_from(["pageviews", "pageviews", "ad_events", "subscriptions"]))
    specs = INV.datasets[ds].fields
    names = draw(st.lists(st.sampled_from(sorted(specs)), unique=True))
    if clean:
        names += [name for name, spec in specs.items() if spec.required and name not in names]
    out: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 25))):
        dataset: Any = ds
        if uniform:
            fields: Any = {name: draw(value_for(specs[name], clean)) for name in names}
        else:
            dataset, fields = draw(events(INV))
            if draw(st.integers(0, 9)) == 0:
                dataset = draw(st.sampled_from(["nope", 3]))
            if draw(st.integers(0, 9)) == 0:
                fields = MappingProxyType(fields)
        out.append(
            (
                dataset,
                fields,
                draw(st.sampled_from(pool)),
                draw(refs),
                draw(refs),
                draw(st.one_of(st.none(), st.none(), scopes)),
                draw(times),
            )
        )
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_property_check_json_many_agrees_with_check_json(batch: list[tuple[Any, ...]]) -> None:
    assert_batch_agrees(Gate(INV, clock=lambda: NOW), batch)


@st.composite
def column_batches(
    draw: st.DrawFn,
) -> tuple[str, dict[str, list[object]], Any, list[str | None]]:
    """One dataset's events under one preference, as the collector holds them."""
    ds = draw(st.sampled_from(["pageviews", "pageviews", "ad_events", "subscriptions"]))
    specs = INV.datasets[ds].fields
    clean = draw(st.integers(0, 3)) > 0
    names = draw(st.lists(st.sampled_from(sorted(specs)), unique=True))
    if clean:
        names += [name for name, spec in specs.items() if spec.required and name not in names]
    n = draw(st.integers(0, 25))
    columns: dict[str, list[object]] = {}
    for name in names:
        value = value_for(specs[name], clean)
        if draw(st.booleans()):  # sometimes absent (None), as a referrer often is
            value = st.one_of(value, st.none())
        if draw(st.integers(0, 3)) == 0:  # a constant column (device, region)
            columns[name] = [draw(value)] * n
        else:
            columns[name] = [draw(value) for _ in range(n)]
    hashes = st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=6),
        *([] if clean else [st.just(""), st.text(max_size=4)]),
    )
    visitor_hashes = [draw(hashes) for _ in range(n)]
    return ds, columns, draw(prefs), visitor_hashes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column_batches())
def test_property_check_json_columns_agrees_with_check_json_many(
    batch: tuple[str, dict[str, list[object]], Any, list[str | None]],
) -> None:
    ds, columns, pref, visitor_hashes = batch
    gate = Gate(INV, clock=lambda: NOW)
    got = gate.check_json_columns(ds, columns, pref, visitor_hashes)
    names = list(columns)
    rows = [[columns[name][i] for name in names] for i in range(len(visitor_hashes))]
    events = [
        (ds, dict(zip(names, row, strict=True)), pref, None, vh, None, None)
        for row, vh in zip(rows, visitor_hashes, strict=True)
    ]
    want = gate.check_json_many(events)
    assert (got.index, got.datasets, got.ts) == (want.index, want.datasets, want.ts)
    assert (got.subjects, got.visitor_hashes) == (want.subjects, want.visitor_hashes)
    assert got.fields == want.fields  # the same JSON text, byte for byte
    assert [p.explanation.as_dict() for p in got.plans] == [
        p.explanation.as_dict() for p in want.plans
    ]
    assert (got.withheld, got.sealed) == (want.withheld, want.sealed)
    assert [(i, e.field, e.message) for i, e in got.refused] == [
        (i, e.field, e.message) for i, e in want.refused
    ]
    assert_batch_agrees(gate, events)


def test_batch_column_path_keeps_refuses_and_drops_like_one_by_one(gate: Gate) -> None:
    tricky = [
        '/say "hi"',
        "/back\\slash",
        "/ü/漢字/👍🏽",
        "/nbsp\u00a0and\u200bzero-width",  # not printable, not hostile: kept
        "/line\u2028sep",
        "</script><script>alert(1)</script>",
        "'); DROP TABLE events; --",
        "",
    ]
    prefs_cycle = [DNT1, DNT0, GPC1, UNSET, EXCEPTION_OVER_DNT]
    batch: list[tuple[Any, ...]] = [
        (
            "pageviews",
            {**PAGEVIEW, "path": tricky[i % len(tricky)], "load_ms": i},
            prefs_cycle[i % len(prefs_cycle)],
            f"u{i}" if i % 3 == 0 else None,
            f"h{i}",
            None,
            None,
        )
        for i in range(40)
    ]
    got = assert_batch_agrees(gate, batch)
    assert got.index == list(range(40))
    assert {json.loads(t)["path"] for t in got.fields} == set(tricky)
    # one bad value among them: only that event is refused, by name
    batch[7] = (*batch[7][:1], {**PAGEVIEW, "path": "/a\x1b[31m"}, *batch[7][2:])
    batch[9] = (*batch[9][:1], {**PAGEVIEW, "load_ms": 600_001}, *batch[9][2:])
    got = assert_batch_agrees(gate, batch)
    assert [(i, e.field) for i, e in got.refused] == [
        (7, "pageviews.path"),
        (9, "pageviews.load_ms"),
    ]
    assert got.index == [i for i in range(40) if i not in (7, 9)]


def test_batch_none_values_are_absent_and_required_fields_stay_required(gate: Gate) -> None:
    batch: list[tuple[Any, ...]] = [
        (
            "pageviews",
            {"path": "/a", "country": None if i % 2 else "DE"},
            DNT0,
            None,
            None,
            None,
            None,
        )
        for i in range(6)
    ]
    got = assert_batch_agrees(gate, batch)
    assert [json.loads(t) for t in got.fields][:2] == [
        {"path": "/a", "country": "DE"},
        {"path": "/a"},
    ]
    subscriptions = [
        ("subscriptions", {"email": None, "topics": "x"}, DNT1, None, None, None, None),
        ("subscriptions", {"email": "a@b.example", "topics": "x"}, DNT1, None, None, None, None),
    ]
    got = assert_batch_agrees(gate, subscriptions)
    assert [(i, e.field) for i, e in got.refused] == [(0, "subscriptions.email")]


def test_batch_sensitive_fields_are_left_to_a_sealer(gate: Gate) -> None:
    batch: list[tuple[Any, ...]] = [
        ("subscriptions", {"email": "a@b.example"}, DNT0, "alice", None, None, None),
        ("subscriptions", {"email": "b@b.example"}, DNT0, None, None, None, None),
    ]
    got = assert_batch_agrees(gate, batch)
    assert got.sealed == [0]  # never encoded in clear
    assert got.index == [1]  # without a subject the sensitive field is dropped
    assert json.loads(got.fields[0]) == {}


def test_batch_times(gate: Gate) -> None:
    fresh = [("pageviews", PAGEVIEW, DNT0, None, None, None, NOW - 60)] * 3
    assert assert_batch_agrees(gate, fresh).ts == [NOW - 60] * 3
    mixed = [
        ("pageviews", PAGEVIEW, DNT0, None, None, None, None),
        ("pageviews", PAGEVIEW, DNT0, None, None, None, NOW - 2 * 86400),  # drops referrer_host
        ("pageviews", PAGEVIEW, DNT0, None, None, None, NOW + 3600),  # the future: refused
        ("pageviews", PAGEVIEW, DNT0, None, None, None, int(NOW)),
    ]
    got = assert_batch_agrees(gate, mixed)
    assert got.ts == [NOW, NOW - 2 * 86400, NOW]
    assert "referrer_host" not in json.loads(got.fields[1])


def test_batch_of_odd_shapes_falls_back_to_one_by_one(gate: Gate) -> None:
    assert gate.check_json_many([]).index == []
    short = [("pageviews", {"path": "/"}, DNT0)]  # not all seven parts: check_json's defaults
    assert gate.check_json_many(short).index == [0]
    unhashable = [(["pageviews"], {"path": "/"}, DNT0, None, None, None, None)]
    got = gate.check_json_many(unhashable)
    assert [e.field for _, e in got.refused] == ["dataset"]


class Awkward:
    """Compares like an array: == answers with something that is neither True nor False."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value of this comparison is ambiguous")


def test_batch_with_awkward_objects_refuses_them_by_name(gate: Gate) -> None:
    good = ("pageviews", dict(PAGEVIEW), DNT0, None, "h", None, None)
    for i, awkward in enumerate(
        [
            (Awkward(), dict(PAGEVIEW), DNT0, None, None, None, None),
            ("pageviews", dict(PAGEVIEW), DNT0, Awkward(), None, None, None),
            ("pageviews", dict(PAGEVIEW), DNT0, None, Awkward(), None, None),
            ("pageviews", dict(PAGEVIEW), DNT0, None, None, None, Awkward()),
            ("pageviews", {**PAGEVIEW, "path": Awkward()}, DNT0, None, None, None, None),
        ]
    ):
        got = gate.check_json_many([good, awkward, good])
        assert got.index == [0, 2], i
        [(position, error)] = got.refused
        assert position == 1
        assert error.field in ("dataset", "subject", "visitor_hash", "ts", "pageviews.path")
