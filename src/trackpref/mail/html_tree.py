"""Images and links of an HTML body, read from the document lexbor builds.

Lexbor (through selectolax) is an HTML5 parser written in C: it tokenizes and
builds the tree the way a mail client's web view does, about ten times faster
than ``html.parser`` tokenizes alone, and the elements the detectors want are
then picked out with CSS selectors without visiting the rest in Python.
Reading the tree the way a browser builds it also settles what ``html.parser``
gets wrong: ``&timestamp=`` in an ``href`` is not ``×tamp=``, an ``<img>``
inside ``<title>`` or ``<textarea>`` is text, ``<image>`` is an ``<img>``.

A tree builder costs time in proportion to the depth of the open elements for
each new one, so deep nesting is quadratic (20,000 nested ``<dd>`` take 2.6 s);
``html_scan`` gives this reader only bodies with a bounded number of tags.
Outlook conditional comments (``<!--[if mso]> ... <![endif]-->``) are comments
to the parser, and their content is read as HTML of its own, because Outlook
renders it.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .html_elements import (
    MAX_ELEMENTS,
    PLAIN_LOOK,
    HtmlFindings,
    HtmlValues,
    ImageTag,
    ImageValues,
    LinkTag,
    LinkValues,
    Look,
    anchor_text,
    image_values,
    own_look,
)

__all__ = ["scan_tree", "scan_tree_values", "start_tag_attrs", "utf8"]

_LINK_TAGS = frozenset({"a", "area", "v:roundrect", "v:rect", "v:oval"})
#: One query for everything looked at in Python: images, links, and the
#: elements whose style or attribute may hide what they hold (a superset: the
#: style is then read in Python). ``:is()`` yields each element once, in
#: document order; every further query would walk the whole tree again.
_SELECT = ":is({})".format(
    ", ".join(
        [
            "img",
            "a",
            "area",
            r"v\:roundrect",
            r"v\:rect",
            r"v\:oval",
            "[hidden]",
            *(
                f'[style*="{word}" i]'
                for word in ("none", "hidden", "opacity", "max-", "collapse", "mso-hide")
            ),
        ]
    )
)
#: Set on the hiding containers found, so that one more query finds the images
#: inside them. Whatever the sender put in such an attribute is not trusted:
#: the reason is looked up by element, in the containers verified here.
_MARK = "data-trackpref-hides"
#: What every conditional comment holds (``[if mso]``): without it, no comment is read.
_CONDITIONAL = re.compile(rb"\[[iI][fF]")


def utf8(text: str) -> bytes:
    """``text`` as the UTF-8 lexbor reads; undecodable bytes stay invalid (U+FFFD)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "surrogatepass")


def _outermost(node: LexborNode, hiding: dict[int, str]) -> str | None:
    """The reason of the outermost hiding ancestor, as descendants inherit it."""
    reason = None
    parent = node.parent
    while parent is not None:
        own = hiding.get(parent.mem_id)
        if own is not None:
            reason = own
        parent = parent.parent
    return None if reason is None else f"inside an element with {reason}"


def _link(node: LexborNode, tag: str, attrs: dict[str, str | None]) -> LinkValues | None:
    href = attrs.get("href")
    if not href:
        return None
    text = "" if tag == "area" else anchor_text(node.text())
    return (href.strip(), text, tag, attrs)


_Found = tuple[list[ImageValues], list[LinkValues]]


def _conditional_comments(
    tree: LexborHTMLParser, hiding: dict[int, str], root: str | None
) -> _Found:
    images: list[ImageValues] = []
    links: list[LinkValues] = []
    document = tree.root.parent if tree.root is not None else None
    if document is None:
        return images, links
    for node in document.traverse():  # elements and comments, no text nodes
        if not node.is_comment_node:
            continue
        data = node.comment_content or ""
        if data.lstrip()[:3].lower() != "[if" or "<" not in data:
            continue
        inner_images, inner_links = _scan(data, root or _outermost(node, hiding), nested=True)
        images.extend(inner_images)
        links.extend(inner_links)
    return images, links


def _scan(text: str, root: str | None, *, nested: bool) -> _Found:
    data = utf8(text)
    tree = LexborHTMLParser(data)
    hiding: dict[int, str] = {}
    found: list[tuple[int, dict[str, str | None], Look]] = []
    links: list[LinkValues] = []
    for node in tree.css(_SELECT):
        tag = node.tag or ""
        attrs = node.attributes
        style = attrs.get("style")
        hidden_attr = "hidden" in attrs
        look = own_look(tag, style, hidden_attr) if style or hidden_attr else PLAIN_LOOK
        if tag == "img":
            if len(found) < MAX_ELEMENTS:
                found.append((node.mem_id, attrs, look))
            continue
        if look.hidden is not None:
            hiding[node.mem_id] = look.hidden
            node.attrs[_MARK] = ""
        if tag in _LINK_TAGS and len(links) < MAX_ELEMENTS:
            link = _link(node, tag, attrs)
            if link is not None:
                links.append(link)
    inherited: dict[int, str | None] = {}
    if hiding and root is None:
        for node in tree.css(f"[{_MARK}] img"):
            inherited[node.mem_id] = _outermost(node, hiding)
    images: list[ImageValues] = []
    for mem_id, attrs, look in found:
        image = image_values(attrs, look, look.hidden or root or inherited.get(mem_id))
        if image is not None:
            images.append(image)
    if not nested and _has_conditional_comment(data):
        more_images, more_links = _conditional_comments(tree, hiding, root)
        images.extend(more_images)
        links.extend(more_links)
    return images[:MAX_ELEMENTS], links[:MAX_ELEMENTS]


def _has_conditional_comment(data: bytes) -> bool:
    # One pass over the UTF-8 bytes, in any case; lower-casing the text costs more.
    return _CONDITIONAL.search(data) is not None


def scan_tree(text: str) -> HtmlFindings:
    """Images and links of a document or fragment, as a mail client builds it."""
    images, links = _scan(text, None, nested=False)
    return HtmlFindings(
        tuple(ImageTag(*image) for image in images),
        tuple(
            LinkTag(href, label, tag, tuple(attrs.items()), False)
            for href, label, tag, attrs in links
        ),
    )


def scan_tree_values(text: str) -> HtmlValues:
    """``scan_tree`` as plain values, which is what the scanner reads."""
    images, links = _scan(text, None, nested=False)
    return HtmlValues(tuple(images), tuple(links))


def start_tag_attrs(raw: str, tag: str) -> dict[str, str | None] | None:
    """The attributes of one start tag as an HTML5 parser reads them.

    ``raw`` is the tag's source text; ``None`` if the parser does not make an
    element ``tag`` of it. Used where ``html.parser`` located the tag, so that
    its attribute values are exactly those ``scan_tree`` reports.
    """
    tree = LexborHTMLParser(utf8(raw), is_fragment=True)
    node = tree.root
    if node is None or node.tag != tag:
        return None
    return node.attributes
