"""Links in plain-text bodies.

The text alternative of a newsletter carries the same tracked links as its
HTML, written out (``Read more <https://click.example/...>``). A URL runs from
``http://`` or ``https://`` to the first character no URL contains unescaped;
trailing punctuation that ends a sentence is not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TextLink", "find_text_links"]

_STOP = frozenset(" \t\r\n\f\v<>\"'`{}|\\^")
_TRAILING = ".,;:!?)]'\""
_MAX_LINKS = 100_000


@dataclass(frozen=True, slots=True)
class TextLink:
    url: str
    start: int
    end: int


def find_text_links(text: str) -> list[TextLink]:
    links: list[TextLink] = []
    lowered = text.lower()
    at = 0
    n = len(text)
    while len(links) < _MAX_LINKS:
        start = lowered.find("http", at)
        if start == -1:
            break
        if lowered.startswith("https://", start):
            body = start + 8
        elif lowered.startswith("http://", start):
            body = start + 7
        else:
            at = start + 4
            continue
        end = body
        while end < n and text[end] not in _STOP:
            end += 1
        while end > body and text[end - 1] in _TRAILING:
            # keep a closing bracket that has its opening one inside the URL
            if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break
            end -= 1
        if end > body:
            links.append(TextLink(text[start:end], start, end))
        at = max(end, start + 4)
    return links
