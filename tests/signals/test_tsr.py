"""The Tracking Status Resource: parsing, building and checking fetched responses.

Named after the conformance checklist in ``specs.md`` §7 (items 25–37).
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.signals.errors import ValidationError
from trackpref.signals.tracking_status import is_tsv_extension
from trackpref.signals.tsr import (
    MAX_JSON_DEPTH,
    MAX_TSR_BYTES,
    MEMBER_NAMES,
    SITE_WIDE_TSR_PATH,
    TSR_MEDIA_TYPE,
    TrackingStatusResource,
    check_tsr_redirect,
    check_tsr_response,
    effective_tracking,
    parse_tsr,
)

NOTE_MINIMAL = '{"tracking": "N"}'
NOTE_FULL = """{"tracking": "T", "compliance": ["https://acme.example.org/tracking101"],
 "qualifiers": "afc", "controller": ["https://www.example.com/privacy"],
 "same-party": ["example.com", "example_vids.net", "example_stats.com"],
 "audit": ["http://auditor.example.org/727073"], "policy": "/privacy.html#tracking",
 "config": "http://example.com/your/data"}"""

GOOD_HEADERS = [("Content-Type", TSR_MEDIA_TYPE), ("Cache-Control", "max-age=86400")]


def problems_of(body: str | bytes, *, request_specific: bool = False) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        parse_tsr(body, request_specific=request_specific)
    out: dict[str, list[str]] = {}
    for name, message in info.value.problems:
        out.setdefault(name, []).append(message)
    return out


# -- The Note's test vectors ---------------------------------------------------


def test_note_minimal_example_parses_and_serializes_identically() -> None:
    tsr = parse_tsr(NOTE_MINIMAL)
    assert tsr == TrackingStatusResource(tracking="N")
    assert tsr.to_json() == NOTE_MINIMAL
    assert tsr.compliance is None
    assert tsr.extra == {}


def test_note_full_example_keeps_every_member() -> None:
    tsr = parse_tsr(NOTE_FULL.encode())
    assert tsr.tracking == "T"
    assert tsr.compliance == ("https://acme.example.org/tracking101",)
    assert tsr.qualifiers == "afc"
    assert tsr.controller == ("https://www.example.com/privacy",)
    assert tsr.same_party == ("example.com", "example_vids.net", "example_stats.com")
    assert tsr.audit == ("http://auditor.example.org/727073",)
    assert tsr.policy == "/privacy.html#tracking"
    assert tsr.config == "http://example.com/your/data"
    assert tsr.to_dict() == json.loads(NOTE_FULL)
    assert list(tsr.to_dict()) == list(json.loads(NOTE_FULL))  # TPE's member order
    assert parse_tsr(tsr.to_json()) == tsr


def test_to_json_is_ascii_so_encoding_never_fails() -> None:
    tsr = TrackingStatusResource(
        tracking="N", same_party=("bücher.example",), extra={"x": "\ud800"}
    )
    text = tsr.to_json()
    assert text.isascii()
    assert parse_tsr(text.encode()) == tsr


# -- 25: a 2xx response with one JSON object -----------------------------------


def test_checklist_25_valid_site_wide_response_passes() -> None:
    check = check_tsr_response(200, GOOD_HEADERS, NOTE_FULL.encode())
    assert check.valid, check.problems
    assert check.problems == ()
    assert check.tsr is not None
    assert check.tsr.tracking == "T"
    assert SITE_WIDE_TSR_PATH == "/.well-known/dnt/"


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_checklist_25_error_status_means_tpe_not_implemented(status: int) -> None:
    check = check_tsr_response(status, GOOD_HEADERS, NOTE_MINIMAL.encode())
    assert not check.valid
    assert check.tsr is None  # an error page is not a representation
    assert any("does not implement TPE" in p for p in check.problems)


def test_checklist_25_redirect_is_followed_not_taken_as_the_resource() -> None:
    check = check_tsr_response(301, [("Location", "https://other.example/dnt/")], b"")
    assert not check.valid
    assert check.tsr is None
    assert any("follow it" in p for p in check.problems)


def test_checklist_25_redirect_hop_needs_a_target() -> None:
    assert check_tsr_redirect(302, [("Location", "/.well-known/dnt/")]) == ()
    (problem,) = check_tsr_redirect(307, [])
    assert problem.startswith("Location:")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", "not an array"),
        (b'"N"', "not a string"),
        (b"null", "not null"),
        (b"{}{}", "not JSON"),
        (b"{'tracking': 'N'}", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_checklist_25_body_must_be_one_json_object(body: bytes, expected: str) -> None:
    problems = problems_of(body)
    assert list(problems) == ["body"]
    assert expected in problems["body"][0]


def test_checklist_25_body_larger_than_the_cap_is_refused() -> None:
    padding = "x" * MAX_TSR_BYTES
    problems = problems_of(json.dumps({"tracking": "N", "pad": padding}))
    assert "more than" in problems["body"][0]


def test_checklist_25_a_byte_order_mark_is_ignored() -> None:
    assert parse_tsr(b"\xef\xbb\xbf" + NOTE_MINIMAL.encode()).tracking == "N"


@pytest.mark.parametrize(
    "body",
    [
        '{"tracking": "N", "x": NaN}',
        '{"tracking": "N", "x": -Infinity}',
        '{"tracking": "N", "x": 1e999}',
        '{"tracking": "N", "x": ' + "9" * 5000 + "}",
        '{"tracking": "N", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"tracking": "N", "x": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}",
    ],
)
def test_checklist_25_json_no_strict_reader_accepts_is_refused(body: str) -> None:
    assert list(problems_of(body)) == ["body"]


def test_checklist_25_a_member_given_twice_is_a_problem() -> None:
    problems = problems_of('{"tracking": "N", "tracking": "T"}')
    assert "more than once" in problems["tracking"][0]


# -- 26: media type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], "missing"),
        ([("Content-Type", "application/json")], "is not application/tracking-status+json"),
        ([("Content-Type", f"{TSR_MEDIA_TYPE}; charset=utf-8")], "takes no parameters"),
        ([("Content-Type", TSR_MEDIA_TYPE), ("content-type", TSR_MEDIA_TYPE)], "sent 2 times"),
    ],
)
def test_checklist_26_media_type_is_exact(headers: list[tuple[str, str]], expected: str) -> None:
    check = check_tsr_response(200, headers, NOTE_MINIMAL.encode())
    assert not check.valid
    assert check.tsr is not None  # the claim is still readable for the auditor
    (problem,) = check.problems
    assert problem.startswith("Content-Type:")
    assert expected in problem


def test_checklist_26_media_type_names_are_case_insensitive() -> None:
    check = check_tsr_response(200, [("CONTENT-TYPE", "Application/Tracking-Status+JSON")], b"{}")
    assert not any(p.startswith("Content-Type") for p in check.problems)


# -- 27: tracking present, a string, a TSV -------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{}", "missing"),
        ('{"tracking": 1}', "not a number"),
        ('{"tracking": null}', "not null"),
        ('{"tracking": ["N"]}', "not an array"),
        ('{"tracking": ""}', "not a tracking status value"),
        ('{"tracking": "NT"}', "not a tracking status value"),
        ('{"tracking": " "}', "not a tracking status value"),
        ('{"tracking": "\\""}', "not a tracking status value"),
    ],
)
def test_checklist_27_tracking_is_present_a_string_and_a_tsv(body: str, expected: str) -> None:
    problems = problems_of(body)
    assert list(problems) == ["tracking"]
    assert expected in problems["tracking"][0]


@pytest.mark.parametrize("status", ["!", "?", "G", "N", "T", "D"])
def test_checklist_27_every_defined_site_wide_status_is_accepted(status: str) -> None:
    assert parse_tsr(json.dumps({"tracking": status})).tracking == status


# -- 28: ? and G only site-wide, U never ---------------------------------------


@pytest.mark.parametrize("status", ["?", "G"])
def test_checklist_28_request_specific_never_dynamic_or_gateway(status: str) -> None:
    body = json.dumps({"tracking": status})
    assert parse_tsr(body).tracking == status  # fine at /.well-known/dnt/
    problems = problems_of(body, request_specific=True)
    assert "only allowed in the site-wide TSR" in problems["tracking"][0]
    check = check_tsr_response(200, GOOD_HEADERS, body.encode(), request_specific=True)
    assert not check.valid
    assert check.tsr is None


@pytest.mark.parametrize("request_specific", [False, True])
def test_checklist_28_no_tsr_ever_has_updated(request_specific: bool) -> None:
    problems = problems_of('{"tracking": "U"}', request_specific=request_specific)
    assert "Tk header" in problems["tracking"][0]
    with pytest.raises(ValidationError):
        TrackingStatusResource(tracking="U")


@pytest.mark.parametrize("status", ["N", "T", "D", "!"])
def test_checklist_28_request_specific_actual_statuses_are_accepted(status: str) -> None:
    assert parse_tsr(json.dumps({"tracking": status}), request_specific=True).tracking == status


# -- 29: C and P need config ---------------------------------------------------


@pytest.mark.parametrize("status", ["C", "P"])
def test_checklist_29_consent_statuses_need_config(status: str) -> None:
    problems = problems_of(json.dumps({"tracking": status}))
    assert list(problems) == ["config"]
    assert "consent" in problems["config"][0]
    with pytest.raises(ValidationError):
        TrackingStatusResource(tracking=status)
    tsr = parse_tsr(json.dumps({"tracking": status, "config": "/consent"}))
    assert tsr.config == "/consent"


def test_checklist_29_config_of_the_wrong_type_is_reported_once() -> None:
    problems = problems_of('{"tracking": "C", "config": 7}')
    assert problems == {"config": ["must be a string, not a number"]}


# -- 30: extensions need compliance --------------------------------------------


def test_checklist_30_extension_status_needs_compliance() -> None:
    problems = problems_of('{"tracking": "x"}')
    assert list(problems) == ["compliance"]
    assert "'x'" in problems["compliance"][0]
    assert "compliance" in problems_of('{"tracking": "x", "compliance": []}')
    tsr = parse_tsr('{"tracking": "x", "compliance": ["https://regime.example/"]}')
    assert tsr.tracking == "x"


def test_checklist_30_extension_member_needs_compliance() -> None:
    body = b'{"tracking": "N", "retention-days": 10}'
    check = check_tsr_response(200, GOOD_HEADERS, body)
    assert not check.valid
    assert check.tsr is not None
    assert check.tsr.extra == {"retention-days": 10}
    assert any(p.startswith("compliance:") and "retention-days" in p for p in check.problems)
    with_regime = b'{"tracking": "N", "compliance": ["https://r.example/"], "retention-days": 10}'
    assert check_tsr_response(200, GOOD_HEADERS, with_regime).valid


# -- 31: controller ------------------------------------------------------------


def test_checklist_31_absent_controller_reads_as_domain_owner() -> None:
    assert parse_tsr(NOTE_MINIMAL).effective_controller == ("/",)
    joint = parse_tsr(
        '{"tracking": "T", "controller": ["https://a.example/", "https://b.example/"]}'
    )
    assert joint.effective_controller == ("https://a.example/", "https://b.example/")


# -- 33: member types; unknown members ignored ---------------------------------


def test_checklist_33_member_types_every_problem_listed_at_once() -> None:
    body = json.dumps(
        {
            "tracking": "T",
            "compliance": "https://one.example/",
            "controller": [1],
            "same-party": {"a": 1},
            "audit": ["ok", None, False],
            "policy": ["/privacy"],
            "config": True,
            "qualifiers": 3,
        }
    )
    problems = problems_of(body)
    assert set(problems) == {
        "compliance",
        "controller",
        "same-party",
        "audit",
        "policy",
        "config",
        "qualifiers",
    }
    assert "array of strings" in problems["compliance"][0]
    assert "[1] is null" in problems["audit"][0]
    assert "[2] is a boolean" in problems["audit"][0]
    assert "must be a string" in problems["policy"][0]


def test_checklist_33_validation_error_names_members_in_its_message() -> None:
    with pytest.raises(ValidationError) as info:
        parse_tsr('{"tracking": "C", "audit": "x"}')
    text = str(info.value)
    assert "config:" in text
    assert "audit:" in text
    assert info.value.field == "audit"  # problems come in member order


def test_checklist_33_unknown_members_are_kept_read_only_and_ignored() -> None:
    tsr = parse_tsr('{"tracking": "N", "edit": "/e", "nested": {"list": [1, {"a": null}]}}')
    assert tsr.extra == {"edit": "/e", "nested": {"list": (1, {"a": None})}}
    with pytest.raises(TypeError):
        tsr.extra["edit"] = "x"  # type: ignore[index]
    assert tsr.to_dict()["nested"] == {"list": [1, {"a": None}]}
    assert parse_tsr(tsr.to_json()) == tsr
    assert hash(tsr) == hash(parse_tsr(tsr.to_json()))


# -- 34: no cookies ------------------------------------------------------------


@pytest.mark.parametrize("name", ["Set-Cookie", "set-cookie2"])
def test_checklist_34_no_set_cookie_on_tsr_or_redirect(name: str) -> None:
    check = check_tsr_response(200, [*GOOD_HEADERS, (name, "id=1")], NOTE_MINIMAL.encode())
    assert not check.valid
    assert check.problems == (
        f"{name}: a TSR response, redirects included, must not set cookies (TPE §6.4.2)",
    )
    (problem,) = check_tsr_redirect(302, [("Location", "/x"), (name, "id=1")])
    assert problem.startswith(name)


# -- 35: caching ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [("Vary", "DNT")],
        [("Vary", "Accept-Encoding, dnt")],
        [("Vary", "Accept"), ("Vary", "DNT")],
        [("Vary", "*")],
        [("Cache-Control", "private")],
        [("Cache-Control", "public, no-cache")],
        [("Cache-Control", "no-store")],
        [("Cache-Control", "max-age=0")],
        [("Cache-Control", 'max-age="0"')],
        [("Cache-Control", "max-age=00")],  # delta-seconds: any number of digits
        [("Cache-Control", "max-age=" + "0" * 5000)],
    ],
)
def test_checklist_35_dnt_dependent_tsr_is_not_shared_wrongly(
    headers: list[tuple[str, str]],
) -> None:
    all_headers = [("Content-Type", TSR_MEDIA_TYPE), *headers]
    check = check_tsr_response(200, all_headers, NOTE_MINIMAL.encode(), depends_on_dnt=True)
    assert check.valid, check.problems


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Cache-Control", "public, max-age=60")],
        [("Vary", "Accept-Encoding")],
        [("Cache-Control", 'no-cache="Set-Cookie"')],  # qualified: other fields still cached
        [("Cache-Control", "max-age=00x")],
        [("Cache-Control", "max-age=\u00b2")],  # a digit to str.isdigit(), not to RFC 9111
        [("Cache-Control", "max-age=" + "9" * 5000)],  # more digits than int() reads
        [("Cache-Control", "max-age=")],
    ],
)
def test_checklist_35_dnt_dependent_tsr_without_vary_or_no_cache_fails(
    headers: list[tuple[str, str]],
) -> None:
    all_headers = [("Content-Type", TSR_MEDIA_TYPE), *headers]
    check = check_tsr_response(200, all_headers, NOTE_MINIMAL.encode(), depends_on_dnt=True)
    assert not check.valid
    (problem,) = check.problems
    assert "Vary" in problem
    # Unknown dependence: the rule cannot be judged from one response.
    assert check_tsr_response(200, all_headers, NOTE_MINIMAL.encode()).valid


def test_checklist_35_per_user_tsr_needs_private_or_no_cache_or_no_store() -> None:
    vary_only = [("Content-Type", TSR_MEDIA_TYPE), ("Vary", "DNT")]
    check = check_tsr_response(200, vary_only, NOTE_MINIMAL.encode(), per_user=True)
    assert not check.valid
    assert "per-user" in check.problems[0]
    private = [("Content-Type", TSR_MEDIA_TYPE), ("Cache-Control", "private, max-age=60")]
    assert check_tsr_response(200, private, NOTE_MINIMAL.encode(), per_user=True).valid


# -- 36: unknown extensions read as P ------------------------------------------


@pytest.mark.parametrize("status", ["x", "A", "0", "_", "#"])
def test_checklist_36_unknown_extension_is_read_as_potential_consent(status: str) -> None:
    tsr = TrackingStatusResource(tracking=status, compliance=("https://regime.example/",))
    assert effective_tracking(tsr) == "P"
    assert tsr.effective_tracking == "P"


@pytest.mark.parametrize("status", ["!", "?", "G", "N", "T", "D"])
def test_checklist_36_defined_statuses_read_as_themselves(status: str) -> None:
    assert effective_tracking(TrackingStatusResource(tracking=status)) == status


# -- Building in Python --------------------------------------------------------


def test_constructor_freezes_lists_into_tuples() -> None:
    tsr = TrackingStatusResource(tracking="T", audit=["https://a.example/"])  # type: ignore[arg-type]
    assert tsr.audit == ("https://a.example/",)
    assert hash(tsr)


@pytest.mark.parametrize(
    "extra",
    [
        {"tracking": "N"},
        {"same-party": ["a.example"]},
        {"x": float("nan")},
        {"x": object()},
        {"x": {1: "non-string key"}},
    ],
)
def test_constructor_refuses_extra_members_that_are_not_extension_json(
    extra: dict[object, object],
) -> None:
    with pytest.raises(ValidationError) as info:
        TrackingStatusResource(tracking="N", extra=extra)  # type: ignore[arg-type]
    assert info.value.field == "extra"


def test_resources_survive_pickle_and_deepcopy() -> None:
    tsr = parse_tsr(b'{"tracking": "N", "ext": {"a": [1, {"b": null}]}}')
    for clone in (pickle.loads(pickle.dumps(tsr)), copy.deepcopy(tsr)):
        assert clone == tsr
        assert clone.extra == {"ext": {"a": (1, {"b": None})}}
        assert clone.to_json() == tsr.to_json()


# -- Properties ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
extension_statuses = st.sampled_from(
    [c for c in string.printable if len(c) == 1 and is_tsv_extension(c)]
)
texts = st.text(max_size=30)
#: What TPE's URI members may hold: RFC 3986's characters, relative references included.
uris = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%",
    min_size=1,
    max_size=30,
)
uri_arrays = st.none() | st.lists(uris, max_size=3).map(tuple)
domains = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z][a-z0-9]{0,8}){0,2}", fullmatch=True)
domain_arrays = st.none() | st.lists(domains, max_size=3).map(tuple)


@st.composite
def valid_tsrs(draw: st.DrawFn) -> TrackingStatusResource:
    tracking = draw(st.sampled_from(["!", "?", "G", "N", "T", "C", "P", "D"]) | extension_statuses)
    compliance = draw(uri_arrays)
    if is_tsv_extension(tracking) and not compliance:
        compliance = (draw(uris),)
    config = draw(st.none() | uris)
    if tracking in ("C", "P") and config is None:
        config = draw(uris)
    extra = draw(
        st.dictionaries(
            st.text(max_size=10).filter(lambda k: k not in MEMBER_NAMES), json_values, max_size=3
        )
    )
    return TrackingStatusResource(
        tracking=tracking,
        compliance=compliance,
        qualifiers=draw(st.none() | texts),
        controller=draw(uri_arrays),
        same_party=draw(domain_arrays),
        audit=draw(uri_arrays),
        policy=draw(st.none() | uris),
        config=config,
        extra=extra,
    )


@given(valid_tsrs())
def test_property_parse_inverts_to_json(tsr: TrackingStatusResource) -> None:
    assert parse_tsr(tsr.to_json()) == tsr
    assert parse_tsr(tsr.to_json().encode()) == tsr


@pytest.mark.parametrize(
    ("member", "value", "needle"),
    [
        ("policy", "java script:alert(1)", "not allowed in a URI reference"),
        ("config", "", "empty"),
        ("controller", ["ht tp://x"], "[0]"),
        ("audit", ["https://ok.example/", "<x>"], "[1]"),
        ("same-party", ["not a domain!!"], "is not a domain"),
    ],
)
def test_uri_and_domain_members_must_be_what_tpe_says(
    member: str, value: object, needle: str
) -> None:
    body = json.dumps({"tracking": "N", member: value})
    with pytest.raises(ValidationError) as raised:
        parse_tsr(body)
    assert member in str(raised.value)
    assert needle in str(raised.value)
    ok = {"policy": "/privacy", "config": "/privacy#consent", "controller": ["https://c.example/"]}
    assert parse_tsr(json.dumps({"tracking": "N", **ok, "same-party": ["cdn.example"]}))


def attempt(body: str | bytes, specific: bool) -> TrackingStatusResource | ValidationError:
    """The parse result or the documented error; anything else propagates and fails."""
    try:
        return parse_tsr(body, request_specific=specific)
    except ValidationError as exc:
        return exc


@given(st.binary(max_size=300), st.booleans())
def test_property_arbitrary_bytes_raise_only_validation_error(body: bytes, specific: bool) -> None:
    result = attempt(body, specific)
    if isinstance(result, ValidationError):
        assert result.problems


@given(json_values, st.booleans())
def test_property_arbitrary_json_raises_only_validation_error(
    value: object, specific: bool
) -> None:
    result = attempt(json.dumps(value), specific)
    if isinstance(result, ValidationError):
        assert result.problems
    else:
        assert isinstance(value, dict)
        assert result.tracking == value["tracking"]


@given(
    st.dictionaries(
        st.sampled_from([*MEMBER_NAMES, "x"]),
        json_values | st.lists(st.text(max_size=3), max_size=3),
        max_size=9,
    ),
    st.booleans(),
)
def test_property_arbitrary_objects_raise_only_validation_error(
    members: dict[str, object], specific: bool
) -> None:
    result = attempt(json.dumps(members), specific)
    if isinstance(result, ValidationError):
        assert all(name in (*MEMBER_NAMES, "body") for name, _ in result.problems)
    else:
        assert result.to_dict() == members


@given(
    st.integers(min_value=100, max_value=599),
    st.lists(st.tuples(st.text(max_size=15), st.text(max_size=30)), max_size=5),
    st.binary(max_size=100),
    st.sampled_from([None, True, False]),
    st.booleans(),
)
def test_property_check_never_raises(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    depends: bool | None,
    per_user: bool,
) -> None:
    check = check_tsr_response(status, headers, body, depends_on_dnt=depends, per_user=per_user)
    assert check.valid == (not check.problems)
    if check.tsr is not None:
        assert 200 <= status < 300


def test_finite_floats_survive_the_round_trip() -> None:
    tsr = TrackingStatusResource(tracking="N", extra={"f": 1e308, "g": -0.0, "h": math.pi})
    assert parse_tsr(tsr.to_json()) == tsr
