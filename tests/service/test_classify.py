"""Coarse dimensions from headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.service.classify import (
    DEVICES,
    device_of,
    referrer_domain,
    region_of,
    signal_class,
)

FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
)
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/130.0 Safari/537.36"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (FIREFOX_WIN, ("desktop", "windows")),
        (SAFARI_IPHONE, ("mobile", "ios")),
        (CHROME_ANDROID, ("mobile", "android")),
        (ANDROID_TABLET, ("tablet", "android")),
        (HEADLESS, ("bot", "linux")),
        ("curl/8.5.0", ("bot", "other")),
        (None, ("other", "other")),
        ("", ("other", "other")),
    ],
)
def test_device_and_os(ua: str | None, expected: tuple[str, str]) -> None:
    assert device_of(ua) == expected


@pytest.mark.parametrize(
    ("header", "region"),
    [
        ("en-US,en;q=0.9", "US"),
        ("fr-CA,fr;q=0.9,en-GB;q=0.8", "CA"),
        ("de;q=1.0,de-AT;q=0.5,en-GB;q=0.7", "GB"),
        ("zh-Hant-TW", "TW"),
        ("en", "(none)"),
        ("", "(none)"),
        (None, "(none)"),
        ("en-US;q=bad,fr-FR;q=0.1", "FR"),
    ],
)
def test_region_is_the_country_of_the_preferred_language(header: str | None, region: str) -> None:
    assert region_of(header) == region


def test_referrers_are_reduced_to_registrable_domains() -> None:
    assert referrer_domain("www.news.bbc.co.uk", "news.example") == "bbc.co.uk"
    assert referrer_domain("a.news.example", "www.news.example") == "(internal)"
    assert referrer_domain(None, "news.example") == "(direct)"


def test_signal_classes_are_exclusive_gpc_first() -> None:
    assert signal_class("1", True) == "gpc"
    assert signal_class("1", False) == "dnt1"
    assert signal_class("0", False) == "dnt0"
    assert signal_class(None, False) == "unset"


@given(st.text(max_size=300))
def test_any_user_agent_gives_known_classes(ua: str) -> None:
    device, os_family = device_of(ua)
    assert device in DEVICES
    assert os_family in ("android", "ios", "windows", "chromeos", "macos", "linux", "other")


@given(st.text(max_size=600))
def test_any_accept_language_gives_a_short_region(header: str) -> None:
    region = region_of(header)
    assert region == "(none)" or (len(region) == 2 and region.isupper())
