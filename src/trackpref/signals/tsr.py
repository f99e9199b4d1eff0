"""The Tracking Status Resource (TPE §6.4–6.5): a site's public tracking claim.

A TSR is a claim a regulator, a researcher or a user agent can hold a site to,
so this module is strict in both directions. :func:`parse_tsr` reports every
rule a representation breaks in one :class:`ValidationError`, because a site
owner fixing a TSR wants the whole list, and :func:`check_tsr_response` adds the
HTTP rules (status, media type, no cookies, caching) and returns the problems
as data, because an auditor records a broken TSR rather than crashing on it.

Unknown members are kept in :attr:`TrackingStatusResource.extra`, read-only and
ignored by every rule here, as TPE §6.5 requires of readers; an unknown
extension status is read as ``P`` (:func:`effective_tracking`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from .errors import SignalError, ValidationError
from .parties import normalize_host
from .tracking_status import TSV, effective_status, is_tsv, is_tsv_extension

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_TSR_BYTES",
    "MEMBER_NAMES",
    "SITE_WIDE_TSR_PATH",
    "TSR_MEDIA_TYPE",
    "TSRCheck",
    "TrackingStatusResource",
    "check_tsr_redirect",
    "check_tsr_response",
    "decode_json_object",
    "effective_tracking",
    "parse_tsr",
]

#: TPE §6.5.1: the only media type a TSR may be served as, with no parameters.
TSR_MEDIA_TYPE: Final = "application/tracking-status+json"
#: The site-wide TSR; request-specific ones are ``SITE_WIDE_TSR_PATH + status_id``.
SITE_WIDE_TSR_PATH: Final = "/.well-known/dnt/"
#: A real TSR is a few hundred bytes. TPE sets no limit; a parser must, so that a
#: hostile origin cannot make an auditor decode megabytes of JSON.
MAX_TSR_BYTES: Final = 64 * 1024

#: The members TPE §6.5 defines, in the order :meth:`TrackingStatusResource.to_dict` writes them.
MEMBER_NAMES: Final = (
    "tracking",
    "compliance",
    "qualifiers",
    "controller",
    "same-party",
    "audit",
    "policy",
    "config",
)
_ARRAY_MEMBERS: Final = ("compliance", "controller", "same-party", "audit")
_STRING_MEMBERS: Final = ("qualifiers", "policy", "config")
#: Members TPE defines as URI references (§6.5): a value no URI could be is an error.
_URI_MEMBERS: Final = frozenset(("compliance", "controller", "audit", "policy", "config"))
#: RFC 3986 §2: characters no URI reference holds, even percent-encoding aside.
_URI_FORBIDDEN: Final = frozenset('<>"{}|\\^`')
MAX_URI: Final = 2048


def uri_problem(value: str) -> str | None:
    """Why ``value`` cannot be a URI reference, or None.

    Only what no URI reference can hold is refused (whitespace, controls,
    RFC 3986's excluded characters, absurd length); relative references such
    as ``/privacy`` are fine, as TPE allows them.
    """
    if not value:
        return "empty; leave it out instead"
    if len(value) > MAX_URI:
        return f"longer than {MAX_URI} characters"
    for c in value:
        if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c in _URI_FORBIDDEN:
            return f"{value[:60]!r}: character {c!r} is not allowed in a URI reference"
    return None


_ATTRIBUTE = {name: name.replace("-", "_") for name in MEMBER_NAMES}
_MISSING: Final = object()


def _item_problem(name: str, items: Sequence[str]) -> str | None:
    """The first item of an array member that is not what TPE says it holds."""
    for i, item in enumerate(items):
        if name in _URI_MEMBERS:
            why = uri_problem(item)
            if why is not None:
                return f"[{i}] {why}"
        elif name == "same-party":
            try:
                normalize_host(item)
            except SignalError as exc:
                return f"[{i}] {item[:60]!r} is not a domain: {exc.message}"
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _member_problems(
    members: Mapping[str, object], *, request_specific: bool
) -> list[tuple[str, str]]:
    """Every rule of TPE §6.5 that ``members`` (JSON names, JSON values) breaks.

    Shared by :func:`parse_tsr` and :class:`TrackingStatusResource` so that a
    resource built in Python and one read off the wire obey the same rules.
    """
    problems: list[tuple[str, str]] = []
    tracking = members.get("tracking", _MISSING)
    status: str | None = None
    if tracking is _MISSING:
        problems.append(("tracking", "missing; every TSR must state a tracking status value"))
    elif not isinstance(tracking, str):
        problems.append(
            ("tracking", f"must be a string holding one status value, not {_json_type(tracking)}")
        )
    elif not is_tsv(tracking):
        problems.append(
            (
                "tracking",
                f"{_show(tracking)} is not a tracking status value (TPE §6.2): one of "
                "! ? G N T C P D or a single character of the extension range",
            )
        )
    elif tracking == TSV.UPDATED:
        problems.append(
            (
                "tracking",
                "'U' (updated) is only for a Tk header on the response to a "
                "state-changing request, never for a TSR",
            )
        )
    elif request_specific and tracking in (TSV.DYNAMIC, TSV.GATEWAY):
        problems.append(
            (
                "tracking",
                f"{tracking!r} is only allowed in the site-wide TSR; a request-specific "
                "TSR states the actual status (N, T, C, P, D, ! or an extension)",
            )
        )
    else:
        status = tracking

    present: dict[str, bool] = {}
    for name in _ARRAY_MEMBERS:
        value = members.get(name, _MISSING)
        if value is _MISSING:
            present[name] = False
            continue
        if not isinstance(value, list | tuple):
            problems.append((name, f"must be an array of strings, not {_json_type(value)}"))
            continue
        bad = [
            f"[{i}] is {_json_type(item)}"
            for i, item in enumerate(value)
            if not isinstance(item, str)
        ]
        if bad:
            shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
            problems.append((name, f"must be an array of strings: item {shown}"))
            continue
        why = _item_problem(name, value)
        if why is not None:
            problems.append((name, why))
            continue
        present[name] = bool(value)
    for name in _STRING_MEMBERS:
        value = members.get(name, _MISSING)
        if value is _MISSING:
            present[name] = False
        elif not isinstance(value, str):
            problems.append((name, f"must be a string, not {_json_type(value)}"))
        elif name in _URI_MEMBERS and (why := uri_problem(value)) is not None:
            problems.append((name, why))
        else:
            present[name] = True

    if status in (TSV.CONSENT, TSV.POTENTIAL_CONSENT) and present.get("config") is False:
        problems.append(
            (
                "config",
                f"required when tracking is {status!r} (TPE §6.5.8): a URI reference to "
                "where the person gives and revokes consent",
            )
        )
    if status is not None and is_tsv_extension(status) and present.get("compliance") is False:
        problems.append(
            (
                "compliance",
                f"required, and not empty, when tracking is the extension value {status!r} "
                "(TPE §6.2): list the regime that defines it",
            )
        )
    return problems


#: Deeper nesting is refused: TSRs and ``gpc.json`` are flat, and recursive
#: code (freezing, serializing) must never run out of stack on a hostile body.
MAX_JSON_DEPTH: Final = 32


def _json_value_problem(value: object) -> str | None:
    """Why ``value`` cannot round-trip through strict JSON, or ``None``."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if item is None or isinstance(item, bool | int | str):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{item!r} is not a JSON number"
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, Mapping):
            for k, v in item.items():
                if not isinstance(k, str):
                    return f"object key {k!r} is not a string"
                stack.append((v, depth + 1))
        else:
            return f"{type(item).__name__} is not a JSON value"
    return None


def _freeze(value: object) -> object:
    """A JSON value that nobody can change behind the resource's back."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def _thaw(value: object) -> object:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def _no_extra() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TrackingStatusResource:
    """One status object (TPE §6.5), as served at ``/.well-known/dnt/[status-id]``.

    ``None`` means the member is absent, which is not the same as an empty
    array: an absent ``controller`` is read as ``["/"]``
    (:attr:`effective_controller`). ``extra`` holds the members TPE does not
    define, frozen; rules ignore them, :meth:`to_dict` writes them back.
    Construction enforces the same rules as :func:`parse_tsr` (except the
    request-specific one, which depends on where the resource is served).
    """

    tracking: str
    compliance: tuple[str, ...] | None = None
    qualifiers: str | None = None
    controller: tuple[str, ...] | None = None
    same_party: tuple[str, ...] | None = None
    audit: tuple[str, ...] | None = None
    policy: str | None = None
    config: str | None = None
    extra: Mapping[str, object] = field(default_factory=_no_extra, hash=False)

    def __post_init__(self) -> None:
        members: dict[str, object] = {}
        for name in MEMBER_NAMES:
            value: object = getattr(self, _ATTRIBUTE[name])
            if isinstance(value, list):
                # A list would make the frozen resource mutable and unhashable.
                value = tuple(value)
                object.__setattr__(self, _ATTRIBUTE[name], value)
            if value is not None:
                members[name] = value
        problems = _member_problems(members, request_specific=False)
        extra: object = self.extra
        if not isinstance(extra, Mapping):
            problems.append(
                ("extra", f"must be a mapping of member names, not {_json_type(extra)}")
            )
        else:
            for key, value in extra.items():
                if not isinstance(key, str):
                    problems.append(("extra", f"member name {key!r} is not a string"))
                elif key in _ATTRIBUTE:
                    problems.append(
                        ("extra", f"{key!r} is a member TPE defines; set it through its field")
                    )
                elif (why := _json_value_problem(value)) is not None:
                    problems.append(("extra", f"member {key!r}: {why}"))
            if not problems:
                object.__setattr__(self, "extra", _freeze(extra))
        if problems:
            raise ValidationError(problems)

    def __reduce__(self) -> tuple[type[TrackingStatusResource], tuple[object, ...]]:
        # The frozen ``extra`` (a mappingproxy) cannot be pickled or deep-copied;
        # rebuilding from plain values can, and re-checks them on the way in.
        return (
            type(self),
            (
                self.tracking,
                self.compliance,
                self.qualifiers,
                self.controller,
                self.same_party,
                self.audit,
                self.policy,
                self.config,
                _thaw(self.extra),
            ),
        )

    @property
    def effective_controller(self) -> tuple[str, ...]:
        """TPE §6.5.4: no ``controller`` member means the domain owner, ``["/"]``."""
        return ("/",) if self.controller is None else self.controller

    @property
    def effective_tracking(self) -> str:
        return effective_tracking(self)

    def to_dict(self) -> dict[str, object]:
        """The JSON object, members in TPE's order, then the extra ones."""
        out: dict[str, object] = {}
        for name in MEMBER_NAMES:
            value = getattr(self, _ATTRIBUTE[name])
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        for key, value in self.extra.items():
            out[key] = _thaw(value)
        return out

    def to_json(self) -> str:
        """The representation to serve as ``application/tracking-status+json``.

        ASCII-only (non-ASCII is escaped), so ``.encode()`` can never fail and
        the bytes are the same whatever the server's default encoding.
        """
        return json.dumps(self.to_dict(), ensure_ascii=True, allow_nan=False)


def effective_tracking(tsr: TrackingStatusResource) -> str:
    """The status a recipient acts on: an unknown extension counts as ``P`` (TPE §6.2)."""
    return effective_status(tsr.tracking)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is out of the range of a double")
    return number


def decode_json_object(
    body: bytes | str, *, limit: int
) -> tuple[dict[str, object] | None, list[tuple[str, str]]]:
    """Read a well-known resource's body as one strict JSON object; never raises.

    Returns the object (``None`` if there is none) and the problems found,
    ``("body", ...)`` for the document and ``(member, ...)`` for a member given
    twice (the last one is kept, as most readers do, and the duplicate is a
    problem because readers disagree). Both well-known JSON resources
    (TSR and ``gpc.json``) are read through here.
    """
    size = len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))
    if size > limit:
        return None, [("body", f"{size} bytes, more than the {limit} a reader accepts")]
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [("body", f"not UTF-8 (byte {exc.start}); JSON must be UTF-8 (RFC 8259)")]
    else:
        text = body
    # RFC 8259 §8.1: a parser MAY ignore a byte order mark; Python's json does not.
    text = text.removeprefix("\ufeff")
    duplicates: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        obj: dict[str, object] = {}
        for key, value in items:
            if key in obj:
                duplicates.setdefault(id(obj), []).append(key)
            obj[key] = value
        return obj

    try:
        value: object = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        return None, [("body", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except (ValueError, RecursionError) as exc:
        # Too-long integers (ValueError) and absurd nesting (RecursionError).
        return None, [("body", f"not JSON a reader can accept: {exc}")]
    if not isinstance(value, dict):
        return None, [("body", f"must be one JSON object, not {_json_type(value)}")]
    why = _json_value_problem(value)
    if why is not None:
        return None, [("body", why)]
    problems = [
        (key, "given more than once; readers disagree on which one counts")
        for key in dict.fromkeys(duplicates.get(id(value), []))
    ]
    return value, problems


def parse_tsr(body: bytes | str, *, request_specific: bool = False) -> TrackingStatusResource:
    """Read a TSR representation; raise :class:`ValidationError` listing every problem.

    ``request_specific`` is true for ``/.well-known/dnt/{status-id}``, where
    ``?`` and ``G`` are not allowed (TPE §6.2). Unknown members are kept in
    ``extra`` and ignored.
    """
    members, problems = decode_json_object(body, limit=MAX_TSR_BYTES)
    if members is None:
        raise ValidationError(problems)
    problems.extend(_member_problems(members, request_specific=request_specific))
    if problems:
        raise ValidationError(problems)
    known: dict[str, object] = {}
    for name in MEMBER_NAMES:
        if name in members:
            value = members[name]
            known[_ATTRIBUTE[name]] = tuple(value) if isinstance(value, list) else value
    extra = {k: v for k, v in members.items() if k not in _ATTRIBUTE}
    return TrackingStatusResource(**known, extra=extra)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TSRCheck:
    """The verdict on one fetched TSR response.

    ``tsr`` is the parsed resource whenever the body parsed, even when an HTTP
    rule failed, so that an auditor can still compare the claim with behaviour.
    """

    valid: bool
    tsr: TrackingStatusResource | None
    problems: tuple[str, ...]


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def _cookie_problems(headers: Sequence[tuple[str, str]]) -> list[str]:
    names = dict.fromkeys(key for key, _ in headers if key.lower() in ("set-cookie", "set-cookie2"))
    return [
        f"{name}: a TSR response, redirects included, must not set cookies (TPE §6.4.2)"
        for name in names
    ]


def _cache_directives(headers: Sequence[tuple[str, str]]) -> dict[str, str | None]:
    """``Cache-Control`` directives, lower-cased, with their (unquoted) arguments."""
    out: dict[str, str | None] = {}
    for value in _values(headers, "cache-control"):
        for part in value.split(","):
            name, sep, arg = part.strip().partition("=")
            name = name.strip().lower()
            if name:
                out[name] = arg.strip().strip('"') if sep else None
    return out


def _caching_problems(
    headers: Sequence[tuple[str, str]], *, depends_on_dnt: bool | None, per_user: bool
) -> list[str]:
    directives = _cache_directives(headers)
    # A qualified no-cache="Set-Cookie" or private="X" covers only the named fields.
    uncached = any(directives.get(d, "x") is None for d in ("private", "no-cache", "no-store"))
    problems: list[str] = []
    if per_user and not uncached:
        problems.append(
            "Cache-Control: a per-user TSR must send private, no-cache or no-store (TPE §6.4.3)"
        )
    elif depends_on_dnt and not uncached:
        vary = {
            token.strip().lower()
            for value in _values(headers, "vary")
            for token in value.split(",")
        }
        age = (directives.get("max-age") or "").strip('"')
        # RFC 9111 §1.2.2: delta-seconds is digits, so "00" is zero too.
        if not ({"dnt", "*"} & vary) and not (age and age.isascii() and not age.strip("0")):
            problems.append(
                "Vary: a TSR whose status depends on DNT must send Vary including DNT, or "
                "Cache-Control private, no-cache, no-store or max-age=0 (TPE §6.4.3)"
            )
    return problems


def check_tsr_redirect(status: int, headers: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Problems with one redirect on the way to a TSR (follow it, then check the target).

    TPE allows redirects, but not cookies on them.
    """
    problems = _cookie_problems(headers)
    if status in (301, 302, 303, 307, 308) and not _values(headers, "location"):
        problems.append(f"Location: redirect {status} names no target")
    return tuple(problems)


def check_tsr_response(
    status: int,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    request_specific: bool = False,
    depends_on_dnt: bool | None = None,
    per_user: bool = False,
) -> TSRCheck:
    """Check a fetched TSR response against TPE §6.4–6.5.

    ``headers`` are the final response's (name, value) pairs in any case.
    ``depends_on_dnt`` says whether the status changes with ``DNT`` (an
    auditor learns it by fetching with and without); ``None`` (unknown) skips
    that caching rule. ``per_user`` asks for the stricter per-user rule.
    A redirect status is reported as not being a representation; check each
    hop with :func:`check_tsr_redirect` and this function on the final one.
    """
    problems: list[str] = []
    if 300 <= status < 400:
        problems.append(
            f"status: {status} is a redirect, not a representation; follow it and check "
            "the final response"
        )
        problems.extend(check_tsr_redirect(status, headers))
        return TSRCheck(valid=False, tsr=None, problems=tuple(problems))
    ok = 200 <= status < 300
    if not ok:
        problems.append(
            f"status: {status}; a TSR is served with 2xx, so this origin does not "
            "implement TPE at this resource (TPE §6.4.1)"
        )
    content_types = _values(headers, "content-type")
    if not content_types:
        problems.append(f"Content-Type: missing; must be {TSR_MEDIA_TYPE}")
    elif len(content_types) > 1:
        problems.append(f"Content-Type: sent {len(content_types)} times; send it once")
    else:
        media, _, params = content_types[0].partition(";")
        if media.strip().lower() != TSR_MEDIA_TYPE:
            problems.append(
                f"Content-Type: {_show(content_types[0])} is not {TSR_MEDIA_TYPE} (TPE §6.5.1)"
            )
        elif params.strip():
            problems.append(
                f"Content-Type: {TSR_MEDIA_TYPE} takes no parameters; drop {_show(params.strip())}"
            )
    problems.extend(_cookie_problems(headers))
    problems.extend(_caching_problems(headers, depends_on_dnt=depends_on_dnt, per_user=per_user))
    tsr: TrackingStatusResource | None = None
    if ok:
        try:
            tsr = parse_tsr(body, request_specific=request_specific)
        except ValidationError as exc:
            problems.extend(
                f"{name}: {message}" if name else message for name, message in exc.problems
            )
        else:
            if tsr.extra and not tsr.compliance:
                names = ", ".join(repr(k) for k in list(tsr.extra)[:3])
                problems.append(
                    f"compliance: required, and not empty, when extension members ({names}) "
                    "are used (TPE §6.5): list the regime that defines them"
                )
    return TSRCheck(valid=not problems, tsr=tsr, problems=tuple(problems))
