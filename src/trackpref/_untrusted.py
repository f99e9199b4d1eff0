"""Reading numbers and secrets out of text somebody else wrote.

Two traps of Python's own string methods, each of which turned a junk cookie
or query parameter into a 500:

* ``str.isdigit()`` is true for ``"²"`` and ``"٣"``, which ``int()`` refuses
  or reads as something else, and ``int()`` refuses more than 4,300 digits;
* ``hmac.compare_digest`` raises ``TypeError`` for a ``str`` holding anything
  beyond ASCII, instead of answering "not equal".
"""

from __future__ import annotations

import hmac

__all__ = ["same_secret", "whole_number"]


def whole_number(text: str | bytes | None, *, max_digits: int = 18) -> int | None:
    """The number ``text`` spells with ASCII digits only (no sign, no spaces), else None."""
    if text is None or not 0 < len(text) <= max_digits:
        return None
    if isinstance(text, bytes):
        return int(text) if text.isdigit() else None  # bytes.isdigit() is ASCII-only
    return int(text) if text.isascii() and text.isdigit() else None


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality for a token that may hold any character."""
    a = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    b = expected.encode("utf-8", "surrogatepass") if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)
