from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.mail.endpoints import EndpointKind, PathPattern, default_table, load_table
from trackpref.mail.urls import split_url
from trackpref.signals.errors import ValidationError

OPEN = EndpointKind.OPEN
CLICK = EndpointKind.CLICK


def _match(kind: EndpointKind, url: str, token: bool = True) -> str | None:
    parts = split_url(url)
    assert parts is not None
    found = default_table().match(kind, parts.host, parts.segments, parts.query_keys, lambda: token)
    return found.service if found else None


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://zeit.us12.list-manage.com/track/open.php?u=1&id=2&e=3", "Mailchimp"),
        ("https://u123.ct.sendgrid.net/wf/open?upn=abc", "SendGrid"),
        ("https://url1234.shop.example/wf/open?upn=abc", "SendGrid"),
        ("https://mandrillapp.com/track/open.php?u=1&id=2", "Mandrill"),
        ("https://pub.substack.com/o/abcdef", "Substack"),
        ("https://mailtrack.io/trace/mail/0123abcd.png", "Mailtrack"),
        ("https://t.hubspotemail.net/e2t/o/abc/def", "HubSpot"),
        ("https://abcde.r.bh.d.sendibt3.com/tr/op/xyz", "Brevo"),
        ("https://track.customer.io/e/o/eyJ", "Customer.io"),
        ("https://email.mg.shop.example/o/eJxLtDK0qs60MrAutgIAGXEDnQ", "Mailgun"),
        ("https://x.r.us-east-1.awstrack.me/I0/abc/def", "Amazon SES"),
        ("https://github.com/notifications/beacon/abc.gif", "GitHub"),
    ],
)
def test_known_open_endpoints(url: str, service: str) -> None:
    assert _match(OPEN, url) == service


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://brand.us5.list-manage.com/track/click?u=1&id=2&e=3", "Mailchimp"),
        ("https://url9.shop.example/ls/click?upn=abc", "SendGrid"),
        ("https://x.na1.hubspotlinks.com/Ctc/5E+113/abc/def", "HubSpot"),
        ("https://www.google.com/url?q=https://shop.example/", "Google"),
        (
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fx.example",
            "Microsoft Defender Safe Links",
        ),
        ("https://r20.rs6.net/tn.jsp?f=abc", "Constant Contact"),
    ],
)
def test_known_click_endpoints(url: str, service: str) -> None:
    assert _match(CLICK, url) == service


def test_lookalikes_and_other_paths_do_not_match() -> None:
    assert _match(OPEN, "https://list-manage.com.evil.example/track/open.php?u=1") is None
    assert _match(OPEN, "https://notlist-manage.com/track/open.php?u=1") is None
    assert _match(CLICK, "https://brand.us5.list-manage.com/unsubscribe?u=1&id=2&e=3") is None
    assert _match(OPEN, "https://mcusercontent.com/abc/images/x.png") is None
    # an open endpoint is not a click endpoint and the other way round
    assert _match(CLICK, "https://u1.ct.sendgrid.net/wf/open?upn=abc") is None


def test_branded_rules_need_their_query_keys_or_a_token() -> None:
    assert _match(OPEN, "https://links.shop.example/wf/open") is None
    assert _match(OPEN, "https://email.shop.example/o/eJabc", token=False) is None
    assert _match(OPEN, "https://email.shop.example/o/eJabc", token=True) == "Mailgun"


def test_path_patterns() -> None:
    assert PathPattern.parse("/o/*").matches(["o", "x"])
    assert not PathPattern.parse("/o/*").matches(["o"])
    assert PathPattern.parse("/").matches([])
    assert PathPattern.parse("/a/**").matches(["a"])
    assert PathPattern.parse("/o/eJ*").matches(["O", "eJxyz"])
    assert not PathPattern.parse("/o/eJ*").matches(["o", "xyz"])
    assert PathPattern.parse("/track/click").matches(["track", "click", "30", "x"])


def test_table_helpers() -> None:
    table = default_table()
    assert table.generic_open_path(["o", "abc"]) == "/o/*"
    assert table.generic_open_path(["products", "x"]) is None
    assert table.is_url_carrier("www.facebook.com", ["sharer", "sharer.php"])
    assert table.is_url_carrier("calendar.google.com", ["calendar", "render"])
    assert not table.is_url_carrier("www.facebook.com", ["somepage"])
    assert table.tracking_params["mc_eid"] == "Mailchimp"
    assert "click" in table.tracking_host_labels


def test_a_broken_table_names_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        load_table(
            {
                "services": [
                    {"name": "X"},
                    {"hosts": ["a.example"]},
                    {"name": "Y", "hosts": ["b"], "open": ["noslash"]},
                ],
                "branded": [{"name": "Z", "open": [{"path": "/wf/open"}]}],
                "tracking_params": ["not", "a", "map"],
            },
            source="my-table.json",
        )
    error = info.value
    fields = [field for field, _ in error.problems]
    assert fields == [
        "services[0].hosts",
        "services[1]",
        "services[2].open",
        "branded[0].open[0]",
        "tracking_params",
    ]
    assert str(error).startswith("my-table.json: ")


@given(
    st.text(max_size=60),
    st.lists(st.text(max_size=12), max_size=5),
    st.frozensets(st.text(max_size=5), max_size=3),
)
def test_match_never_raises(host: str, segments: list[str], keys: frozenset[str]) -> None:
    table = default_table()
    for kind in EndpointKind:
        table.match(kind, host, segments, keys, lambda: True)
    table.generic_open_path(segments)
    table.is_url_carrier(host, segments)
