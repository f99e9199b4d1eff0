"""Links in plain-text bodies.

The text alternative of a newsletter carries the same tracked links as its
HTML, written out (``Read more <https://click.example/...>``). A URL runs from
``http://`` or ``https://`` to the first character no URL contains unescaped;
trailing punctuation that ends a sentence is not part of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TextLink", "find_text_links", "text_link_urls"]

#: A URL's characters: anything up to white space or a character no URL
#: contains unescaped (only these ASCII ones: other white space stays in).
_RUN = re.compile(r"[^ \t\r\n\f\v<>\"'`{}|\\^]*")
_TRAILING = ".,;:!?)]'\""
_MAX_LINKS = 100_000


@dataclass(frozen=True, slots=True)
class TextLink:
    url: str
    start: int
    end: int


def find_text_links(text: str) -> list[TextLink]:
    return [TextLink(text[start:end], start, end) for start, end in _spans(text)]


def text_link_urls(text: str) -> list[str]:
    """The URLs of ``find_text_links``, without their offsets (for the scanner)."""
    return [text[start:end] for start, end in _spans(text)]


def _spans(text: str) -> list[tuple[int, int]]:
    links: list[tuple[int, int]] = []
    at = 0
    while len(links) < _MAX_LINKS:
        # "://" is rarer than "http" and needs no lower-cased copy of the text.
        sep = text.find("://", at)
        if sep == -1:
            break
        if text[max(sep - 5, 0) : sep].lower() == "https":
            start = sep - 5
        elif text[max(sep - 4, 0) : sep].lower() == "http":
            start = sep - 4
        else:
            at = sep + 3
            continue
        body = sep + 3
        match = _RUN.match(text, body)
        end = match.end() if match else body
        while end > body and text[end - 1] in _TRAILING:
            # keep a closing bracket that has its opening one inside the URL
            if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break
            end -= 1
        if end > body:
            links.append((start, end))
        at = max(end, body)
    return links
