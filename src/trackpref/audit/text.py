"""Text from the browser made safe to store and to write.

A page's script can put a lone UTF-16 surrogate in storage, a cookie or a URL
(``'ab\\ud800cd'``), and cutting a value to a length can split a surrogate
pair; such a string is valid JavaScript but cannot be encoded as UTF-8, so
SQLite, PostgreSQL and the report files all refuse it. One hostile page must
not be able to stop a crawl, so every string that comes from a page is cleaned
where it enters, and everything written is cleaned again on the way out.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean_json", "clean_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD.

    A high and a low surrogate that stand next to each other are joined into
    the character they encode first, since that is what the page meant.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text  # the common case: nothing lone to replace
    except UnicodeEncodeError:
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return _SURROGATE.sub(REPLACEMENT, joined)


def clean_json(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, scalars) whose
    strings, keys included, are all cleaned with :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {
            (clean_text(k) if isinstance(k, str) else k): clean_json(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
