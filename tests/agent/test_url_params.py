from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.url_params import DEFAULT_TRACKING_PARAMETERS, strip_tracking_parameters

P = frozenset({"gclid", "utm_source", "fbclid"})


def test_only_named_parameters_go_and_the_rest_is_kept_byte_for_byte() -> None:
    url = "https://shop.example/p?id=5&gclid=abc&q=a%20b&utm_source=mail&x=&y#top"
    assert strip_tracking_parameters(url, P) == "https://shop.example/p?id=5&q=a%20b&x=&y#top"


def test_unchanged_urls_are_returned_as_is() -> None:
    for url in ("https://a.example/", "https://a.example/?q=1", "https://a.example/#x?gclid=1"):
        assert strip_tracking_parameters(url, P) is url


def test_the_question_mark_goes_with_the_last_parameter() -> None:
    assert strip_tracking_parameters("/x?gclid=1&fbclid", P) == "/x"
    assert strip_tracking_parameters("/x?gclid=1#f", P) == "/x#f"


def test_percent_encoded_names_match_but_case_does_not() -> None:
    assert strip_tracking_parameters("/x?utm%5Fsource=a&b=1", P) == "/x?b=1"
    assert strip_tracking_parameters("/x?GCLID=a", P) == "/x?GCLID=a"


def test_the_default_list_holds_the_common_click_identifiers() -> None:
    assert {
        "gclid",
        "fbclid",
        "msclkid",
        "utm_source",
        "mc_eid",
        "_hsenc",
    } <= DEFAULT_TRACKING_PARAMETERS


names = st.sampled_from(["gclid", "utm_source", "fbclid", "q", "id", "GCLID", "gclid1"])
values = st.text(alphabet="abc123%=?/", max_size=6)


@given(st.lists(st.tuples(names, st.none() | values), max_size=8), st.sampled_from(["", "#frag"]))
def test_property_no_tracking_name_survives_and_others_keep_their_order(
    params: list[tuple[str, str | None]], fragment: str
) -> None:
    pieces = [n if v is None else f"{n}={v}" for n, v in params]
    url = "https://a.example/path" + ("?" + "&".join(pieces) if pieces else "") + fragment
    out = strip_tracking_parameters(url, P)
    kept = [p for p in pieces if p.split("=", 1)[0] not in P]
    expected = "https://a.example/path" + ("?" + "&".join(kept) if any(kept) else "") + fragment
    if kept == pieces:
        expected = url
    assert out == expected
    assert strip_tracking_parameters(out, P) == out
