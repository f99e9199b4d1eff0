"""Scanning messages together: what is remembered across them, and what is not."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

import pytest
from mail_helpers import newsletter, urls

from trackpref.mail import html_scan
from trackpref.mail.html_elements import HtmlValues
from trackpref.mail.html_scan import MAX_TREE_TAGS
from trackpref.mail.html_tree import scan_tree_values
from trackpref.mail.report import MessageReport
from trackpref.mail.scanner import RawMessage, clear_caches, scan_messages
from trackpref.mail.urls import split_url

MD5 = hashlib.md5(b"alice@example.org").hexdigest()
HERO = f"https://img.shop.example/hero.jpg?m={MD5}"
TRACKED = "https://click.shop.example/Zk3jd9Qx81LmPq2zT7vB"


def _scan(*raws: bytes) -> list[MessageReport]:
    return scan_messages([RawMessage(f"m{i}.eml", None, raw) for i, raw in enumerate(raws)])


@pytest.mark.parametrize("alice_first", [True, False])
def test_a_remembered_verdict_never_carries_one_recipient_to_another(alice_first: bool) -> None:
    html = f'<img src="{HERO}" width="600" height="300">'
    alice = newsletter(html, to="alice@example.org", message_id="<a@shop.example>")
    bob = newsletter(html, to="bob@example.org", message_id="<b@shop.example>")
    reports = _scan(alice, bob) if alice_first else _scan(bob, alice)
    by_id = {r.message_id: r for r in reports}
    assert urls(by_id["<a@shop.example>"], "pixel") == {HERO}
    assert urls(by_id["<b@shop.example>"], "pixel") == set()


@pytest.mark.parametrize("shop_first", [True, False])
def test_a_remembered_link_is_judged_again_with_its_own_text(shop_first: bool) -> None:
    shop = newsletter(f'<a href="{TRACKED}">Shop now</a>', message_id="<s@shop.example>")
    leave = newsletter(f'<a href="{TRACKED}">Unsubscribe</a>', message_id="<u@shop.example>")
    reports = _scan(shop, leave) if shop_first else _scan(leave, shop)
    by_id = {r.message_id: r for r in reports}
    assert urls(by_id["<s@shop.example>"], "click") == {TRACKED}
    assert urls(by_id["<u@shop.example>"], "click") == set()


def test_clear_caches_forgets_every_url() -> None:
    _scan(newsletter(f'<a href="{TRACKED}">Shop</a>'))
    assert split_url.cache_info().currsize > 0
    clear_caches()
    assert split_url.cache_info().currsize == 0


def test_one_message_gets_a_bounded_share_of_tree_building(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real = scan_tree_values

    def spy(text: str) -> HtmlValues:
        built.append(text.count("<"))
        return real(text)

    monkeypatch.setattr(html_scan, "scan_tree_values", spy)
    msg = EmailMessage()
    msg["From"] = "news@shop.example"
    msg["Subject"] = "parts"
    body = "<p>" * (MAX_TREE_TAGS - 10) + '<img src="https://t.example/o.gif">'
    msg.set_content("hi")
    for _ in range(3):
        msg.add_attachment(body, subtype="html", disposition="inline")
    [report] = _scan(msg.as_bytes())
    assert len(built) == 2  # the third part is walked, not built
    assert report.errors == ()
