"""E-mail open pixels that mail clients fetch through the proxy.

A mail client that loads remote images fetches them as a plain request with
no page behind it (no ``Referer``, no ``Origin``). The mail engineer's
classifier (``trackpref.mail.classify.classify_image``) decides whether an
image URL tells the sender who opened the message; the proxy asks it with
what a network agent knows, the URL alone (no size, no visibility, no
recipient address), which leaves the URL-based tests: known open endpoints of
e-mail services, open-tracking paths with an opaque token, tracking hosts with
an opaque token.
"""

from __future__ import annotations

import functools

from ..mail.classify import MessageContext, classify_image
from ..mail.endpoints import default_table
from ..mail.html_scan import ImageTag

__all__ = ["mail_pixel_reason"]


@functools.cache
def _context() -> MessageContext:
    return MessageContext(table=default_table())


def mail_pixel_reason(url: str) -> str | None:
    """Why ``url`` is an e-mail open pixel, or None."""
    tag = ImageTag(src=url, width=None, height=None, hidden=None, alt=None)
    tracker = classify_image(tag, _context())
    return None if tracker is None else tracker.reason
