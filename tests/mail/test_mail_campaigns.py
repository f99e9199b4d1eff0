"""Copies of one campaign: a URL component that changes per recipient is a token."""

from __future__ import annotations

from mail_helpers import newsletter, urls

from trackpref.mail import RawMessage, scan_messages
from trackpref.mail.campaigns import campaign_key, skeleton
from trackpref.mail.urls import split_url


def _copy(
    recipient: str, token: str, link_token: str, *, date: str, product: str = "socks"
) -> bytes:
    html = (
        f'<img src="https://mx.shop.example/v/{token}" alt="">'  # no size, no known service
        '<img src="https://static.shop.example/logo.png" width="180" height="40">'
        f'<img src="https://cdn.shop.example/products/{product}.jpg" width="280" height="280">'
        f'<a href="https://go.shop.example/r/{link_token}">Sale</a>'
        f'<a href="https://shop.example/email/unsubscribe?t={link_token}">Unsubscribe</a>'
    )
    return newsletter(html, to=recipient, date=date, message_id=f"<{token}@shop.example>")


DAY = "Wed, 01 May 2024 09:00:00 +0000"


def test_tokens_that_differ_between_copies_are_per_recipient() -> None:
    copies = [
        _copy("alice@example.org", "Qm9aX3kLp0", "a1B2c3D4e5", date=DAY, product="socks"),
        _copy("bob@example.org", "Zt7uW2yHq4", "f6G7h8I9j0", date=DAY, product="mug"),
    ]
    reports = scan_messages([RawMessage(f"{i}.eml", None, raw) for i, raw in enumerate(copies)])
    for report, token, link in zip(
        reports, ("Qm9aX3kLp0", "Zt7uW2yHq4"), ("a1B2c3D4e5", "f6G7h8I9j0"), strict=True
    ):
        assert urls(report, "pixel") == {f"https://mx.shop.example/v/{token}"}
        # the /r/ redirect is counted; the unsubscribe link must carry the token to work
        assert urls(report, "click") == {f"https://go.shop.example/r/{link}"}
        assert all("differs between 2 copies" in t.reason for t in report.trackers)


def test_one_copy_alone_reveals_nothing() -> None:
    [report] = scan_messages(
        [
            RawMessage(
                "a.eml", None, _copy("alice@example.org", "Qm9aX3kLp0", "a1B2c3D4e5", date=DAY)
            )
        ]
    )
    assert report.trackers == ()


def test_the_same_subject_on_another_day_is_another_campaign() -> None:
    copies = [
        _copy("alice@example.org", "Qm9aX3kLp0", "a1B2c3D4e5", date=DAY),
        _copy(
            "alice@example.org", "Zt7uW2yHq4", "f6G7h8I9j0", date="Wed, 08 May 2024 09:00:00 +0000"
        ),
    ]
    reports = scan_messages([RawMessage(f"{i}.eml", None, raw) for i, raw in enumerate(copies)])
    assert all(r.trackers == () for r in reports)


def test_keys_and_skeletons() -> None:
    assert campaign_key(None, "x", None, None) is None
    assert campaign_key("A@Shop.example", "  Big   Sale ", None, "2024-05-01") == (
        "a@shop.example",
        "big sale",
        "",
        "2024-05-01",
    )
    parts = split_url("https://t.example/o/a1B2c3D4e5/open.gif?u=3c9e9e13&id=campaign&v=2")
    assert parts is not None
    assert skeleton(parts) == ("t.example", "/o", "/*", "/open.gif", "?id=campaign", "?u=*", "?v=2")
    plain = split_url("https://shop.example/products/wool-socks.jpg")
    assert plain is not None
    assert skeleton(plain) is None
