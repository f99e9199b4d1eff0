"""Reading a body the way a mail client builds it (lexbor through selectolax)."""

from __future__ import annotations

from trackpref.mail.html_tree import scan_tree, start_tag_attrs


def test_attribute_values_follow_html5_not_html_parser() -> None:
    # html.parser turns "&times" into "×" even before "tamp="; a browser does not.
    html = '<img src="https://t.example/o.gif?a=1&timestamp=2&amp;b=3&copy=4" width="1">'
    [image] = scan_tree(html).images
    assert image.src == "https://t.example/o.gif?a=1&timestamp=2&b=3&copy=4"


def test_only_what_a_browser_renders_is_an_element() -> None:
    html = (
        "<title><img src='https://t.example/in-title.gif'></title>"
        "<textarea><img src='https://t.example/in-textarea.gif'></textarea>"
        "<image src='https://t.example/image-tag.gif' width=1 height=1>"
    )
    assert [i.src for i in scan_tree(html).images] == ["https://t.example/image-tag.gif"]


def test_the_outermost_hiding_ancestor_is_reported() -> None:
    html = (
        '<div style="DISPLAY: none"><table style="opacity:0"><tr><td>'
        '<img src="https://t.example/a.gif"></td></tr></table></div>'
        '<p hidden><img src="https://t.example/b.gif" style="max-height:0"></p>'
        '<div style="text-decoration:none;max-width:600px"><img src="https://t.example/c.gif"></div>'
    )
    hidden = {i.src.rsplit("/", 1)[1]: i.hidden for i in scan_tree(html).images}
    assert hidden == {
        "a.gif": "inside an element with display:none",
        "b.gif": "max-height:0",  # its own reason comes first
        "c.gif": None,
    }


def test_a_sender_cannot_fake_the_hiding_mark() -> None:
    html = '<div data-trackpref-hides=""><img src="https://t.example/a.gif"></div>'
    assert scan_tree(html).images[0].hidden is None


def test_conditional_comments_inherit_the_hidden_state_of_their_place() -> None:
    html = (
        '<div style="mso-hide:all"><!--[if mso]><img src="https://t.example/mso.gif" width=1>'
        '<v:roundrect href="https://click.example/vml"><center>Go</center></v:roundrect>'
        "<![endif]--></div><!--[IF !mso]><!--><a href='https://shop.example/'>Shop</a><!--<![endif]-->"
    )
    found = scan_tree(html)
    [image] = found.images
    assert image.hidden == "inside an element with mso-hide:all"
    links = {link.href: link for link in found.links}
    assert links["https://click.example/vml"].tag == "v:roundrect"
    assert links["https://click.example/vml"].text == "Go"
    assert "https://shop.example/" in links


def test_undecodable_bytes_and_lone_surrogates_do_not_raise() -> None:
    html = '<a href="https://shop.example/caf\udce9">caf\udce9 \ud800</a>'
    [link] = scan_tree(html).links
    assert link.href.startswith("https://shop.example/caf")
    assert link.text.startswith("caf")


def test_start_tag_attrs_reads_one_tag_as_html5_does() -> None:
    assert start_tag_attrs('<IMG SRC="a?x=1&amp;timestamp=2" hidden>', "img") == {
        "src": "a?x=1&timestamp=2",
        "hidden": None,
    }
    assert start_tag_attrs("<a href=x>", "img") is None
    assert start_tag_attrs("not a tag", "a") is None
