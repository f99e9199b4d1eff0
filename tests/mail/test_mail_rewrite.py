from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.mail.rewrite import rewrite_html, rewrite_text

HTML = (
    '<p>Hi</p>\n<img src="https://t.example/o.gif?a=1&amp;b=2" width="1" height="1">'
    '<a class="btn" href="https://click.example/c?u=https%3A%2F%2Fshop.example%2F" data-x>Shop</a>'
    "\n"
    '<img src="https://cdn.example/logo.png"><a href="https://shop.example/keep">keep</a>'
)


def test_rewrite_html_changes_only_the_tracked_tags() -> None:
    result = rewrite_html(
        HTML,
        frozenset({"https://t.example/o.gif?a=1&b=2"}),
        {
            "https://click.example/c?u=https%3A%2F%2Fshop.example%2F": 'https://shop.example/?q="x"&y=1'
        },
    )
    assert result.changed
    assert result.text == (
        "<p>Hi</p>\n"
        '<a class="btn" href="https://shop.example/?q=&quot;x&quot;&amp;y=1" data-x>Shop</a>\n'
        '<img src="https://cdn.example/logo.png"><a href="https://shop.example/keep">keep</a>'
    )
    assert rewrite_html(HTML, frozenset(), {}).text == HTML


def test_rewrite_text_replaces_whole_urls_only() -> None:
    text = (
        "Go: https://click.example/c?x=1\nAlso https://click.example/c?x=12 and https://"
        "click.example/c?x=1."
    )
    result = rewrite_text(text, {"https://click.example/c?x=1": "https://shop.example/"})
    assert (
        result.text
        == "Go: https://shop.example/\nAlso https://click.example/c?x=12 and https://shop.example/."
    )


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abimgsrchef:.x\n")), max_size=300))
def test_rewrite_never_raises_and_removing_nothing_changes_nothing(html: str) -> None:
    assert rewrite_html(html, frozenset({"x"}), {"y": "z"}).text is not None
    assert rewrite_html(html, frozenset({"not-there"}), {}).text == html
