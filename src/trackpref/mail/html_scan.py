"""Images and links in an HTML body, found with the standard ``html.parser``.

Besides each element's attributes the scanner records whether an ancestor hides
it (a pixel inside ``<div style="display:none">`` is as invisible as one with
its own ``display:none``) and, when asked, where its start tag sits in the text,
so that the cleaner can cut or replace exactly that tag and leave every other
byte alone. Outlook conditional comments (``<!--[if mso]> ... <![endif]-->``)
are parsed too: Outlook renders what is inside them.

The parser never raises to its caller: ``html.parser`` itself can (an unknown
marked section such as ``<![foo[``), and then the scan keeps what it found and
reports the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from .css import css_length_px, hidden_by_style, parse_dimension, parse_style

__all__ = ["HtmlFindings", "ImageTag", "LinkTag", "scan_html"]

#: Elements that never have an end tag, so they never go on the open-element stack.
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
_LINK_TAGS = frozenset({"a", "area", "v:roundrect", "v:rect", "v:oval"})
#: Deeper nesting is hostile or broken; past it, elements are not tracked.
_MAX_DEPTH = 256
_MAX_ANCHOR_TEXT = 200
#: At most this many images and links are recorded per body. High on purpose:
#: a low cap would let a sender hide a pixel behind thousands of harmless images;
#: a 1 Mi-character body cannot hold many more than this.
_MAX_ELEMENTS = 100_000

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


def _may_hide(style: str) -> bool:
    """A cheap test before parsing a container's style: can it hide anything?"""
    s = style.lower()
    # Substrings every hiding declaration contains (see ``css.hidden_by_style``).
    return (
        "none" in s or "hidden" in s or "opacity" in s or "max-" in s or "collapse" in s
    ) or "mso-hide" in s


def _first(attrs: Sequence[tuple[str, str | None]], name: str) -> str | None:
    for key, value in attrs:
        if key == name:
            return value
    return None


def _smaller(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class _Scanner(HTMLParser):
    def __init__(self, base: int, positions: bool, hidden: str | None, depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.positions = positions
        self.depth = depth
        self.line_starts: list[int] = []
        self.stack: list[tuple[str, str | None]] = []
        self.root_hidden = hidden
        self.images: list[ImageTag] = []
        self.links: list[LinkTag] = []
        self.link_open: tuple[str, Attrs, bool, int, int] | None = None
        self.link_text: list[str] = []
        self.link_text_len = 0

    # -- positions -------------------------------------------------------------------
    def prepare(self, text: str) -> None:
        if self.positions:
            starts = [0]
            at = text.find("\n")
            while at != -1:
                starts.append(at + 1)
                at = text.find("\n", at + 1)
            self.line_starts = starts

    def _span(self) -> tuple[int, int]:
        if not self.positions:
            return -1, -1
        line, col = self.getpos()
        start = self.line_starts[line - 1] + col
        raw = self.get_starttag_text() or ""
        return self.base + start, self.base + start + len(raw)

    # -- hidden state ----------------------------------------------------------------
    def _hidden(self) -> str | None:
        return self.stack[-1][1] if self.stack else self.root_hidden

    # -- events ----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        # Called for every start tag of every message: one pass over the
        # attributes, and CSS parsed only where it can matter.
        stack = self.stack
        inherited = stack[-1][1] if stack else self.root_hidden
        own: str | None = None
        decls: dict[str, str] = {}
        style: str | None = None
        hidden_attr = False
        for key, value in attrs:
            if key == "style":
                if style is None:
                    style = value
            elif key == "hidden":
                hidden_attr = True
        if style and (tag == "img" or _may_hide(style)):
            decls = parse_style(style)
            own = hidden_by_style(decls)
        if own is None and hidden_attr:
            own = "hidden attribute"
        if tag == "img":
            self._image(tuple(attrs), decls, own, inherited)
        elif tag in _LINK_TAGS:
            self._link_start(tag, tuple(attrs), self_closing)
        if not self_closing and tag not in _VOID and len(stack) < _MAX_DEPTH:
            if inherited is None and own is not None:
                stack.append((tag, f"inside an element with {own}"))
            else:
                stack.append((tag, inherited))

    def _image(
        self, attrs: Attrs, decls: dict[str, str], own: str | None, inherited: str | None
    ) -> None:
        src = _first(attrs, "src")
        if not src or len(self.images) >= _MAX_ELEMENTS:
            return
        width = parse_dimension(_first(attrs, "width"))
        height = parse_dimension(_first(attrs, "height"))
        if decls:
            width = _smaller(width, css_length_px(decls.get("width", "")))
            height = _smaller(height, css_length_px(decls.get("height", "")))
        start, end = self._span()
        self.images.append(
            ImageTag(
                src=src.strip(),
                width=width,
                height=height,
                hidden=own or inherited,
                alt=_first(attrs, "alt"),
                start=start,
                end=end,
            )
        )

    def _link_start(self, tag: str, attrs: Attrs, self_closing: bool) -> None:
        self._link_finish()
        href = _first(attrs, "href")
        if not href or len(self.links) >= _MAX_ELEMENTS:
            return
        start, end = self._span()
        self.link_open = (tag, attrs, self_closing, start, end)
        if self_closing or tag == "area":
            self._link_finish()

    def _link_finish(self) -> None:
        if self.link_open is None:
            return
        tag, attrs, self_closing, start, end = self.link_open
        href = _first(attrs, "href") or ""
        text = " ".join("".join(self.link_text).split())
        self.links.append(
            LinkTag(
                href=href.strip(),
                text=text,
                tag=tag,
                attrs=attrs,
                self_closing=self_closing,
                start=start,
                end=end,
            )
        )
        self.link_open = None
        self.link_text = []
        self.link_text_len = 0

    def handle_endtag(self, tag: str) -> None:
        if tag in _LINK_TAGS:
            self._link_finish()
        stack = self.stack
        if stack and stack[-1][0] == tag:
            stack.pop()
            return
        # Pop to the matching element if it is open; ignore stray end tags.
        for i in range(len(stack) - 2, max(-1, len(stack) - 65), -1):
            if stack[i][0] == tag:
                del stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self.link_open is not None and self.link_text_len < _MAX_ANCHOR_TEXT:
            piece = data[: _MAX_ANCHOR_TEXT - self.link_text_len]
            self.link_text.append(piece)
            self.link_text_len += len(piece)

    def handle_comment(self, data: str) -> None:
        # Outlook conditional comments: <!--[if mso]> ... <![endif]-->
        if self.depth > 0 or data.lstrip()[:3].lower() != "[if" or "<" not in data:
            return
        base = -1
        if self.positions:
            line, col = self.getpos()
            base = self.base + self.line_starts[line - 1] + col + len("<!--")
        inner = _scan(data, base=base, positions=self.positions, hidden=self._hidden(), depth=1)
        self.images.extend(inner.images)
        self.links.extend(inner.links)

    def findings(self, error: str | None) -> HtmlFindings:
        self._link_finish()
        return HtmlFindings(tuple(self.images), tuple(self.links), error)


def _defuse(text: str) -> str:
    """``text`` with every construct that can never end made plain text.

    ``html.parser`` is quadratic on constructs that never end: each ``<a `` or
    ``<!--`` without its terminator is scanned to the end of the input, then
    dropped a little at a time (90 KB of ``<a `` took four minutes). A ``<``
    with no ``>`` anywhere after it, a ``<!--`` with no ``-->`` after it and a
    ``<![`` with no ``]>`` after it can never be what they start, and the parser
    makes text of them in the end anyway. Their ``<`` becomes U+FFFD, so the
    length, and every offset, stays the same.
    """
    out = text
    for opener, closer in (("<!--", "-->"), ("<![", "]>"), ("<", ">")):
        last = out.rfind(closer)
        start = last + len(closer) if last != -1 else 0
        if out.find(opener, start) != -1:
            out = out[:start] + out[start:].replace(opener, "\ufffd" + opener[1:])
    return out


def _scan(text: str, *, base: int, positions: bool, hidden: str | None, depth: int) -> HtmlFindings:
    text = _defuse(text)
    scanner = _Scanner(base, positions, hidden, depth)
    scanner.prepare(text)
    error = None
    try:
        scanner.feed(text)
        scanner.close()
    except Exception as exc:  # html.parser raises AssertionError on some markup
        error = f"HTML could not be parsed to the end ({type(exc).__name__}: {exc})"[:300]
    return scanner.findings(error)


def scan_html(text: str, *, positions: bool = False) -> HtmlFindings:
    """Images and links of an HTML document or fragment.

    With ``positions`` each element carries the offsets of its start tag in
    ``text``, which costs an index of line starts; scanning alone skips it.
    """
    return _scan(text, base=0, positions=positions, hidden=None, depth=0)
