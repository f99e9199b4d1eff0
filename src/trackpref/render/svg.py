"""Inline SVG that stays inert, whatever its text says.

Charts label their marks with collected or crawled data (a path, a referrer
domain, the URL of an audited site), and that data is hostile by assumption.
So no text is ever pasted into markup: elements are built with
:mod:`xml.etree.ElementTree`, which escapes every attribute value and text
node, after :func:`xml_safe` has replaced what XML cannot carry at all
(control characters, lone surrogates). A label can then neither close a tag,
nor open a script, nor break the parse, and the same string is valid inline
in HTML and as a standalone ``.svg``. The result is
:class:`markupsafe.Markup`, so Jinja2's autoescaping places it as it is
instead of escaping the markup itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from markupsafe import Markup

__all__ = ["SVG_NS", "Drawing", "coord", "xml_safe"]

SVG_NS = "http://www.w3.org/2000/svg"

# The complement of XML 1.0's Char production: C0 controls other than tab,
# LF and CR, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: object) -> str:
    """``str(value)`` with every character XML cannot carry replaced by U+FFFD.

    Escaping cannot help with these: ``\\x00`` has no escaped form in XML, and
    a lone surrogate cannot even be encoded as UTF-8, so one of them in a label
    would break the whole page instead of one word of it.
    """
    return _NOT_XML.sub("\ufffd", str(value))


def coord(value: float) -> str:
    """A length or coordinate for an attribute: at most two decimals, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Drawing:
    """One ``<svg>`` being drawn: marks go in, escaped :class:`Markup` comes out.

    The root is ``role="img"`` and named by the title, and its ``<desc>`` says
    the data in words: screen readers read it, and so does anyone whose
    browser draws no SVG. Every mark may carry a tip (a ``<title>`` child),
    which a pointer shows and which holds the full, untruncated label, and a
    class that says what it is (for a page's CSS and for tests).
    """

    __slots__ = ("_root",)

    def __init__(
        self,
        width: float,
        height: float,
        *,
        title: str,
        desc: str = "",
        html_id: str | None = None,
        background: str = "#ffffff",
    ) -> None:
        attrs = {
            "xmlns": SVG_NS,
            "class": "chart",
            "role": "img",
            "aria-label": xml_safe(title),
            "width": coord(width),
            "height": coord(height),
            "viewBox": f"0 0 {coord(width)} {coord(height)}",
            "font-family": "system-ui, sans-serif",
        }
        if html_id is not None:
            attrs["id"] = xml_safe(html_id)
        self._root = ET.Element("svg", attrs)
        ET.SubElement(self._root, "title").text = xml_safe(title)
        if desc:
            ET.SubElement(self._root, "desc").text = xml_safe(desc)
        self.rect(0, 0, width, height, fill=background)

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str,
        tip: str | None = None,
        css_class: str | None = None,
    ) -> None:
        attrs = {"x": coord(x), "y": coord(y), "width": coord(width), "height": coord(height)}
        element = ET.SubElement(self._root, "rect", {**attrs, "fill": xml_safe(fill)})
        self._finish(element, tip, css_class)

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str) -> None:
        attrs = {"x1": coord(x1), "y1": coord(y1), "x2": coord(x2), "y2": coord(y2)}
        ET.SubElement(self._root, "line", {**attrs, "stroke": xml_safe(stroke)})

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        fill: str,
        size: float = 11,
        anchor: str = "start",
        tip: str | None = None,
        css_class: str | None = None,
    ) -> None:
        attrs = {"x": coord(x), "y": coord(y), "font-size": coord(size)}
        if anchor != "start":
            attrs["text-anchor"] = anchor
        element = ET.SubElement(self._root, "text", {**attrs, "fill": xml_safe(fill)})
        element.text = xml_safe(content)
        self._finish(element, tip, css_class)

    def markup(self) -> Markup:
        # ElementTree escaped every attribute and text node above.
        return Markup(ET.tostring(self._root, encoding="unicode"))  # noqa: S704

    @staticmethod
    def _finish(element: ET.Element, tip: str | None, css_class: str | None) -> None:
        if css_class is not None:
            element.set("class", xml_safe(css_class))
        if tip is not None:
            ET.SubElement(element, "title").text = xml_safe(tip)
