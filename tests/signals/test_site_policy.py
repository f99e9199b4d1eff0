"""One site policy, every declaration derived from it, every bad policy refused.

Named after the conformance checklist in ``specs.md`` §7 where a test proves
an item (28–32, 35, 37, 43, 47); the rest after the setting they cover.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trackpref
from trackpref.signals import dnt_policy
from trackpref.signals.errors import SignalError, ValidationError
from trackpref.signals.gpc_support import GPCSupport, parse_gpc_json
from trackpref.signals.preference import (
    DEFAULT_PRECEDENCE,
    STRICT_PRECEDENCE,
    PreferenceState,
)
from trackpref.signals.site_policy import (
    DEFAULT_CONFIG,
    DEFAULT_POLICY,
    MAX_TSR_MAX_AGE,
    STATUS_IDS,
    SitePolicy,
)
from trackpref.signals.tracking_status import Tk
from trackpref.signals.tsr import parse_tsr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path(trackpref.__file__).parent / "examples" / "site-policy.toml"
DOCS = ROOT / "docs" / "site-policy.md"
STAND_IN = b"Do Not Track Compliance Policy \n\nA stand-in text for tests.\n"


def problems(**settings: object) -> dict[str, str]:
    """The problems ``from_mapping`` reports, by setting (the last one per setting)."""
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_mapping(settings)
    return dict(info.value.problems)


@pytest.fixture
def stand_in_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy text accepted through a stand-in table (the EFF text is not shipped)."""
    path = tmp_path / "dnt-policy.txt"
    path.write_bytes(STAND_IN)
    digest = hashlib.sha1(STAND_IN).hexdigest()
    monkeypatch.setattr(dnt_policy, "EFF_POLICY_HASHES", {digest: "DNT Policy v1.0"})
    return path


# -- Defaults ------------------------------------------------------------------


def test_defaults_are_a_valid_dynamic_policy() -> None:
    policy = SitePolicy()
    assert policy.dynamic
    assert policy.policy == DEFAULT_POLICY == "/privacy"
    assert policy.config == DEFAULT_CONFIG == "/privacy#consent"
    assert policy.exceptions_api
    assert policy.precedence == DEFAULT_PRECEDENCE
    assert policy.site_wide_tsr().to_dict() == {
        "tracking": "?",
        "policy": "/privacy",
        "config": "/privacy#consent",
    }
    assert policy.gpc_json() == b'{"gpc": true}'
    assert policy.dnt_policy_text() is None
    assert not policy.is_tracking_cookie("_ga")
    assert SitePolicy.from_mapping({}) == policy


def test_policies_are_values() -> None:
    a = SitePolicy(tracking_cookies=("_ga",))
    b = SitePolicy.from_mapping({"tracking-cookies": ["_ga"]})
    assert a == b
    assert hash(a) == hash(b)
    assert a != SitePolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tracking = "N"  # type: ignore[misc]
    assert dataclasses.replace(a, tracking="T").tk_for("N") == Tk("T")


def test_policies_survive_pickle_and_deepcopy(stand_in_policy: Path) -> None:
    policy = SitePolicy(tracking_cookies=("ad_*",), dnt_policy_file=str(stand_in_policy))
    stand_in_policy.unlink()  # a copy must not need to read the file again
    for clone in (pickle.loads(pickle.dumps(policy)), copy.deepcopy(policy)):
        assert clone == policy
        assert clone.is_tracking_cookie("ad_x")
        assert clone.dnt_policy_text() == STAND_IN
        assert clone.tk_for("C") == Tk("C", "consent")
        assert clone.site_wide_tsr() == policy.site_wide_tsr()


# -- Tk and request-specific TSRs (dynamic) ------------------------------------


@pytest.mark.parametrize(("status", "status_id"), list(STATUS_IDS.items()))
def test_dynamic_tk_points_at_a_request_specific_tsr(status: str, status_id: str) -> None:
    policy = SitePolicy(compliance=("https://regime.example/",), same_party=("example.com",))
    tk = policy.tk_for(status)
    assert tk == Tk(status, status_id)
    assert tk.resource_path == f"/.well-known/dnt/{status_id}"
    tsr = policy.request_tsr(status_id)
    assert tsr is not None
    assert tsr.tracking == status
    # Every other member is inherited from the site-wide resource.
    site = policy.site_wide_tsr().to_dict()
    assert {k: v for k, v in tsr.to_dict().items() if k != "tracking"} == {
        k: v for k, v in site.items() if k != "tracking"
    }


def test_checklist_28_request_specific_tsrs_are_never_dynamic_or_gateway() -> None:
    policy = SitePolicy()
    for status_id in STATUS_IDS.values():
        tsr = policy.request_tsr(status_id)
        assert tsr is not None
        assert tsr.tracking not in ("?", "G", "U")
        assert parse_tsr(tsr.to_json(), request_specific=True) == tsr


def test_unknown_status_ids_and_static_policies_have_no_request_specific_tsr() -> None:
    assert SitePolicy().request_tsr("nope") is None
    assert SitePolicy().request_tsr("") is None
    static = SitePolicy(tracking="N")
    assert all(static.request_tsr(i) is None for i in STATUS_IDS.values())


def test_dynamic_tk_for_a_status_without_a_tsr_is_the_bare_status() -> None:
    policy = SitePolicy()
    assert policy.tk_for("D") == Tk("D")
    assert policy.tk_for("x") == Tk("x")
    for bad in ("?", "G", "", "NT"):
        with pytest.raises(SignalError):
            policy.tk_for(bad)


@pytest.mark.parametrize("tracking", ["N", "T", "D", "!"])
def test_static_tk_is_the_one_site_status(tracking: str) -> None:
    policy = SitePolicy(tracking=tracking)
    assert not policy.dynamic
    assert {policy.tk_for(s) for s in ("N", "T", "C")} == {Tk(tracking)}
    assert policy.site_wide_tsr().tracking == tracking


def test_dynamic_without_consent_has_no_consent_tsr() -> None:
    policy = SitePolicy(exceptions_api=False, policy=None, config=None)
    assert policy.request_tsr("consent") is None
    assert policy.tk_for("C") == Tk("C")
    assert policy.request_tsr("not-tracking") is not None
    assert policy.site_wide_tsr().to_dict() == {"tracking": "?"}


# -- Rules TPE puts on the declaration -----------------------------------------


@pytest.mark.parametrize("tracking", ["U", "G", "", "NT", "é", 1, None])
def test_checklist_28_static_tracking_must_be_a_usable_tsv(tracking: object) -> None:
    found = problems(tracking=tracking)
    assert set(found) == {"tracking"}


def test_a_site_that_says_n_to_everyone_lists_no_tracking_cookies() -> None:
    # 'N' claims no tracking for anyone; tracking cookies would still reach
    # visitors who allow tracking, each answer saying Tk: N.
    found = problems(tracking="N", tracking_cookies=["_ga", "ad_*"])
    assert set(found) == {"tracking_cookies"}
    assert "'N'" in found["tracking_cookies"]
    assert SitePolicy(tracking="T", tracking_cookies=("_ga",)).tracking_cookies == ("_ga",)
    assert SitePolicy(tracking="?", tracking_cookies=("_ga",)).dynamic


@pytest.mark.parametrize("tracking", ["C", "P"])
def test_checklist_29_consent_statuses_need_config(tracking: str) -> None:
    found = problems(tracking=tracking, config="")
    assert set(found) == {"config"}
    assert "gives and revokes consent" in found["config"]
    policy = SitePolicy(tracking=tracking, config="/consent")
    assert policy.site_wide_tsr().config == "/consent"


def test_checklist_30_extension_status_needs_compliance() -> None:
    found = problems(tracking="x")
    assert set(found) == {"compliance"}
    policy = SitePolicy(tracking="x", compliance=("https://regime.example/x",))
    assert policy.site_wide_tsr().compliance == ("https://regime.example/x",)
    assert policy.tk_for("N") == Tk("x")


def test_checklist_31_controller_is_left_out_when_it_is_the_domain_owner() -> None:
    assert "controller" not in SitePolicy().site_wide_tsr().to_dict()
    joint = SitePolicy(controller=("https://a.example/", "https://b.example/"))
    assert joint.site_wide_tsr().effective_controller == (
        "https://a.example/",
        "https://b.example/",
    )


def test_checklist_32_exception_api_needs_a_policy_and_says_how_to_fix() -> None:
    found = problems(policy="")
    assert set(found) == {"policy"}
    assert "storeTrackingException" in found["policy"]
    assert "exceptions_api = false" in found["policy"]
    assert "Set policy" in found["policy"]
    without_api = SitePolicy(exceptions_api=False, policy=None)
    assert "policy" not in without_api.site_wide_tsr().to_dict()
    assert SitePolicy().site_wide_tsr().policy == "/privacy"


def test_disregarding_needs_a_policy_stating_the_conditions() -> None:
    found = problems(tracking="D", policy="", exceptions_api=False)
    assert set(found) == {"policy"}
    assert "'D'" in found["policy"]


def test_dynamic_with_exceptions_needs_config_for_consent() -> None:
    found = problems(config="")
    assert set(found) == {"config"}
    assert "exceptions_api = false" in found["config"]


def test_checklist_37_refusing_without_consent_needs_the_exception_api() -> None:
    found = problems(refuse_without_consent=True, exceptions_api=False)
    assert set(found) == {"refuse_without_consent"}
    assert SitePolicy(refuse_without_consent=True).refuse_without_consent


def test_checklist_35_tsr_max_age_bounds() -> None:
    assert SitePolicy(tsr_max_age=0).tsr_max_age == 0
    assert SitePolicy(tsr_max_age=MAX_TSR_MAX_AGE).tsr_max_age == MAX_TSR_MAX_AGE
    for bad in (-1, MAX_TSR_MAX_AGE + 1, True, 1.5, "60"):
        assert set(problems(tsr_max_age=bad)) == {"tsr_max_age"}


# -- gpc.json ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, GPCSupport(gpc=True)),
        ({"gpc": False}, GPCSupport(gpc=False)),
        ({"gpc-last-update": dt.date(2025, 4, 15)}, GPCSupport(True, dt.date(2025, 4, 15))),
        ({"gpc_last_update": "2025-04-15"}, GPCSupport(True, dt.date(2025, 4, 15))),
        (
            {"gpc_last_update": "2025-04-15T08:00:00.000Z"},
            GPCSupport(True, dt.datetime(2025, 4, 15, 8, tzinfo=dt.UTC)),
        ),
    ],
)
def test_checklist_43_gpc_json_reads_back_as_declared(
    settings: dict[str, object], expected: GPCSupport
) -> None:
    body = SitePolicy.from_mapping(settings).gpc_json()
    assert body is not None
    assert parse_gpc_json(body, "application/json") == expected


def test_checklist_43_gpc_unset_publishes_nothing() -> None:
    assert SitePolicy(gpc=None).gpc_json() is None
    assert SitePolicy.from_mapping({"gpc": ""}).gpc_json() is None
    assert set(problems(gpc="", gpc_last_update=dt.date(2025, 1, 1))) == {"gpc_last_update"}


@pytest.mark.parametrize("value", ["true", 1, "2025-13-01", dt.datetime(2025, 1, 1, 12)])
def test_checklist_43_gpc_settings_are_type_checked(value: object) -> None:
    key = "gpc" if value in ("true", 1) else "gpc_last_update"
    assert set(problems(**{key: value})) == {key}


# -- The EFF policy file -------------------------------------------------------


def test_checklist_47_dnt_policy_file_is_verified_and_served(stand_in_policy: Path) -> None:
    policy = SitePolicy(dnt_policy_file=str(stand_in_policy))
    assert policy.dnt_policy_text() == STAND_IN
    assert SitePolicy(dnt_policy_file=stand_in_policy).dnt_policy_text() == STAND_IN  # type: ignore[arg-type]


def test_checklist_47_a_modified_policy_file_is_refused(stand_in_policy: Path) -> None:
    stand_in_policy.write_bytes(STAND_IN.replace(b"tests", b"us"))
    found = problems(dnt_policy_file=str(stand_in_policy))
    assert set(found) == {"dnt_policy_file"}
    assert "not an accepted EFF DNT policy" in found["dnt_policy_file"]
    assert hashlib.sha1(stand_in_policy.read_bytes()).hexdigest() in found["dnt_policy_file"]


def test_checklist_47_a_missing_or_unreadable_policy_file_is_refused(tmp_path: Path) -> None:
    assert (
        "does not exist" in problems(dnt_policy_file=str(tmp_path / "nope.txt"))["dnt_policy_file"]
    )
    assert "cannot be read" in problems(dnt_policy_file=str(tmp_path))["dnt_policy_file"]


def test_checklist_47_relative_policy_file_is_relative_to_the_toml(
    stand_in_policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "site.toml"
    toml.write_text('dnt-policy-file = "dnt-policy.txt"\n')
    monkeypatch.chdir(ROOT)  # not the file's directory
    policy = SitePolicy.from_toml(toml)
    assert policy.dnt_policy_text() == STAND_IN
    assert policy.dnt_policy_file == str(tmp_path / "dnt-policy.txt")


# -- Cookies and parties -------------------------------------------------------


def test_tracking_cookies_match_names_and_prefixes() -> None:
    policy = SitePolicy(tracking_cookies=("_ga", "ad_*", "__utm*"))
    assert policy.is_tracking_cookie("_ga")
    assert policy.is_tracking_cookie("ad_")
    assert policy.is_tracking_cookie("ad_id")
    assert policy.is_tracking_cookie("__utmz")
    assert not policy.is_tracking_cookie("_gat")
    assert not policy.is_tracking_cookie("AD_id")  # names are case-sensitive
    assert not policy.is_tracking_cookie("session")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("*", "every cookie"),
        ("a*b", "may only end a name"),
        ("a b", "cannot appear"),
        ("a;b", "cannot appear"),
        ("", "every cookie"),
        ("é", "cannot appear"),
    ],
)
def test_malformed_cookie_names_are_refused(name: str, expected: str) -> None:
    found = problems(tracking_cookies=[name])
    assert expected in found["tracking_cookies"]


def test_domains_are_normalized_and_checked() -> None:
    policy = SitePolicy(same_party=("Example.COM.", "example.com", "bücher.example"))
    assert policy.same_party == ("example.com", "xn--bcher-kva.example")
    assert policy.site_wide_tsr().same_party == ("example.com", "xn--bcher-kva.example")
    assert SitePolicy(service_providers=("CDN.example.net",)).service_providers == (
        "cdn.example.net",
    )
    assert "is not a domain" in problems(service_providers=["a b.example"])["service_providers"]
    assert "is not a domain" in problems(same_party=["https://x.example/"])["same_party"]


@pytest.mark.parametrize("field", ["compliance", "controller", "audit"])
@pytest.mark.parametrize("uri", ["", "has space", "a\nb", "<x>", "x\x7f"])
def test_uri_lists_refuse_what_cannot_be_a_uri_reference(field: str, uri: str) -> None:
    assert set(problems(**{field: [uri]})) == {field}


@pytest.mark.parametrize("field", ["policy", "config"])
def test_policy_and_config_must_be_uri_references(field: str) -> None:
    assert set(problems(**{field: "my privacy page"})) == {field}
    assert set(problems(**{field: ["/privacy"]})) == {field}


# -- Precedence ----------------------------------------------------------------


def test_precedence_from_a_string_or_a_table() -> None:
    text = "do-not-track > exception > allow"
    assert SitePolicy.from_mapping({"precedence": text}).precedence == STRICT_PRECEDENCE
    assert SitePolicy(precedence=text).precedence == STRICT_PRECEDENCE  # type: ignore[arg-type]
    table = {"order": text, "default": "do-not-track"}
    parsed = SitePolicy.from_mapping({"precedence": table}).precedence
    assert parsed.order == STRICT_PRECEDENCE.order
    assert parsed.default is PreferenceState.DO_NOT_TRACK


@pytest.mark.parametrize(
    "value",
    [
        "a > b",
        "exception > allow",
        {"order": "exception > do-not-track > allow", "when": "x"},
        {"order": 3},
        {"order": "exception > do-not-track > allow", "default": "maybe"},
        7,
    ],
)
def test_bad_precedence_is_refused(value: object) -> None:
    assert set(problems(precedence=value)) == {"precedence"}


# -- The file form -------------------------------------------------------------


def test_dashes_and_underscores_are_the_same_setting() -> None:
    dashed = SitePolicy.from_mapping({"same-party": ["a.example"], "tsr-max-age": 60})
    underscored = SitePolicy.from_mapping({"same_party": ["a.example"], "tsr_max_age": 60})
    assert dashed == underscored
    found = problems(**{"same-party": ["a.example"], "same_party": ["b.example"]})
    assert "given twice" in found["same_party"]


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("precdence", "'precedence'"),
        ("tracking-cookie", "'tracking-cookies'"),
        ("gpc_last_updat", "'gpc_last_update'"),
        ("edit", "'config'"),
        ("privacy-policy", "'policy'"),
    ],
)
def test_unknown_settings_get_a_did_you_mean_hint(key: str, hint: str) -> None:
    found = problems(**{key: "x"})
    assert found[key] == f"unknown setting; did you mean {hint}?"


def test_unknown_setting_without_a_close_match() -> None:
    assert "docs/site-policy.md" in problems(zzz=1)["zzz"]


def test_empty_string_unsets_optional_settings() -> None:
    policy = SitePolicy.from_mapping(
        {"qualifiers": "", "dnt-policy-file": "", "exceptions-api": False, "policy": ""}
    )
    assert policy.qualifiers is None
    assert policy.dnt_policy_file is None
    assert policy.policy is None


def test_every_problem_is_reported_at_once_named_as_the_file_spells_it() -> None:
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_mapping(
            {
                "tracking": "U",
                "same-party": "example.com",
                "tracking-cookies": ["a*b", 5],
                "gpc": "yes",
                "exceptions-api": "on",
                "tsr-max-age": -5,
                "precdence": "x",
            },
            source="site.toml",
        )
    error = info.value
    assert error.source == "site.toml"
    assert str(error).startswith("site.toml: ")
    fields = [name for name, _ in error.problems]
    assert fields == [
        "precdence",
        "tracking",
        "same-party",
        "tracking-cookies",
        "tracking-cookies",
        "gpc",
        "exceptions-api",
        "tsr-max-age",
    ]


def test_constructor_refuses_wrong_types_and_freezes_lists() -> None:
    policy = SitePolicy(audit=["https://audit.example/1"])  # type: ignore[arg-type]
    assert policy.audit == ("https://audit.example/1",)
    with pytest.raises(ValidationError) as info:
        SitePolicy(compliance="https://one.example/", exceptions_api=1)  # type: ignore[arg-type]
    assert [name for name, _ in info.value.problems] == ["compliance", "exceptions_api"]
    assert '["a", "b"]' in info.value.problems[0][1]


def test_from_mapping_refuses_a_non_mapping() -> None:
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_mapping(["tracking", "N"], source="x.json")  # type: ignore[arg-type]
    assert info.value.source == "x.json"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"tracking = ", "not valid TOML"),
        (b'tracking = "N"\ntracking = "T"\n', "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a = " + b"[" * 2000 + b"]" * 2000, "nested too deeply"),
    ],
)
def test_from_toml_reports_a_broken_file_with_its_path(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_toml(path)
    assert info.value.source == str(path)
    assert expected in str(info.value)


def test_from_toml_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_toml(tmp_path / "absent.toml")
    assert "cannot read" in str(info.value)


def test_from_toml_reads_native_dates_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        'tracking = "T"\ngpc_last_update = 2025-04-15\n'
        'precedence = { order = "do-not-track > exception > allow" }\n'
        "tracking-cookies = ['_ga']\n"
    )
    policy = SitePolicy.from_toml(str(path))
    assert policy.gpc_last_update == dt.date(2025, 4, 15)
    assert policy.precedence == STRICT_PRECEDENCE
    assert policy.tk_for("N") == Tk("T")


# -- The documented example ----------------------------------------------------


def test_example_policy_loads() -> None:
    policy = SitePolicy.from_toml(EXAMPLE)
    assert policy.dynamic
    assert policy.site_wide_tsr().compliance == (
        "https://www.w3.org/TR/2019/NOTE-tracking-compliance-20190122/",
    )
    assert policy.is_tracking_cookie("ad_campaign")
    assert policy.gpc_json() == b'{"gpc": true, "lastUpdate": "2025-04-15"}'
    assert policy.dnt_policy_text() is None
    assert policy.qualifiers is None


def test_docs_show_the_example_file_verbatim() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert EXAMPLE.read_text() in blocks


def test_docs_list_every_setting() -> None:
    text = DOCS.read_text()
    names = [f.name for f in dataclasses.fields(SitePolicy) if f.init]
    missing = [n for n in names if f"| `{n.replace('_', '-')}` |" not in text]
    assert missing == []


def test_docs_validation_example_is_what_loading_says(tmp_path: Path) -> None:
    text = DOCS.read_text()
    bad = re.search(r"For example, this file:\n\n```toml\n(.*?)```", text, flags=re.DOTALL)
    message = re.search(r"```text\nsite\.toml: (.*?)\n```", text, flags=re.DOTALL)
    assert bad is not None
    assert message is not None
    path = tmp_path / "site.toml"
    path.write_text(bad[1])
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_toml(path)
    assert str(info.value) == f"{path}: {message[1]}"


# -- Properties ----------------------------------------------------------------

FIELDS = [f.name for f in dataclasses.fields(SitePolicy) if f.init and f.name != "dnt_policy_file"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**7)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["?", "N", "T", "C", "P", "x", "U", "G", "/p", "exception > do-not-track > allow"]
    )
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["order", "default", "x"]), children, max_size=2)
    ),
    max_leaves=6,
)
keys = st.sampled_from(FIELDS + [f.replace("_", "-") for f in FIELDS] + ["bogus"])


@given(st.dictionaries(keys, values, max_size=6))
def test_property_from_mapping_raises_only_validation_error(data: dict[str, object]) -> None:
    try:
        policy = SitePolicy.from_mapping(data, source="p.toml")
    except ValidationError as exc:
        error: ValidationError | None = exc
    else:
        error = None
    if error is not None:
        assert error.problems
        assert error.source == "p.toml"
        return
    # A policy that loads yields declarations that read back as valid.
    assert parse_tsr(policy.site_wide_tsr().to_json()) == policy.site_wide_tsr()
    for status_id in STATUS_IDS.values():
        tsr = policy.request_tsr(status_id)
        if tsr is not None:
            assert parse_tsr(tsr.to_json(), request_specific=True) == tsr
            assert policy.tk_for(tsr.tracking).status_id == status_id
    body = policy.gpc_json()
    if body is not None:
        assert parse_gpc_json(body, "application/json").gpc is policy.gpc
    json.dumps(policy.site_wide_tsr().to_dict())


def test_from_toml_reads_regular_files_only(tmp_path: Path) -> None:
    fifo = tmp_path / "site.toml"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(ValidationError) as info:
        SitePolicy.from_toml(fifo)
    assert "not a regular file" in str(info.value)
