"""A request as the decision core sees it: target, the site it was made on, its kind.

A proxy cannot see the browser tab, so the site (TPE's "top-level site") is
inferred from what the request carries, most reliable first:

1. a top-level navigation (``Sec-Fetch-Mode: navigate`` with
   ``Sec-Fetch-Dest: document``) or a user-initiated one
   (``Sec-Fetch-Site: none``) is made on the target's own site;
2. otherwise the ``Origin`` host, then the ``Referer`` host, names the page
   that made the request (for content inside a frame this is the frame's page:
   the closest a network agent gets);
3. ``Sec-Fetch-Site: same-origin`` / ``same-site`` without either header
   means the target's own site;
4. ``Sec-Fetch-Site: cross-site`` without either header (a page with
   ``Referrer-Policy: no-referrer``) is third party on an unknown site;
5. nothing at all (curl, a mail client fetching a remote image, an app's
   API call) is a direct request: the target is its own site.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..signals.parties import host_from_url
from .domains import canonical_host

__all__ = ["RequestInfo", "describe_request", "resource_type", "url_host"]

#: ``Sec-Fetch-Dest`` to the webRequest resource types tracker lists use.
_DEST_TYPES: Final = {
    "document": "main_frame",
    "iframe": "sub_frame",
    "frame": "sub_frame",
    "fencedframe": "sub_frame",
    "script": "script",
    "worker": "script",
    "sharedworker": "script",
    "serviceworker": "script",
    "audioworklet": "script",
    "paintworklet": "script",
    "style": "stylesheet",
    "image": "image",
    "font": "font",
    "audio": "media",
    "video": "media",
    "track": "media",
    "object": "object",
    "embed": "object",
    "empty": "xmlhttprequest",
    "report": "csp_report",
}

#: ``host_from_url`` memoized: the same Origin and Referer values recur on every page.
url_host = functools.lru_cache(maxsize=4096)(host_from_url)


def resource_type(sec_fetch_dest: str | None, accept: str | None) -> str:
    """The resource type of a request, from ``Sec-Fetch-Dest`` or, failing that, ``Accept``."""
    if sec_fetch_dest:
        return _DEST_TYPES.get(sec_fetch_dest.strip().lower(), "other")
    if accept:
        a = accept.lower()
        if a.startswith("text/html") or "application/xhtml" in a:
            return "main_frame"
        if a.startswith("image/"):
            return "image"
        if a.startswith("text/css"):
            return "stylesheet"
        if "javascript" in a or "ecmascript" in a:
            return "script"
    return "other"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request, reduced to what the decisions need.

    ``host`` and ``site`` are canonical hosts; ``site`` is None when the
    request is known to be cross-site but its site is unknown. ``path`` is the
    path and query as sent. ``navigation`` is true for a top-level document
    load or a direct request (where link cleaning applies). ``gpc`` holds the
    ``Sec-GPC`` values the app sent. ``from_browser`` says whether the client
    sent fetch metadata (``Sec-Fetch-*``).
    """

    method: str
    scheme: str
    host: str
    port: int
    path: str
    site: str | None
    resource_type: str = "other"
    navigation: bool = False
    referrer: str | None = None
    gpc: tuple[str, ...] = ()
    from_browser: bool = False

    @property
    def url(self) -> str:
        return f"{self.origin}{self.path}"

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def describe_request(
    *,
    method: str,
    scheme: str,
    host: str,
    port: int,
    path: str,
    sec_fetch_site: str | None = None,
    sec_fetch_mode: str | None = None,
    sec_fetch_dest: str | None = None,
    origin: str | None = None,
    referer: str | None = None,
    accept: str | None = None,
    gpc: Sequence[str] = (),
) -> RequestInfo | None:
    """Describe a request from its target and headers; None when ``host`` is not a host.

    Never raises on header values: whatever a client sends in ``Origin`` or
    ``Referer`` is either a usable host or no information.
    """
    target = canonical_host(host)
    if target is None:
        return None
    fetch_site = sec_fetch_site.strip().lower() if sec_fetch_site else None
    mode = sec_fetch_mode.strip().lower() if sec_fetch_mode else None
    dest = sec_fetch_dest.strip().lower() if sec_fetch_dest else None
    from_browser = bool(fetch_site or mode or dest)
    top_level = mode == "navigate" and dest in ("document", None)
    site: str | None
    if top_level or fetch_site == "none":
        site = target
    else:
        initiator = None
        if origin and origin.strip() != "null":
            initiator = url_host(origin)
        if initiator is None and referer:
            initiator = url_host(referer)
        if initiator is not None:
            site = initiator
        elif fetch_site == "cross-site":
            site = None
        else:
            site = target
    rtype = resource_type(dest, accept)
    if top_level:
        rtype = "main_frame"
    navigation = top_level or (not from_browser and rtype in ("main_frame", "other"))
    return RequestInfo(
        method=method.upper(),
        scheme=scheme.lower(),
        host=target,
        port=port,
        path=path or "/",
        site=site,
        resource_type=rtype,
        navigation=navigation,
        referrer=referer,
        gpc=tuple(gpc),
        from_browser=from_browser,
    )
