"""Cutting pixels out of a body and pointing tracked links at their destination.

Edits are made at the offsets ``html_scan`` recorded, so everything between
them stays exactly as it was: a removed pixel is its ``<img>`` tag gone, an
unwrapped link is its start tag rewritten with the new ``href``, and no other
character of the body moves.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

from .html_scan import LinkTag, scan_html
from .text_scan import find_text_links

__all__ = ["Rewrite", "rewrite_html", "rewrite_text"]


@dataclass(frozen=True, slots=True)
class Rewrite:
    text: str
    removed: frozenset[str]
    unwrapped: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.unwrapped)


def _start_tag(link: LinkTag, target: str) -> str:
    pieces = ["<", link.tag]
    replaced = False
    for name, value in link.attrs:
        if name == "href" and not replaced:
            value = target
            replaced = True
        if value is None:
            pieces.append(f" {name}")
        else:
            pieces.append(f' {name}="{html.escape(value, quote=True)}"')
    pieces.append(" />" if link.self_closing else ">")
    return "".join(pieces)


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    out = []
    last = len(text)
    for start, end, replacement in sorted(edits, reverse=True):
        if end > last:  # overlapping edits cannot happen for well-formed spans; skip
            continue
        out.append(text[end:last])
        out.append(replacement)
        last = start
    out.append(text[:last])
    return "".join(reversed(out))


def rewrite_html(text: str, pixels: frozenset[str], clicks: Mapping[str, str]) -> Rewrite:
    """Remove the ``<img>`` tags of ``pixels``; set ``href`` of ``clicks`` keys to their values."""
    if not pixels and not clicks:
        return Rewrite(text, frozenset(), frozenset())
    found = scan_html(text, positions=True)
    edits: list[tuple[int, int, str]] = []
    removed: set[str] = set()
    unwrapped: set[str] = set()
    for image in found.images:
        if image.src in pixels and _is_tag(text, image.start, image.end):
            edits.append((image.start, image.end, ""))
            removed.add(image.src)
    for link in found.links:
        target = clicks.get(link.href)
        if target and _is_tag(text, link.start, link.end):
            edits.append((link.start, link.end, _start_tag(link, target)))
            unwrapped.add(link.href)
    return Rewrite(_apply(text, edits), frozenset(removed), frozenset(unwrapped))


def _is_tag(text: str, start: int, end: int) -> bool:
    """The recorded span really is a start tag (guards against offset drift)."""
    return 0 <= start < end <= len(text) and text[start] == "<" and text[end - 1] == ">"


def rewrite_text(text: str, clicks: Mapping[str, str]) -> Rewrite:
    """Replace tracked URLs written out in a plain-text body."""
    if not clicks:
        return Rewrite(text, frozenset(), frozenset())
    edits = []
    unwrapped: set[str] = set()
    for link in find_text_links(text):
        target = clicks.get(link.url)
        if target:
            edits.append((link.start, link.end, target))
            unwrapped.add(link.url)
    return Rewrite(_apply(text, edits), frozenset(), frozenset(unwrapped))
