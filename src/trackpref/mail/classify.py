"""Deciding, for one image or one link, whether it tracks the reader.

An image is an open pixel when its URL can tell the sender *who* opened the
message: a known open endpoint of an e-mail service, the recipient's address
(plain, hashed or base64) in the URL, an open-tracking path with a token, or a
tiny or hidden image whose URL is dynamic or carries an opaque token. A link is
a click tracker when it is a known click endpoint, wraps another site's URL,
sits on a tracking host behind an opaque token, or carries a per-recipient
tracking parameter.

Decided on purpose (docs/mail.md): a tiny image from a static URL without any
token (the classic ``spacer.gif``) is *not* a pixel, and neither is a hidden
static image (responsive mails hide the desktop or mobile variant). Any remote
image tells the sender's server that *someone* opened the mail from some
address; only a URL that varies per recipient says who. Blocking all remote
content is the mail client's job, not this detector's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import NamedTuple

from .endpoints import EndpointKind, EndpointTable
from .html_scan import ImageTag
from .redirects import embedded_url
from .report import Tracker, TrackerKind
from .tokens import (
    IMAGE_EXTENSIONS,
    NO_RECIPIENTS,
    RecipientForms,
    find_recipient,
    is_digest_name,
    is_token,
    split_extension,
)
from .urls import URLParts, registrable_domain, same_site, split_url, strip_query_keys

__all__ = [
    "MessageContext",
    "URLFacts",
    "classify_image",
    "classify_image_values",
    "classify_link",
    "clear_verdict_caches",
    "is_clickish",
    "is_functional",
    "tracking_host_label",
    "url_facts",
]

#: Query parameters of image CDNs (resizing, format, cache busting by version).
_BENIGN_IMAGE_PARAMS = frozenset(
    {
        "v",
        "ver",
        "version",
        "w",
        "h",
        "width",
        "height",
        "fit",
        "crop",
        "auto",
        "fm",
        "format",
        "q",
        "quality",
        "dpr",
        "rect",
        "bg",
        "blur",
        "sharp",
        "trim",
        "ixlib",
        "itok",
        "resize",
        "size",
        "scale",
        "mode",
    }
)
_CLICKISH = frozenset(
    {
        "click",
        "clicks",
        "c",
        "l",
        "r",
        "ls",
        "redirect",
        "redir",
        "track",
        "trk",
        "link",
        "links",
        "out",
        "go",
        "goto",
        "away",
        "exit",
        "external",
        "url",
        "tracking",
    }
)
#: Words that mark a link as doing something for the reader with their identity:
#: leaving the list, managing it, reading the web version, signing in, an order.
_FUNCTIONAL = (
    "unsubscribe",
    "unsub",
    "optout",
    "opt-out",
    "opt_out",
    "opt out",
    "preference",
    "manage",
    "subscription",
    "profile",
    "webversion",
    "web-version",
    "web version",
    "view-online",
    "viewonline",
    "view online",
    "in browser",
    "in your browser",
    "view-in-browser",
    "reset",
    "password",
    "verify",
    "confirm",
    "activate",
    "login",
    "log in",
    "signin",
    "sign-in",
    "sign in",
    "invitation",
    "order",
    "package",
    "shipment",
    "delivery",
    "receipt",
    "invoice",
)

#: Any of the words, anywhere: one search instead of one per word.
_FUNCTIONAL_WORDS = re.compile("|".join(re.escape(word) for word in _FUNCTIONAL))


#: Path segments of sign-in pages, whose ``next``/``continue`` URL is not a redirect target.
_AUTH_WORDS = frozenset(
    {
        "login",
        "log-in",
        "signin",
        "sign-in",
        "servicelogin",
        "sso",
        "oauth",
        "oauth2",
        "auth",
        "authorize",
        "authenticate",
    }
)


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the detectors know about the message a URL came from."""

    table: EndpointTable
    recipients: RecipientForms = NO_RECIPIENTS
    functional_urls: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class URLFacts:
    parts: URLParts
    tokens: tuple[str, ...]
    query_token: bool
    extension: str
    benign_query: bool

    @property
    def has_token(self) -> bool:
        return bool(self.tokens)

    @property
    def static(self) -> bool:
        """A plain image file: image extension, no query beyond resizing."""
        return self.extension in IMAGE_EXTENSIONS and self.benign_query


@lru_cache(maxsize=32768)
def url_facts(parts: URLParts) -> URLFacts:
    segments = parts.segments
    if segments and is_digest_name(segments[-1]):
        segments = segments[:-1]
    tokens = [s for s in segments if is_token(s)]
    query_token = False
    benign = True
    for key, value in parts.query:
        lowered = key.lower()
        if lowered not in _BENIGN_IMAGE_PARAMS:
            benign = False
        for candidate in (value, key) if not value else (value,):
            if is_token(candidate):
                tokens.append(candidate)
                query_token = True
    extension = split_extension(parts.segments[-1])[1] if parts.segments else ""
    return URLFacts(parts, tuple(tokens), query_token, extension, benign)


def tracking_host_label(parts: URLParts, table: EndpointTable) -> str | None:
    """The subdomain label that marks a tracking host (``click.``, ``links2.``)."""
    site = registrable_domain(parts.host)
    if len(parts.host) <= len(site):
        return None
    for label in parts.host[: -len(site) - 1].split("."):
        bare = label.lower().rstrip("0123456789")
        if bare in table.tracking_host_labels:
            return label.lower()
    return None


def is_clickish(parts: URLParts) -> bool:
    for segment in parts.segments:
        stem = split_extension(segment)[0].lower()
        if stem in _CLICKISH:
            return True
    return False


def is_functional(
    parts: URLParts, text: str = "", functional_urls: frozenset[str] = frozenset()
) -> bool:
    """Does the link serve the reader (unsubscribe, sign in, an order)?

    Such links carry the recipient's identity because they must; that alone
    does not make them trackers.
    """
    if parts.url in functional_urls:
        return True
    haystack = (parts.path + "?" + parts.raw_query + " " + text).lower()
    return _FUNCTIONAL_WORDS.search(haystack) is not None


def _is_tiny(w: float | None, h: float | None) -> bool:
    if w is None and h is None:
        return False
    if (w is not None and w <= 0) or (h is not None and h <= 0):
        return True
    return (w is None or w <= 2) and (h is None or h <= 2)


def _size_text(w: float | None, h: float | None) -> str:
    def fmt(v: float | None) -> str:
        return "?" if v is None else f"{v:g}"

    return f"{fmt(w)}×{fmt(h)} image"


def _has_token(parts: URLParts) -> bool:
    return url_facts(parts).has_token


#: Results for URLs up to this length are remembered across messages.
_MAX_CACHED_URL = 2048


def classify_image(img: ImageTag, ctx: MessageContext) -> Tracker | None:
    return classify_image_values(img.src, img.width, img.height, img.hidden, ctx)


def classify_image_values(
    src: str, width: float | None, height: float | None, hidden: str | None, ctx: MessageContext
) -> Tracker | None:
    """``classify_image`` for an image read as values (``html_scan.scan_html_values``)."""
    parts = split_url(src)
    if parts is None:
        return None
    # Only the recipient check depends on the message; the rest is the same
    # wherever the image recurs (a logo in every newsletter of a sender).
    who = find_recipient(parts, ctx.recipients)
    if len(src) <= _MAX_CACHED_URL:
        return _image_verdict(src, width, height, hidden, who, ctx.table)
    return _image_verdict.__wrapped__(src, width, height, hidden, who, ctx.table)


@lru_cache(maxsize=8192)
def _image_verdict(
    src: str,
    width: float | None,
    height: float | None,
    hidden: str | None,
    who: str | None,
    table: EndpointTable,
) -> Tracker | None:
    parts = split_url(src)
    if parts is None:
        return None
    reasons: list[str] = []
    service: str | None = None
    match = table.match(
        EndpointKind.OPEN,
        parts.host,
        parts.segments,
        parts.query_keys,
        partial(_has_token, parts),
    )
    if match is not None:
        reasons.append(match.describe(EndpointKind.OPEN))
        service = match.service
    if who:
        reasons.append(f"{who} in the image URL")
    tiny = _is_tiny(width, height)
    if not reasons:
        generic = table.generic_open_path(parts.segments)
        if generic or tiny or hidden:
            facts = url_facts(parts)
            if generic and (facts.has_token or tiny or hidden):
                reasons.append(
                    f"open-tracking path {generic}"
                    + (
                        " with an opaque token"
                        if facts.has_token
                        else f" on a {_size_text(width, height)}"
                    )
                )
            elif tiny and (facts.has_token or not facts.static):
                why = "an opaque token" if facts.has_token else "a dynamic URL"
                reasons.append(f"{_size_text(width, height)} with {why}")
            elif hidden and (facts.query_token or not facts.static):
                why = "an opaque token" if facts.query_token else "a dynamic URL"
                reasons.append(f"hidden image ({hidden}) with {why}")
        else:
            label = tracking_host_label(parts, table)
            if label:
                facts = url_facts(parts)
                if facts.has_token and not facts.static:
                    reasons.append(f"image from tracking host {label}.… with an opaque token")
    if not reasons:
        return None
    if match is not None or who:
        if tiny:
            reasons.append(_size_text(width, height))
        elif hidden:
            reasons.append(f"hidden ({hidden})")
    return Tracker(src, TrackerKind.PIXEL, "; ".join(reasons), service=service)


def _signs_in(parts: URLParts) -> bool:
    for segment in parts.segments:
        stem = split_extension(segment)[0].lower()
        if stem in _AUTH_WORDS:
            return True
    return False


def _wraps(parts: URLParts, inner: URLParts, known: bool, table: EndpointTable) -> bool:
    """Is an embedded URL a redirect destination?

    Not when the link only carries it (a share button, a calendar entry), nor
    when it is where a sign-in page returns to (``/login?next=``, SSO's
    ``continue=``): those send the reader on as a service, not to count a click.
    """
    if known:
        return True
    if table.is_url_carrier(parts.host, parts.segments) or _signs_in(parts):
        return False
    return not same_site(parts.host, inner.host) or is_clickish(parts)


def _opaque_tracker(parts: URLParts, table: EndpointTable) -> bool:
    token = partial(_has_token, parts)
    if table.match(EndpointKind.CLICK, parts.host, parts.segments, parts.query_keys, token):
        return True
    return bool(tracking_host_label(parts, table)) and token()


def _resolve(url: str, table: EndpointTable, depth: int = 0) -> str | None:
    """Where a wrapped link finally goes, if every layer says so openly."""
    if len(url) <= _MAX_CACHED_URL:
        return _resolved(url, table, depth)
    return _resolved.__wrapped__(url, table, depth)


@lru_cache(maxsize=8192)
def _resolved(url: str, table: EndpointTable, depth: int) -> str | None:
    # Cached: every copy of a campaign wraps the same destinations, each in a
    # wrapper of its own.
    parts = split_url(url)
    if parts is None:
        return None
    found = embedded_url(parts)
    if found is not None and depth < 4:
        inner = split_url(found[0])
        known = _opaque_tracker(parts, table)
        if inner is not None and _wraps(parts, inner, known, table):
            return _resolve(found[0], table, depth + 1)
    if _opaque_tracker(parts, table):
        return None
    params = _tracking_params(parts, table)
    return strip_query_keys(parts.url, frozenset(params)) if params else parts.url


def _tracking_params(parts: URLParts, table: EndpointTable) -> list[str]:
    return [key.lower() for key, _ in parts.query if key.lower() in table.tracking_params]


class _LinkFacts(NamedTuple):
    """What a link's URL says whatever message it is in and whatever its text.

    A named tuple, not a frozen dataclass: one is built for every new URL of
    every message, and a tuple is built in a fraction of the time.
    """

    parts: URLParts
    reasons: tuple[str, ...]
    service: str | None
    target: str | None
    wrapped: bool
    opaque: bool
    #: The tracking-host label, when the host is one and the URL has a token.
    host_label: str | None
    #: The per-recipient tracking parameters' reason, owner and the URL without them.
    params_reason: str | None
    params_owner: str | None
    stripped: str | None


@lru_cache(maxsize=8192)
def _link_facts(href: str, table: EndpointTable) -> _LinkFacts | None:
    parts = split_url(href)
    if parts is None:
        return None
    reasons: list[str] = []
    service: str | None = None
    target: str | None = None
    token = partial(_has_token, parts)
    match = table.match(EndpointKind.CLICK, parts.host, parts.segments, parts.query_keys, token)
    if match is not None:
        reasons.append(match.describe(EndpointKind.CLICK))
        service = match.service
    found = embedded_url(parts)
    wrapped = False
    if found is not None:
        inner = split_url(found[0])
        if inner is not None and _wraps(parts, inner, match is not None, table):
            wrapped = True
            if match is None:
                reasons.append(f"redirect wrapper (destination in its {found[1]})")
            target = _resolve(found[0], table)
    host_label = None
    if not reasons:
        label = tracking_host_label(parts, table)
        if label and token():
            host_label = label
    params = _tracking_params(parts, table)
    params_reason = params_owner = stripped = None
    if params:
        names = ", ".join(params)
        owners = sorted({table.tracking_params[p] for p in params})
        params_reason = f"per-recipient tracking parameter {names} ({', '.join(owners)})"
        params_owner = owners[0]
        stripped = strip_query_keys(parts.url, frozenset(params))
    return _LinkFacts(
        parts=parts,
        reasons=tuple(reasons),
        service=service,
        target=target,
        wrapped=wrapped,
        opaque=match is not None,
        host_label=host_label,
        params_reason=params_reason,
        params_owner=params_owner,
        stripped=stripped,
    )


def classify_link(href: str, text: str, ctx: MessageContext) -> Tracker | None:
    # The URL's own analysis is remembered (the same link recurs in the text
    # part and in the next newsletter); its text and the recipients are not.
    if len(href) <= _MAX_CACHED_URL:
        facts = _link_facts(href, ctx.table)
    else:
        facts = _link_facts.__wrapped__(href, ctx.table)
    if facts is None:
        return None
    parts = facts.parts
    reasons = list(facts.reasons)
    service = facts.service
    target = facts.target
    opaque = facts.opaque
    if not reasons and facts.host_label and not is_functional(parts, text, ctx.functional_urls):
        reasons.append(f"tracking host {facts.host_label}.… with an opaque token")
        opaque = True
    if facts.params_reason:
        reasons.append(facts.params_reason)
        service = service or facts.params_owner
        if not facts.wrapped and not opaque:
            target = facts.stripped
    if not reasons:
        who = find_recipient(parts, ctx.recipients)
        if who and not is_functional(parts, text, ctx.functional_urls):
            reasons.append(f"{who} in the link")
    if not reasons:
        return None
    return Tracker(href, TrackerKind.CLICK, "; ".join(reasons), service=service, target=target)


def clear_verdict_caches() -> None:
    for cached in (url_facts, _image_verdict, _link_facts, _resolved):
        cached.cache_clear()
