"""A request header's values as adapters hand them over, made text or refused.

Servers and frameworks give header values as ``str`` (WSGI, most frameworks),
as ``bytes`` (ASGI), one value or a list of them. The signal parsers promise
never to raise on whatever they are given, so the handing-over is settled
here once: bytes are read as ISO-8859-1, as HTTP field values are (RFC 9110
§5.5), and anything that is not a header value at all is named, not raised.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["field_values"]


def field_values(values: object) -> list[str] | str:
    """The values as text, or the reason they are not header values."""
    if isinstance(values, str):
        return [values]
    if isinstance(values, bytes | bytearray):
        return [bytes(values).decode("latin-1")]
    if not isinstance(values, Iterable):
        return f"a value of type {type(values).__name__} is not a header value"
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, bytes | bytearray):
            out.append(bytes(v).decode("latin-1"))
        else:
            return f"a value of type {type(v).__name__} is not a header value"
    return out
