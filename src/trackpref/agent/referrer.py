"""Trimming the ``Referer`` a request carries to another party.

The path and query of the page a person reads (a search, an article, an
account page) are nobody else's business. As in DuckDuckGo's referrer
trimming, a request to a different party gets only the referring origin
(``https://news.example/``); requests within one party (the same site, or one
entity's sites) keep the full referrer, which sites rely on. A referrer is
never expanded or added: only shortened.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from .domains import canonical_host

__all__ = ["trim_referrer"]


def trim_referrer(
    referrer: str | None, target_host: str, same_party: Callable[[str, str], bool]
) -> str | None:
    """The ``Referer`` to send to ``target_host``; None means send none.

    ``same_party(referrer_host, target_host)`` decides whether the full value
    may go. A value that is not a URL with a host is dropped (a proxy cannot
    tell what it leaks); a non-http(s) one (``android-app://``) carries no
    page path and is kept.
    """
    if referrer is None:
        return None
    value = referrer.strip()
    if not value:
        return referrer
    try:
        parts = urlsplit(value)
        raw_host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return referrer
    host = canonical_host(raw_host) if raw_host else None
    if host is None:
        return None
    if same_party(host, target_host):
        return referrer
    netloc = parts.netloc.rpartition("@")[2]
    return f"{scheme}://{netloc}/"
