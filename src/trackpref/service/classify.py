"""Coarse dimensions from request headers: device, OS, region, referrer domain, signal.

Each reduces something identifying to a handful of values before anything is
kept: the User-Agent to a device class and an OS family (never the full
string, which is a fingerprinting vector), ``Accept-Language`` to the country
of the first language (``fr-CA`` -> ``CA``; the person's location is never
looked up), a referrer to its registrable domain. The signal class is what
the browser *said* (for adoption statistics), not the resolved preference.

The functions are pure and cached with bounded caches: a site sees a few
hundred distinct User-Agents a day, and the hot path must not re-scan them.
"""

from __future__ import annotations

from functools import lru_cache

from ..signals.errors import SignalError
from ..signals.parties import registrable_domain

__all__ = [
    "DEVICES",
    "SIGNALS",
    "device_of",
    "referrer_domain",
    "region_of",
    "signal_class",
]

DEVICES = ("desktop", "mobile", "tablet", "bot", "other")
#: Mutually exclusive, strongest first: a browser sending both Sec-GPC: 1 and
#: DNT: 1 counts as GPC (the living signal), as adoption studies count it.
SIGNALS = ("gpc", "dnt1", "dnt0", "unset")
DIRECT = "(direct)"
INTERNAL = "(internal)"
NONE = "(none)"

_BOTS = ("bot", "crawler", "spider", "slurp", "headless", "curl/", "wget/", "python-")


@lru_cache(maxsize=4096)
def device_of(user_agent: str | None) -> tuple[str, str]:
    """(device class, OS family) of a User-Agent string."""
    if not user_agent:
        return "other", "other"
    ua = user_agent.lower()
    if any(b in ua for b in _BOTS):
        device = "bot"
    elif "ipad" in ua or "tablet" in ua or ("android" in ua and "mobile" not in ua):
        device = "tablet"
    elif "mobi" in ua or "iphone" in ua or "ipod" in ua:
        device = "mobile"
    elif "windows" in ua or "macintosh" in ua or "x11" in ua or "cros" in ua or "linux" in ua:
        device = "desktop"
    else:
        device = "other"
    if "android" in ua:
        os = "android"
    elif "iphone" in ua or "ipad" in ua or "ipod" in ua:
        os = "ios"
    elif "windows" in ua:
        os = "windows"
    elif "cros" in ua:
        os = "chromeos"
    elif "macintosh" in ua or "mac os x" in ua:
        os = "macos"
    elif "linux" in ua or "x11" in ua:
        os = "linux"
    else:
        os = "other"
    return device, os


@lru_cache(maxsize=1024)
def region_of(accept_language: str | None) -> str:
    """The region subtag of the most preferred language with one (``en-US`` -> ``US``)."""
    if not accept_language or len(accept_language) > 512:
        return NONE
    best_q = 0.0
    best = NONE
    for part in accept_language.split(",")[:16]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        subtags = tag.strip().split("-")
        region = next((s for s in subtags[1:] if len(s) == 2 and s.isascii() and s.isalpha()), None)
        if region is not None and q > best_q:  # ties: the first listed wins
            best_q, best = q, region.upper()
    return best


@lru_cache(maxsize=8192)
@lru_cache(maxsize=8192)
def referrer_domain(referrer_host: str | None, page_host: str | None) -> str:
    """The registrable domain of the referrer; ``(direct)`` or ``(internal)``."""
    if not referrer_host:
        return DIRECT
    try:
        ref = registrable_domain(referrer_host) or referrer_host
        if page_host is not None and ref == (registrable_domain(page_host) or page_host):
            return INTERNAL
    except SignalError:
        return DIRECT
    return ref


def signal_class(dnt: str | None, gpc: bool) -> str:
    """Which signal the browser sent: ``gpc``, ``dnt1``, ``dnt0`` or ``unset``."""
    if gpc:
        return "gpc"
    if dnt == "1":
        return "dnt1"
    if dnt == "0":
        return "dnt0"
    return "unset"
