"""What the detectors need of an HTML body: its images and links, as plain data.

Two readers fill these (``html_tree`` builds the document with lexbor,
``html_source`` walks the source text with ``html.parser`` where offsets are
needed); both judge an element's visibility and an image's size here, so that
they cannot drift apart on those rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .css import css_length_px, hidden_by_style, parse_dimension, parse_style

__all__ = [
    "MAX_ANCHOR_TEXT",
    "MAX_ELEMENTS",
    "PLAIN_LOOK",
    "Attrs",
    "HtmlFindings",
    "HtmlValues",
    "ImageTag",
    "ImageValues",
    "LinkTag",
    "LinkValues",
    "Look",
    "anchor_text",
    "clear_style_caches",
    "findings_values",
    "image_tag",
    "image_values",
    "own_look",
    "style_look",
]

#: Link text beyond this many characters says nothing more about the link.
MAX_ANCHOR_TEXT = 200
#: At most this many images and links are recorded per body. High on purpose:
#: a low cap would let a sender hide a pixel behind thousands of harmless images;
#: a 1 Mi-character body cannot hold many more than this.
MAX_ELEMENTS = 100_000

Attrs = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class ImageTag:
    """An ``<img>`` with what decides whether it is a pixel.

    ``width``/``height`` are the smaller of the attribute and the CSS value;
    ``hidden`` says why it cannot be seen, if it cannot. ``start``/``end`` are
    the offsets of its start tag in the scanned text (``-1`` if not recorded).
    """

    src: str
    width: float | None
    height: float | None
    hidden: str | None
    alt: str | None
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class LinkTag:
    """A link (``<a href>``, ``<area>``, a VML button) and its visible text."""

    href: str
    text: str
    tag: str
    attrs: Attrs
    self_closing: bool
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class HtmlFindings:
    images: tuple[ImageTag, ...]
    links: tuple[LinkTag, ...]
    error: str | None = None


#: An image as the detectors read it: ``(src, width, height, hidden, alt)``,
#: the values of an ``ImageTag`` without its offsets.
ImageValues = tuple[str, float | None, float | None, str | None, str | None]
#: A link as the detectors read it: ``(href, text, tag, attributes)``.
LinkValues = tuple[str, str, str, Mapping[str, str | None]]


@dataclass(frozen=True, slots=True)
class HtmlValues:
    """``HtmlFindings`` as plain tuples, for the scanner.

    A newsletter has dozens of images and links; building a frozen record for
    each costs more than everything else the scanner does with it, and only
    the cleaner needs the records (with their offsets).
    """

    images: tuple[ImageValues, ...]
    links: tuple[LinkValues, ...]
    error: str | None = None


def findings_values(found: HtmlFindings) -> HtmlValues:
    """The values of findings read as records (the source walk's)."""
    return HtmlValues(
        tuple((i.src, i.width, i.height, i.hidden, i.alt) for i in found.images),
        tuple((link.href, link.text, link.tag, dict(link.attrs)) for link in found.links),
        found.error,
    )


def may_hide(style: str) -> bool:
    """A cheap test before parsing a container's style: can it hide anything?"""
    s = style.lower()
    # Substrings every hiding declaration contains (see ``css.hidden_by_style``).
    return (
        "none" in s or "hidden" in s or "opacity" in s or "max-" in s or "collapse" in s
    ) or "mso-hide" in s


@dataclass(frozen=True, slots=True)
class Look:
    """What an element's own style and attributes say about how it shows.

    ``hidden`` is why the element itself is invisible; ``width``/``height``
    are its CSS size in pixels (read for images only).
    """

    hidden: str | None = None
    width: float | None = None
    height: float | None = None


PLAIN_LOOK = Look()
#: Longer styles are parsed every time rather than kept.
_MAX_CACHED_STYLE = 2048


@lru_cache(maxsize=8192)
def style_look(style: str, image: bool) -> Look:
    # A newsletter repeats a handful of inline styles on every element, and a
    # sender's next newsletter repeats them again: parse each one once.
    if not image and not may_hide(style):
        return PLAIN_LOOK
    decls = parse_style(style)
    hidden = hidden_by_style(decls)
    if not image:
        return PLAIN_LOOK if hidden is None else Look(hidden)
    return Look(
        hidden, css_length_px(decls.get("width", "")), css_length_px(decls.get("height", ""))
    )


def own_look(tag: str, style: str | None, hidden_attr: bool) -> Look:
    """How the element itself shows, from its ``style`` and ``hidden`` attributes.

    The style is parsed only where it can matter: always for an image (its CSS
    size), for other elements only when it holds a hiding keyword.
    """
    look = PLAIN_LOOK
    if style:
        image = tag == "img"
        if len(style) <= _MAX_CACHED_STYLE:
            look = style_look(style, image)
        else:
            look = style_look.__wrapped__(style, image)
    if look.hidden is None and hidden_attr:
        return Look("hidden attribute", look.width, look.height)
    return look


def _smaller(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


_cached_dimension = lru_cache(maxsize=1024)(parse_dimension)


def _dimension(value: str | None) -> float | None:
    # A newsletter's images share a few widths and heights.
    if value is None:
        return None
    return _cached_dimension(value) if len(value) <= 32 else parse_dimension(value)


def image_values(
    attrs: Mapping[str, str | None], look: Look, hidden: str | None
) -> ImageValues | None:
    """The image an ``<img>`` start tag describes; ``None`` without a ``src``.

    ``hidden`` is the image's own reason or the one it inherits.
    """
    src = attrs.get("src")
    if not src:
        return None
    width = _smaller(_dimension(attrs.get("width")), look.width)
    height = _smaller(_dimension(attrs.get("height")), look.height)
    return (src.strip(), width, height, hidden, attrs.get("alt"))


def image_tag(
    attrs: Mapping[str, str | None], look: Look, hidden: str | None, start: int = -1, end: int = -1
) -> ImageTag | None:
    """``image_values`` as a record, with the start tag's offsets."""
    values = image_values(attrs, look, hidden)
    if values is None:
        return None
    return ImageTag(*values, start, end)


def clear_style_caches() -> None:
    for cached in (style_look, _cached_dimension):
        cached.cache_clear()


def anchor_text(raw: str) -> str:
    """A link's visible text, whitespace collapsed, from its first characters."""
    return " ".join(raw[:MAX_ANCHOR_TEXT].split())
