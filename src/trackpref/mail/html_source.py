"""Images and links located in the source text, with ``html.parser``.

The cleaner must cut or replace exactly one start tag and leave every other
character alone, so it needs each tag's offsets in the text, which a tree
builder does not keep. ``html.parser`` walks the source and says where each
tag is; the attribute values are then read from that tag's text by the same
HTML5 parser ``html_tree`` uses, so that the URLs found here are exactly the
URLs the scan reported. This reader also takes the bodies too large for a tree
builder (``html_scan``): it keeps no tree, only a capped stack of open elements,
so deep nesting costs it nothing extra.

Whether an ancestor hides an element is tracked on that stack; Outlook
conditional comments (``<!--[if mso]> ... <![endif]-->``) are read as HTML of
their own. The reader never raises to its caller: ``html.parser`` itself can
(an unknown marked section such as ``<![foo[``), and then what was found
before is kept and the error reported.
"""

from __future__ import annotations

from html.parser import HTMLParser

from .html_elements import (
    MAX_ANCHOR_TEXT,
    MAX_ELEMENTS,
    Attrs,
    HtmlFindings,
    ImageTag,
    LinkTag,
    anchor_text,
    image_tag,
    own_look,
)
from .html_tree import start_tag_attrs

__all__ = ["defuse", "scan_source"]

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

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> Attrs:
        """The tag's attributes as the HTML5 parser reads its source text."""
        found = start_tag_attrs(self.get_starttag_text() or "", tag)
        if found is None:  # not a start tag to an HTML5 parser: keep what html.parser read
            first: dict[str, str | None] = {}
            for key, value in attrs:
                first.setdefault(key, value)
            return tuple(first.items())
        return tuple(found.items())

    # -- hidden state ----------------------------------------------------------------
    def _hidden(self) -> str | None:
        return self.stack[-1][1] if self.stack else self.root_hidden

    # -- events ----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        # Called for every start tag: one pass over the attributes, and the
        # HTML5 reading of the tag's text only for images and links.
        stack = self.stack
        inherited = stack[-1][1] if stack else self.root_hidden
        values: Attrs = ()
        if tag == "img" or tag in _LINK_TAGS:
            values = self._attrs(tag, attrs)
        style: str | None = None
        hidden_attr = False
        for key, value in values or attrs:
            if key == "style":
                if style is None:
                    style = value
            elif key == "hidden":
                hidden_attr = True
        look = own_look(tag, style, hidden_attr)
        own = look.hidden
        if tag == "img":
            if len(self.images) < MAX_ELEMENTS:
                start, end = self._span()
                image = image_tag(dict(values), look, own or inherited, start, end)
                if image is not None:
                    self.images.append(image)
        elif tag in _LINK_TAGS:
            self._link_start(tag, values, self_closing)
        if not self_closing and tag not in _VOID and len(stack) < _MAX_DEPTH:
            if inherited is None and own is not None:
                stack.append((tag, f"inside an element with {own}"))
            else:
                stack.append((tag, inherited))

    def _link_start(self, tag: str, attrs: Attrs, self_closing: bool) -> None:
        self._link_finish()
        href = dict(attrs).get("href")
        if not href or len(self.links) >= MAX_ELEMENTS:
            return
        start, end = self._span()
        self.link_open = (tag, attrs, self_closing, start, end)
        if self_closing or tag == "area":
            self._link_finish()

    def _link_finish(self) -> None:
        if self.link_open is None:
            return
        tag, attrs, self_closing, start, end = self.link_open
        href = dict(attrs).get("href") or ""
        self.links.append(
            LinkTag(
                href=href.strip(),
                text=anchor_text("".join(self.link_text)),
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
        if self.link_open is not None and self.link_text_len < MAX_ANCHOR_TEXT:
            piece = data[: MAX_ANCHOR_TEXT - self.link_text_len]
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


def defuse(text: str) -> str:
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
    text = defuse(text)
    scanner = _Scanner(base, positions, hidden, depth)
    scanner.prepare(text)
    error = None
    try:
        scanner.feed(text)
        scanner.close()
    except Exception as exc:  # html.parser raises AssertionError on some markup
        error = f"HTML could not be parsed to the end ({type(exc).__name__}: {exc})"[:300]
    return scanner.findings(error)


def scan_source(text: str, *, positions: bool = False) -> HtmlFindings:
    """Images and links of an HTML document or fragment, walking its source.

    With ``positions`` each element carries the offsets of its start tag in
    ``text``, which costs an index of line starts.
    """
    return _scan(text, base=0, positions=positions, hidden=None, depth=0)
