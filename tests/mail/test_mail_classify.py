"""The detector's decisions, one case at a time (see docs/mail.md for the why)."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest

from trackpref.mail.classify import MessageContext, classify_image, classify_link
from trackpref.mail.endpoints import default_table
from trackpref.mail.html_scan import ImageTag
from trackpref.mail.report import TrackerKind
from trackpref.mail.tokens import recipient_forms

CTX = MessageContext(
    table=default_table(),
    recipients=recipient_forms(["alice@example.org"]),
    functional_urls=frozenset({"https://shop.example/list/leave?t=Zk3jd9Qx81LmPq2z"}),
)
MD5 = hashlib.md5(b"alice@example.org").hexdigest()
TOKEN = "Zk3jd9Qx81LmPq2zT7vB"


def img(
    src: str, width: float | None = None, height: float | None = None, hidden: str | None = None
) -> ImageTag:
    return ImageTag(src=src, width=width, height=height, hidden=hidden, alt="")


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (
            img("https://a.us1.list-manage.com/track/open.php?u=1&id=2&e=3", 1, 1),
            "known open endpoint of Mailchimp",
        ),
        (img("https://u1.ct.sendgrid.net/wf/open?upn=" + TOKEN), "known open endpoint of SendGrid"),
        (
            img(f"https://img.shop.example/hero.jpg?m={MD5}", 600, 300),
            "MD5 of the recipient's address",
        ),
        (img(f"https://news.shop.example/track/open/{TOKEN}.gif"), "open-tracking path"),
        (img("https://ads.example/imp?cb=1234", 1, 1), "open-tracking path /imp"),
        (img(f"https://t.shop.example/{TOKEN}/p.gif", 1, 1), "1×1 image with an opaque token"),
        (img("https://shop.example/pixel?c=1", 1, None), "open-tracking path /pixel"),
        (img("https://shop.example/e?c=campaign7", 0, 0), "0×0 image with a dynamic URL"),
        (
            img("https://shop.example/img?c=campaign7", hidden="display:none"),
            "hidden image (display:none) with a dynamic URL",
        ),
        (img(f"https://click.shop.example/i/{TOKEN}", 40, 40), "image from tracking host click"),
    ],
)
def test_pixels(image: ImageTag, why: str) -> None:
    tracker = classify_image(image, CTX)
    assert tracker is not None
    assert tracker.kind is TrackerKind.PIXEL
    assert why in tracker.reason


@pytest.mark.parametrize(
    "image",
    [
        # Decided: a 1x1 spacer from a static URL without a token is not a pixel.
        img("https://static.shop.example/email/spacer.gif", 1, 1),
        img("https://cdn.shopify.com/s/files/1/0001/t/3/assets/clear.gif?v=1699999999", 1, 2),
        img("https://static.shop.example/assets/spacer-5c0e1c8a9a2e4f60a1b2c3d4e5f60718.gif", 1, 1),
        # Decided: a hidden static image is a responsive variant, not a pixel.
        img(
            f"https://mcusercontent.com/{MD5[:25]}/images/e855e0cb-25e8-47a9-8f3f-eb89de3776b6.png",
            320,
            None,
            "display:none",
        ),
        img("https://static.shop.example/email/logo.png", 180, 48),
        img("https://static.shop.example/email/divider.png", 600, 1),
        img(
            f"https://images.ctfassets.net/abc123/{TOKEN}/5c0e1c8a9a2e4f60a1b2c3d4e5f60718/hero.jpg?w=1200&fm=webp",
            600,
            300,
        ),
        img("https://gen.sendtric.com/countdown/abcdefghij", 560, 96),
        img("cid:logo@shop.example", 1, 1),
    ],
)
def test_not_pixels(image: ImageTag) -> None:
    assert classify_image(image, CTX) is None


def test_click_endpoint_with_opaque_token_has_no_target() -> None:
    tracker = classify_link(
        "https://brand.us5.list-manage.com/track/click?u=1&id=2&e=3", "Sale", CTX
    )
    assert tracker is not None
    assert tracker.service == "Mailchimp"
    assert tracker.target is None


def test_redirect_wrappers_are_unwrapped_through_every_layer() -> None:
    target = "https://partner.example/tents?utm_source=shop"
    wrapped = "https://www.awin1.com/cread.php?awinmid=1&ued=" + quote(target, safe="")
    tracker = classify_link(wrapped, "", CTX)
    assert tracker is not None
    assert tracker.target == target
    safelinks = (
        "https://nam12.safelinks.protection.outlook.com/?url=" + quote(wrapped, safe="") + "&data=x"
    )
    tracker = classify_link(safelinks, "", CTX)
    assert tracker is not None
    assert tracker.target == target
    # a wrapper around an opaque tracker: the destination is not known
    inner = "https://u1.ct.sendgrid.net/ls/click?upn=" + TOKEN
    tracker = classify_link("https://www.google.com/url?q=" + quote(inner, safe=""), "", CTX)
    assert tracker is not None
    assert tracker.target is None


def test_tracking_parameters_are_stripped_for_the_target() -> None:
    tracker = classify_link(
        "https://shop.example/p?utm_source=n&mc_cid=1&mc_eid=5f3b2c1a9e", "", CTX
    )
    assert tracker is not None
    assert "mc_eid" in tracker.reason
    assert tracker.target == "https://shop.example/p?utm_source=n&mc_cid=1"
    unwrapped = classify_link(
        "https://www.google.com/url?q=" + quote("https://shop.example/p?_hsenc=abc&x=1", safe=""),
        "",
        CTX,
    )
    assert unwrapped is not None
    assert unwrapped.target == "https://shop.example/p?x=1"


def test_tracking_hosts_and_recipient_ids() -> None:
    tracker = classify_link(f"https://click.shop.example/{TOKEN}", "Shop", CTX)
    assert tracker is not None
    assert "tracking host click." in tracker.reason
    tracker = classify_link(f"https://shop.example/sale?who={MD5}", "Sale", CTX)
    assert tracker is not None
    assert "MD5" in tracker.reason


@pytest.mark.parametrize(
    ("href", "text"),
    [
        ("https://shop.example/products/socks?utm_source=newsletter&utm_medium=email", "Socks"),
        (f"https://shop.example/email/unsubscribe?token={TOKEN}&e={MD5}", "Unsubscribe"),
        (f"https://click.shop.example/unsubscribe/{TOKEN}", "Leave this list"),
        ("https://shop.example/list/leave?t=Zk3jd9Qx81LmPq2z", ""),  # named in List-Unsubscribe
        (f"https://shop.example/account/reset?token={MD5}{MD5}", "Reset your password"),
        (f"https://track.parcels.example/?n=1Z{TOKEN}", "Track your package"),
        ("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fshop.example%2Fblog", "Share"),
        ("https://twitter.com/intent/tweet?url=https%3A%2F%2Fshop.example%2Fblog", "Tweet"),
        ("https://shop.example/login?next=https%3A%2F%2Fshop.example%2Faccount", "Your account"),
        (
            "https://accounts.sso.example/signin?continue=https%3A%2F%2Fapp.shop.example%2F",
            "Sign in",
        ),
        (
            "https://calendar.google.com/calendar/render?action=TEMPLATE&location=https://zoom.us/j/1",
            "Add",
        ),
        ("https://brand.us5.list-manage.com/unsubscribe?u=1&id=2&e=3&c=4", "Unsubscribe"),
        ("mailto:hello@shop.example", "Mail us"),
        ("https://bit.ly/3xYz9Ab", "short"),
    ],
)
def test_not_click_trackers(href: str, text: str) -> None:
    assert classify_link(href, text, CTX) is None
