"""Parties: hosts, sites and who is first or third party for a request.

TPE and TCS speak of *parties* (a legal entity and the domains it controls),
but a server only sees host names. The bridge is the Public Suffix List: two
hosts under one registrable domain (eTLD+1) belong to one *site*, and a site
declares in its TSR which other domains are the same party (``same-party``) or
act for it (service providers). The list comes from the ``publicsuffixlist``
package's bundled copy: trackpref never downloads anything at run time, and
updating the list is a package upgrade that a person can review.

Hosts are compared only in one canonical form (:func:`normalize_host`): lower
case, no trailing dot, IDNA A-labels, IP literals in their canonical text. Any
other form would let ``Example.COM.`` and ``example.com`` be two parties.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from .decisions import PartyRole
from .errors import SignalError

__all__ = [
    "MAX_HOST_INPUT",
    "PartyMap",
    "RequestContext",
    "can_set_cookie",
    "classify_request",
    "domain_matches",
    "host_from_authority",
    "host_from_url",
    "is_ip_address",
    "is_public_suffix",
    "normalize_host",
    "registrable_domain",
    "same_site",
    "site_of",
]

#: Longer input is refused before any work: a DNS name is at most 253 octets,
#: and an IDN in Unicode form is shorter than its A-label form.
MAX_HOST_INPUT = 1024

_MAX_NAME = 253
_MAX_LABEL = 63
# Letters, digits and hyphens (RFC 1123), plus underscore: DNS allows it, browsers
# accept it in host names, and TSR examples use it (``example_vids.net``).
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
# WHATWG URL: a host whose last label is a number is parsed as an IPv4 address, so
# such a name is either a valid address or garbage, never a domain.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_PORT = re.compile(r"[0-9]{1,5}")


@functools.cache
def _psl() -> PublicSuffixList:
    """The bundled list, parsed once (about 0.1 s) on first use and then shared.

    ``accept_unknown`` keeps its default: an unlisted TLD (``.test``,
    ``.internal``) is treated as a public suffix, as browsers do.
    """
    return PublicSuffixList()


def _garbage(host: object, why: str) -> SignalError:
    shown = host[:80] + "…" if isinstance(host, str) and len(host) > 80 else host
    return SignalError(f"host {shown!r}: {why}", field="host")


def _to_ascii_label(label: str, host: str) -> str:
    """One label to its ASCII form (UTS #46 ToASCII, non-transitional).

    The mapping step (case folding, full-width forms, NFC) is done for the whole
    name by the caller; here a Unicode label becomes ``xn--`` + Punycode. The
    IDNA2008 code point table is stricter than browsers (it refuses symbols such
    as U+2603), so it is not applied: two agents must agree on the same A-label
    for a name a browser accepts, and the mapping step already refused the
    characters UTS #46 disallows.
    """
    if label.isascii():
        return label
    try:
        return "xn--" + label.encode("punycode").decode("ascii")
    except (UnicodeError, ValueError) as exc:
        raise _garbage(host, f"label {label!r} cannot be encoded with IDNA") from exc


def _check_a_label(label: str, host: str) -> None:
    """An ``xn--`` label must be the one canonical spelling of a Unicode label,
    or two spellings could claim one name."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
        canonical = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
        ok = (
            bool(decoded)
            and not decoded.isascii()
            and canonical == decoded
            and decoded.encode("punycode").decode("ascii") == label[4:]
        )
    except (UnicodeError, ValueError, IndexError, OverflowError) as exc:
        raise _garbage(host, f"label {label!r} is not valid Punycode") from exc
    if not ok:
        raise _garbage(host, f"label {label!r} is not a canonical IDNA A-label")


def _normalize_ip(text: str) -> str | None:
    """Canonical text of an IP literal (IPv6 with or without brackets), else None."""
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ":" in inner or inner != text:
        if "%" in inner:  # zone ids are local to one machine, never a site
            return None
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def normalize_host(host: str) -> str:
    """The canonical form of a host name or IP literal.

    Lower case, one trailing dot removed, IPv6 brackets removed, Unicode labels
    converted to IDNA A-labels, IP addresses in their canonical text. The result
    is a fixed point: normalizing it again returns it unchanged.

    Raises:
        SignalError: with ``field="host"`` for anything that is not a host:
            the wrong type, empty, too long, a port or path, whitespace or
            control characters, an empty label, an invalid IP literal.
    """
    if not isinstance(host, str):
        raise _garbage(host, f"expected a string, not {type(host).__name__}")
    if not host:
        raise _garbage(host, "empty")
    if len(host) > MAX_HOST_INPUT:
        raise _garbage(host, f"longer than {MAX_HOST_INPUT} characters")
    if host.startswith("[") or (host.count(":") > 1 and host.isascii()):
        ip = _normalize_ip(host)
        if ip is None:
            raise _garbage(host, "not a valid IPv6 address")
        return ip
    name = host[:-1] if host.endswith(".") else host
    if name.isascii():
        name = name.lower()
    else:
        try:
            name = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
            raise _garbage(host, "contains characters not allowed in a host name") from exc
        name = name.removesuffix(".")  # the mapping can turn U+3002 into a dot
    labels = name.split(".")
    if "" in labels:
        raise _garbage(host, "has an empty label")
    labels = [_to_ascii_label(label, host) for label in labels]
    for label in labels:
        if not _LABEL.fullmatch(label):
            if len(label) > _MAX_LABEL:
                raise _garbage(host, f"label longer than {_MAX_LABEL} characters")
            bad = next((c for c in label if not _LABEL.fullmatch(c)), label[:1])
            raise _garbage(host, f"character {bad!r} is not allowed in a host name")
        if label.startswith("xn--"):
            _check_a_label(label, host)
    name = ".".join(labels)
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        ip = _normalize_ip(name)
        if ip is None:
            raise _garbage(host, "ends in a number but is not a valid IPv4 address")
        return ip
    if len(name) > _MAX_NAME:
        raise _garbage(host, f"longer than {_MAX_NAME} characters")
    return name


def is_ip_address(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (after normalization)."""
    h = normalize_host(host)
    return _normalize_ip(h) == h


def host_from_authority(authority: str) -> str:
    """The normalized host of a ``Host`` header or URL authority (``host[:port]``).

    A bare IPv6 address (several colons, no brackets) is read as an address, not
    as host and port, since no port can follow an unbracketed IPv6 literal.

    Raises:
        SignalError: for userinfo, a malformed port or a host that is not one.
    """
    if not isinstance(authority, str):
        raise _garbage(authority, f"expected a string, not {type(authority).__name__}")
    if "@" in authority:
        raise _garbage(authority, "an authority for a request target has no userinfo")
    host = authority
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise _garbage(authority, "unterminated IPv6 literal")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            raise _garbage(authority, f"unexpected {rest!r} after the IPv6 literal")
    elif authority.count(":") == 1:
        host, port = authority.split(":")
        if port and not _PORT.fullmatch(port):
            raise _garbage(authority, f"port {port!r} is not a number")
    return normalize_host(host)


def host_from_url(url: str) -> str | None:
    """The normalized host of an ``http(s)`` URL or origin, or None.

    For headers a client controls (``Origin``, ``Referer``): anything that is
    not an http(s) URL with a valid host, including the opaque origin ``null``,
    is "no information", never an exception.
    """
    if not isinstance(url, str) or len(url) > 8192:
        return None
    try:
        parts = urlsplit(url.strip())
        raw = parts.hostname
        parts.port  # noqa: B018  (raises on a port out of range: a malformed URL)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not raw:
        return None
    try:
        return normalize_host(raw)
    except SignalError:
        return None


def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1) of ``host``.

    An IP address and a single-label host that the list does not name
    (``localhost``, an intranet name) are their own site, as in browsers. A host
    that is itself a public suffix (``com``, ``co.uk``, ``github.io``) has no
    registrable domain: None.

    Raises:
        SignalError: when ``host`` is not a host (see :func:`normalize_host`).
    """
    h = normalize_host(host)
    return _registrable(h)


@functools.lru_cache(maxsize=4096)
def _registrable(h: str) -> str | None:
    if _normalize_ip(h) == h:
        return h
    psl = _psl()
    if "." not in h:
        return None if psl.is_public(h, accept_unknown=False) else h
    result: str | None = psl.privatesuffix(h)
    return result


def is_public_suffix(host: str) -> bool:
    """True when ``host`` is a public suffix: no one can register cookies on it.

    A single-label name is one even when the list does not name it (``test``,
    ``internal``, ``lan``): the list's default rule makes every unknown
    top-level label a suffix, and browsers refuse ``Domain=test`` from
    ``a.test``. Such a name is still its own site (:func:`site_of`) when it is
    the whole host, as ``localhost`` is.
    """
    h = normalize_host(host)
    return ("." not in h and _normalize_ip(h) != h) or _registrable(h) is None


def site_of(host: str) -> str:
    """The site key of ``host``: its registrable domain, or the host itself when
    it is a public suffix (a page served from ``github.io`` is its own site)."""
    h = normalize_host(host)
    return _registrable(h) or h


def same_site(a: str, b: str) -> bool:
    """Do ``a`` and ``b`` belong to one site (the same registrable domain)?

    Scheme is ignored: TPE parties are scoped by domain, like cookies.
    """
    return site_of(a) == site_of(b)


def _cookie_domain(domain: str) -> str:
    # RFC 6265 §5.2.3: a leading dot in a Domain attribute is ignored.
    return normalize_host(domain[1:] if isinstance(domain, str) and domain[:1] == "." else domain)


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3 domain-match: ``host`` equals ``domain`` or is a
    subdomain of it; an IP address matches only itself."""
    h = normalize_host(host)
    d = _cookie_domain(domain)
    if h == d:
        return True
    return h.endswith("." + d) and _normalize_ip(h) != h


def can_set_cookie(script_host: str, domain: str) -> bool:
    """Could a script on ``script_host`` set a cookie with ``Domain=domain``?

    This is TPE's test for the scope a script may grant or revoke exceptions
    on: ``www.foo.bar.example.com`` may use ``bar.example.com`` or
    ``example.com``, not ``something.else.example.com`` nor ``com``. As in
    RFC 6265 §5.3 step 5, a public suffix is refused unless it is the script's
    own host (then the cookie is host-only, still "on that domain").
    """
    if not domain_matches(script_host, domain):
        return False
    d = _cookie_domain(domain)
    return d == normalize_host(script_host) or not is_public_suffix(d)


def _as_domains(values: Iterable[str] | str, member: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise SignalError(f"{member}: expected a sequence of domains", field=member)
    out: list[str] = []
    for v in values:
        try:
            d = normalize_host(v)
        except SignalError as exc:
            raise SignalError(f"{member}: {exc.message}", field=member) from exc
        if is_public_suffix(d):
            raise SignalError(
                f"{member}: {d!r} is a public suffix and cannot belong to one party",
                field=member,
            )
        if d not in out:
            out.append(d)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PartyMap:
    """The domains a site declares as one party, and who processes for it.

    ``first_party`` are the party's own domains; ``same_party`` the TSR
    ``same-party`` list (other domains of the same controller);
    ``service_providers`` the domains of processors acting for it, which TPE
    counts as the same party only while they act as such. Each entry covers
    itself and its subdomains (a cookie domain-match), so a service provider
    can be named by one host (``metrics.provider.example``) without claiming
    the provider's other customers. Public suffixes are refused: ``com`` as a
    party domain would make every site first party.
    """

    first_party: tuple[str, ...]
    same_party: tuple[str, ...] = ()
    service_providers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_party", _as_domains(self.first_party, "first_party"))
        object.__setattr__(self, "same_party", _as_domains(self.same_party, "same_party"))
        object.__setattr__(
            self, "service_providers", _as_domains(self.service_providers, "service_providers")
        )

    def role_of(self, host: str) -> PartyRole:
        """The role ``host`` plays for this party.

        Raises:
            SignalError: when ``host`` is not a host.
        """
        h = normalize_host(host)
        if any(domain_matches(h, d) for d in (*self.first_party, *self.same_party)):
            return PartyRole.FIRST_PARTY
        if any(domain_matches(h, d) for d in self.service_providers):
            return PartyRole.SERVICE_PROVIDER
        return PartyRole.THIRD_PARTY


@dataclass(frozen=True, slots=True)
class RequestContext:
    """This server's role for one request, the site it serves, and why."""

    role: PartyRole
    site: str | None
    reason: str


_SAME = {"same-origin", "same-site"}


def _initiator(origin: str | None, referer: str | None) -> tuple[str, str] | None:
    """The host that started the request and the header that said so."""
    for name, value in (("Origin", origin), ("Referer", referer)):
        if value is not None:
            host = host_from_url(value)
            if host is not None:
                return host, name
    return None


def classify_request(
    *,
    host: str,
    sec_fetch_site: str | None = None,
    origin: str | None = None,
    referer: str | None = None,
    parties: PartyMap | None = None,
    sec_fetch_mode: str | None = None,
    sec_fetch_dest: str | None = None,
) -> RequestContext:
    """Is this server a first or a third party for this request?

    TPE: the first party is the one the user intends to interact with. A
    user-initiated navigation (``Sec-Fetch-Site: none``), a top-level navigation
    (``Sec-Fetch-Mode: navigate`` with ``Sec-Fetch-Dest: document``, when
    given) and a same-origin or same-site request make this server first party;
    any other cross-site request makes it a third party, unless the initiating
    site is declared the same party in ``parties``. Without ``Sec-Fetch-Site``
    (older agents, non-browsers) the ``Origin`` and then the ``Referer`` host
    is compared by registrable domain. With none of them, this server is
    assumed first party and the reason says so.

    ``host`` is this server's host, with or without a port (a ``Host`` header
    value). When ``parties`` lists this host as a service provider, a request
    in the party's context gets :attr:`PartyRole.SERVICE_PROVIDER`.

    Client-controlled headers never raise: a malformed or opaque ``Origin`` or
    ``Referer`` is no information, an unknown ``Sec-Fetch-Site`` is ignored.

    Raises:
        SignalError: when ``host`` is not a host (a bad ``Host`` header: the
            adapter answers 400).
    """
    me = host_from_authority(host)
    my_site = site_of(me)
    first = PartyRole.FIRST_PARTY
    if parties is not None and parties.role_of(me) is PartyRole.SERVICE_PROVIDER:
        first = PartyRole.SERVICE_PROVIDER

    def in_party(other: str) -> bool:
        if site_of(other) == my_site:
            return True
        return parties is not None and parties.role_of(other) is not PartyRole.THIRD_PARTY

    initiated = _initiator(origin, referer)
    fetch_site = sec_fetch_site.strip() if isinstance(sec_fetch_site, str) else None

    if fetch_site in _SAME:
        return RequestContext(first, my_site, f"Sec-Fetch-Site: {fetch_site}")
    if fetch_site == "none":
        return RequestContext(first, my_site, "Sec-Fetch-Site: none (user-initiated navigation)")
    if fetch_site == "cross-site":
        mode = sec_fetch_mode.strip() if isinstance(sec_fetch_mode, str) else None
        dest = sec_fetch_dest.strip() if isinstance(sec_fetch_dest, str) else None
        if mode == "navigate" and dest == "document":
            return RequestContext(
                first, my_site, "Sec-Fetch-Site: cross-site, but a top-level navigation"
            )
        if initiated is None:
            return RequestContext(PartyRole.THIRD_PARTY, None, "Sec-Fetch-Site: cross-site")
        other, header = initiated
        if parties is not None and parties.role_of(other) is not PartyRole.THIRD_PARTY:
            return RequestContext(
                first,
                site_of(other),
                f"Sec-Fetch-Site: cross-site, but {header} host {other} is declared the same party",
            )
        return RequestContext(
            PartyRole.THIRD_PARTY,
            site_of(other),
            f"Sec-Fetch-Site: cross-site ({header} host {other})",
        )

    if initiated is not None:
        other, header = initiated
        other_site = site_of(other)
        if other_site == my_site:
            return RequestContext(first, my_site, f"{header} host {other} is this site")
        if in_party(other):
            return RequestContext(
                first, other_site, f"{header} host {other} is declared the same party"
            )
        return RequestContext(
            PartyRole.THIRD_PARTY, other_site, f"{header} host {other} is another site"
        )
    return RequestContext(
        first,
        my_site,
        "no Sec-Fetch-Site, Origin or Referer: assumed first party (a direct request)",
    )
