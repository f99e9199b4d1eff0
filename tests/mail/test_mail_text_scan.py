from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.mail.text_scan import find_text_links


def test_links_in_plain_text() -> None:
    text = (
        "Read more: https://click.example/a?b=1&c=2.\n"
        "(see https://en.example/wiki/Foo_(bar)) and <https://x.example/y>, HTTP://UP.example/Z!"
    )
    found = [link.url for link in find_text_links(text)]
    assert found == [
        "https://click.example/a?b=1&c=2",
        "https://en.example/wiki/Foo_(bar)",
        "https://x.example/y",
        "HTTP://UP.example/Z",
    ]
    for link in find_text_links(text):
        assert text[link.start : link.end] == link.url


@given(st.text(max_size=300))
def test_find_text_links_never_raises(text: str) -> None:
    for link in find_text_links(text):
        assert text[link.start : link.end] == link.url
        assert link.url.lower().startswith(("http://", "https://"))


def test_offsets_hold_where_lower_casing_changes_the_length() -> None:
    # "İ".lower() is two characters: a lower-cased copy of the text would shift them.
    text = "İİİ see https://shop.example/a and HTTPS://click.example/b"
    assert [(link.url, text[link.start : link.end]) for link in find_text_links(text)] == [
        ("https://shop.example/a", "https://shop.example/a"),
        ("HTTPS://click.example/b", "HTTPS://click.example/b"),
    ]
