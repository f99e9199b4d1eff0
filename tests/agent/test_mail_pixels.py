from __future__ import annotations

from trackpref.agent.mail_pixels import mail_pixel_reason


def test_known_open_endpoints_and_tokened_open_paths_are_pixels() -> None:
    reason = mail_pixel_reason(
        "https://us1.list-manage.com/track/open.php?u=8f2a9c41d3e07b6a&id=5c1e7d"
    )
    assert reason is not None
    assert "Mailchimp" in reason
    assert mail_pixel_reason("https://t.news.example/o/eyJhbGciOiJIUzI1NiJ9abcDEF123") is not None


def test_ordinary_images_are_not() -> None:
    assert mail_pixel_reason("https://news.example/logo.png") is None
    assert mail_pixel_reason("https://cdn.shop.example/img/hero.jpg?w=600") is None
    assert mail_pixel_reason("not a url") is None
