"""URL-encoded form bodies, read with a cap (the service's forms are all this small).

Starlette's own form parser needs ``python-multipart``; the admin login and
the rights portal post a handful of short fields, so the stdlib's
:func:`urllib.parse.parse_qsl` over a capped body is all they need, and no
upload can ever reach them.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from .._untrusted import whole_number

__all__ = ["FormError", "read_form"]


class FormError(ValueError):
    """The form is too large, not URL-encoded, or not UTF-8."""


async def read_form(
    request: Request, *, limit: int = 16_384, max_fields: int = 16
) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded")
    declared = whole_number(request.headers.get("content-length"), max_digits=20)
    if declared is not None and declared > limit:
        raise FormError(f"the form is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormError(f"the form is larger than {limit} bytes")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=max_fields,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(f"not a form: {exc}") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out
