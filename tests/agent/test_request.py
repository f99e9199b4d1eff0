from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.request import RequestInfo, describe_request, resource_type


def describe(
    *,
    sec_fetch_site: str | None = None,
    sec_fetch_mode: str | None = None,
    sec_fetch_dest: str | None = None,
    origin: str | None = None,
    referer: str | None = None,
    accept: str | None = None,
) -> RequestInfo:
    info = describe_request(
        method="get",
        scheme="HTTPS",
        host="Cdn.Tracker.Example",
        port=443,
        path="/p?x=1",
        sec_fetch_site=sec_fetch_site,
        sec_fetch_mode=sec_fetch_mode,
        sec_fetch_dest=sec_fetch_dest,
        origin=origin,
        referer=referer,
        accept=accept,
    )
    assert info is not None
    return info


def test_a_top_level_navigation_is_on_its_own_site() -> None:
    info = describe(
        sec_fetch_site="cross-site",
        sec_fetch_mode="navigate",
        sec_fetch_dest="document",
        referer="https://search.example/?q=secret",
    )
    assert info.site == "cdn.tracker.example"
    assert info.navigation
    assert info.from_browser
    assert info.resource_type == "main_frame"
    assert info.method == "GET"
    assert info.scheme == "https"
    assert describe(sec_fetch_site="none").site == "cdn.tracker.example"


def test_origin_then_referer_name_the_site() -> None:
    assert (
        describe(origin="https://news.example", referer="https://other.example/").site
        == "news.example"
    )
    assert describe(origin="null", referer="https://www.news.example/a").site == "www.news.example"
    info = describe(
        sec_fetch_site="cross-site",
        sec_fetch_mode="no-cors",
        sec_fetch_dest="image",
        referer="https://news.example/",
    )
    assert info.site == "news.example"
    assert info.resource_type == "image"
    assert not info.navigation


def test_fetch_metadata_without_an_initiator() -> None:
    assert (
        describe(sec_fetch_site="same-site", sec_fetch_dest="script").site == "cdn.tracker.example"
    )
    assert describe(sec_fetch_site="cross-site", sec_fetch_dest="script").site is None


def test_a_direct_request_is_its_own_site_and_a_navigation() -> None:
    info = describe()
    assert info.site == "cdn.tracker.example"
    assert info.navigation
    assert not info.from_browser
    assert not describe(accept="image/webp,*/*").navigation


def test_url_and_origin_elide_default_ports() -> None:
    info = describe()
    assert info.url == "https://cdn.tracker.example/p?x=1"
    other = describe_request(method="GET", scheme="http", host="::1", port=8080, path="/")
    assert other is not None
    assert other.origin == "http://[::1]:8080"


@pytest.mark.parametrize(
    ("dest", "accept", "expected"),
    [
        ("iframe", None, "sub_frame"),
        ("style", None, "stylesheet"),
        ("empty", None, "xmlhttprequest"),
        ("weird", None, "other"),
        (None, "text/html,application/xhtml+xml", "main_frame"),
        (None, "text/css", "stylesheet"),
        (None, "application/javascript", "script"),
        (None, None, "other"),
    ],
)
def test_resource_types(dest: str | None, accept: str | None, expected: str) -> None:
    assert resource_type(dest, accept) == expected


def test_a_host_that_is_not_one_gives_no_description() -> None:
    assert describe_request(method="GET", scheme="http", host="bad host", port=80, path="/") is None


header = st.none() | st.text(max_size=40)


@given(header, header, header, header, header, header)
def test_never_raises_on_any_header_values(
    site: str | None,
    mode: str | None,
    dest: str | None,
    origin: str | None,
    referer: str | None,
    accept: str | None,
) -> None:
    info = describe_request(
        method="GET",
        scheme="https",
        host="a.example",
        port=443,
        path="/",
        sec_fetch_site=site,
        sec_fetch_mode=mode,
        sec_fetch_dest=dest,
        origin=origin,
        referer=referer,
        accept=accept,
    )
    assert info is not None
    assert info.site is None or info.site == info.site.lower()
