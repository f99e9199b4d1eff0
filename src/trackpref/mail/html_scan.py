"""Images and links in an HTML body: which reader reads it.

Scanning reads the document the way a mail client builds it, with lexbor
(``html_tree``), which is fast. Cleaning needs each tag's offsets in the text,
which only a walk over the source gives (``html_source``). A tree builder is
quadratic in the nesting depth of hostile markup, so a body with more than
``MAX_TREE_TAGS`` tags (``<`` characters: at most 0.3 s of the worst nesting
found; a newsletter has a few hundred) is walked over its source too, which
costs about ten times as much per byte of ordinary mail but stays linear. Both
readers take attribute values from the same HTML5 tokenizer, so the URLs the
scan reports are the URLs the cleaner finds.
"""

from __future__ import annotations

from .html_elements import HtmlFindings, HtmlValues, ImageTag, LinkTag, findings_values
from .html_source import scan_source
from .html_tree import scan_tree, scan_tree_values

__all__ = [
    "MAX_TREE_TAGS",
    "HtmlFindings",
    "HtmlValues",
    "ImageTag",
    "LinkTag",
    "scan_html",
    "scan_html_values",
]

#: Bodies with more ``<`` than this are not given to the tree builder.
MAX_TREE_TAGS = 10_000


def scan_html(text: str, *, positions: bool = False, tree: bool = True) -> HtmlFindings:
    """Images and links of an HTML document or fragment.

    With ``positions`` each element carries the offsets of its start tag in
    ``text`` (the source walk); ``tree=False`` asks for the source walk too, as
    the scanner does once a message has used up its share of tree building.
    """
    if positions or not tree or text.count("<") > MAX_TREE_TAGS:
        return scan_source(text, positions=positions)
    try:
        return scan_tree(text)
    except Exception:  # the C parser failing must cost speed, not findings
        return scan_source(text)


def scan_html_values(text: str, *, tree: bool = True, tags: int | None = None) -> HtmlValues:
    """``scan_html`` as plain values (``HtmlValues``), for the scanner.

    ``tags`` is the number of ``<`` in ``text``, when the caller has counted
    them already.
    """
    if tags is None:
        tags = text.count("<")
    if not tree or tags > MAX_TREE_TAGS:
        return findings_values(scan_source(text))
    try:
        return scan_tree_values(text)
    except Exception:  # the C parser failing must cost speed, not findings
        return findings_values(scan_source(text))
