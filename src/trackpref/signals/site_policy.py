"""One declared site policy, from which every declaration a site makes is generated.

A site says what it does in five places: the ``Tk`` header, the site-wide TSR
(``/.well-known/dnt/``), the request-specific TSRs it points to, ``gpc.json``
and, optionally, the EFF ``dnt-policy.txt``. Written by hand they drift apart,
and a declaration that contradicts another is a false claim. So a site states
its policy once, here, validation rejects the combinations TPE forbids (a
consent status with nowhere to revoke consent, the exception API without a
privacy policy, ...), and every declaration is derived from the result.

The file form (TOML) and every setting are described in ``docs/site-policy.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from . import dnt_policy
from .errors import SignalError, ValidationError
from .gpc_support import format_gpc_json, parse_last_update
from .parties import normalize_host
from .preference import DEFAULT_PRECEDENCE, Precedence
from .tracking_status import TSV, Tk, is_tsv, is_tsv_extension
from .tsr import TrackingStatusResource, uri_problem

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_POLICY",
    "MAX_POLICY_FILE_BYTES",
    "MAX_TSR_MAX_AGE",
    "STATUS_IDS",
    "SitePolicy",
]

#: TSV -> the status-id of its request-specific TSR, for dynamic (``?``) policies.
STATUS_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {"N": "not-tracking", "T": "tracking", "C": "consent"}
)
_STATUS_OF_ID: Final = {status_id: status for status, status_id in STATUS_IDS.items()}

#: The defaults point at the page nearly every site already has. TPE requires a
#: ``policy`` wherever the exception API is offered (which it is by default),
#: and a ``config`` for the ``C`` status a dynamic policy may answer, so
#: ``SitePolicy()`` must name both. The site must serve that page: see
#: ``docs/site-policy.md``. (A path under ``/.well-known/dnt/`` would not do:
#: that is where request-specific TSRs live.)
DEFAULT_POLICY: Final = "/privacy"
DEFAULT_CONFIG: Final = "/privacy#consent"

#: A year. Longer is almost certainly a typo, and TPE asks that a cached TSR
#: never outlive the next increase in tracking.
MAX_TSR_MAX_AGE: Final = 365 * 24 * 3600
#: A policy file is a few dozen lines.
MAX_POLICY_FILE_BYTES: Final = 1024 * 1024

# RFC 6265 cookie-name = token (RFC 2616 §2.2): visible ASCII except separators.
_COOKIE_SEPARATORS: Final = frozenset('()<>@,;:\\"/[]?={}')
_MAX_COOKIE_NAME = 256

_TUPLE_FIELDS: Final = (
    "compliance",
    "controller",
    "same_party",
    "audit",
    "tracking_cookies",
    "service_providers",
)
_OPTIONAL_TEXT: Final = ("qualifiers", "policy", "config", "dnt_policy_file")
_BOOL_FIELDS: Final = ("refuse_without_consent", "exceptions_api")
#: Names people reach for that mean one of ours.
_HINTS: Final = {
    "edit": "config",
    "consent": "config",
    "privacy_policy": "policy",
    "status": "tracking",
    "tsv": "tracking",
    "max_age": "tsr_max_age",
    "cookies": "tracking_cookies",
    "last_update": "gpc_last_update",
    "dnt_policy": "dnt_policy_file",
}


@dataclass(frozen=True, slots=True)
class _Compiled:
    """Everything derived from a valid policy, built once at load time."""

    site_tsr: TrackingStatusResource
    request_tsrs: Mapping[str, TrackingStatusResource]
    tks: Mapping[str, Tk]
    static_tk: Tk | None
    cookie_exact: frozenset[str]
    cookie_prefixes: tuple[str, ...]
    gpc_json: bytes | None
    dnt_policy: bytes | None


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _cookie_problem(name: str) -> str | None:
    stem = name[:-1] if name.endswith("*") else name
    if not stem:
        return "'*' alone would match every cookie, sessions and consent included; list names"
    if len(name) > _MAX_COOKIE_NAME:
        return f"cookie name longer than {_MAX_COOKIE_NAME} characters"
    for c in stem:
        if c == "*":
            return f"{name!r}: '*' may only end a name (a prefix match)"
        if not (0x21 <= ord(c) <= 0x7E) or c in _COOKIE_SEPARATORS:
            return f"{name!r}: character {c!r} cannot appear in a cookie name (RFC 6265)"
    return None


def _read_policy_file(path: str) -> tuple[bytes | None, str | None]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_POLICY_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, f"{path!r} does not exist"
    except OSError as exc:
        return None, f"{path!r} cannot be read: {exc.strerror or exc}"
    if len(data) > MAX_POLICY_FILE_BYTES:
        return None, f"{path!r} is larger than {MAX_POLICY_FILE_BYTES} bytes; not the EFF policy"
    check = dnt_policy.check_dnt_policy(data)
    if not check.compliant:
        return None, (
            f"{path!r} has SHA-1 {check.sha1}, which is not an accepted EFF DNT policy "
            "version; serve the text exactly as EFF publishes it (do not even change "
            "example-domain.com)"
        )
    return data, None


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """What a site declares about tracking, GPC and cookies; see ``docs/site-policy.md``.

    Construction validates every field and raises :class:`ValidationError`
    listing all problems. ``SitePolicy()`` is valid: a dynamic status (``Tk``
    per request), ``gpc.json`` saying the site honors GPC, the exception API,
    and :data:`DEFAULT_POLICY` / :data:`DEFAULT_CONFIG` as the pages that
    explain the practices and take consent.
    """

    tracking: str = "?"
    compliance: tuple[str, ...] = ()
    qualifiers: str | None = None
    controller: tuple[str, ...] = ()
    same_party: tuple[str, ...] = ()
    audit: tuple[str, ...] = ()
    policy: str | None = DEFAULT_POLICY
    config: str | None = DEFAULT_CONFIG
    gpc: bool | None = True
    gpc_last_update: dt.date | None = None
    dnt_policy_file: str | None = None
    tracking_cookies: tuple[str, ...] = ()
    service_providers: tuple[str, ...] = ()
    precedence: Precedence = DEFAULT_PRECEDENCE
    refuse_without_consent: bool = False
    exceptions_api: bool = True
    tsr_max_age: int = 86400
    _compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        bad: set[str] = set()

        def fail(name: str, message: str) -> None:
            problems.append((name, message))
            bad.add(name)

        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        tracking: object = self.tracking
        if not isinstance(tracking, str):
            fail("tracking", f"must be a string, not {_type_name(tracking)}")
        elif not is_tsv(tracking):
            fail(
                "tracking",
                f"{tracking[:20]!r} is not a tracking status value: use '?' (dynamic), "
                "'N', 'T', 'C', 'P', 'D', '!' or an extension listed in compliance",
            )
        elif tracking == TSV.UPDATED:
            fail("tracking", "'U' only ever appears in a Tk header, never as a site's status")
        elif tracking == TSV.GATEWAY:
            fail(
                "tracking",
                "'G' (gateway) needs a Tk status-id per selected recipient, which trackpref "
                "does not generate; use '?' and let each response say its status",
            )

        for name in _TUPLE_FIELDS:
            value: object = getattr(self, name)
            if isinstance(value, list):
                value = tuple(value)
            if not isinstance(value, tuple):
                example = '["a", "b"]' if isinstance(value, str) else "[...]"
                fail(name, f"must be a list of strings like {example}, not {_type_name(value)}")
                continue
            items: list[str] = []
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    fail(name, f"item {i} must be a string, not {_type_name(item)}")
                    continue
                if name in ("same_party", "service_providers"):
                    try:
                        item = normalize_host(item)
                    except SignalError as exc:
                        fail(name, f"{item[:60]!r} is not a domain: {exc.message}")
                        continue
                    if item in items:
                        continue
                    why = None
                elif name == "tracking_cookies":
                    why = _cookie_problem(item)
                else:
                    why = uri_problem(item)
                if why is not None:
                    fail(name, f"item {i}: {why}")
                items.append(item)
            put(name, tuple(items))

        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if name == "dnt_policy_file" and isinstance(value, os.PathLike):
                value = os.fspath(value)
                put(name, value)
            if value is None:
                continue
            if not isinstance(value, str):
                fail(name, f"must be a string, not {_type_name(value)}")
            elif name in ("policy", "config") and (why := uri_problem(value)) is not None:
                fail(name, why)
            elif name == "qualifiers" and (not value or any(c.isspace() for c in value)):
                fail(name, "must be a non-empty string of qualifier characters, no spaces")
            elif name == "dnt_policy_file" and not value:
                fail(name, "empty; leave it out to serve no dnt-policy.txt")

        gpc: object = self.gpc
        if gpc is not None and not isinstance(gpc, bool):
            fail("gpc", f"must be true, false or unset, not {_type_name(gpc)}")
        last: object = self.gpc_last_update
        if last is not None:
            if not isinstance(last, dt.date):
                fail("gpc_last_update", f"must be a date, not {_type_name(last)}")
            elif isinstance(last, dt.datetime) and last.utcoffset() is None:
                fail("gpc_last_update", "a date-time needs a time zone; or give just the date")
            elif gpc is None:
                fail("gpc_last_update", "set, but gpc is unset so no gpc.json is published")

        precedence: object = self.precedence
        if isinstance(precedence, str):
            try:
                precedence = Precedence.parse(precedence)
                put("precedence", precedence)
            except SignalError as exc:
                fail("precedence", exc.message)
        elif not isinstance(precedence, Precedence):
            fail("precedence", f"must be a Precedence or a string, not {_type_name(precedence)}")

        for name in _BOOL_FIELDS:
            flag: object = getattr(self, name)
            if not isinstance(flag, bool):
                fail(name, f"must be true or false, not {_type_name(flag)}")
        max_age: object = self.tsr_max_age
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            fail("tsr_max_age", f"must be a whole number of seconds, not {_type_name(max_age)}")
        elif not 0 <= max_age <= MAX_TSR_MAX_AGE:
            fail("tsr_max_age", f"{max_age} is outside 0..{MAX_TSR_MAX_AGE} seconds")

        # Rules across fields, checked only when their fields are well-formed,
        # so one mistake is reported once.
        def ok(*names: str) -> bool:
            return not bad.intersection(names)

        status = self.tracking
        if ok("tracking", "config") and status in ("C", "P") and self.config is None:
            fail(
                "config",
                f"required when tracking is {status!r}: the URI where a person gives and "
                "revokes consent (TPE §6.5.8)",
            )
        if ok("tracking", "compliance") and is_tsv_extension(status) and not self.compliance:
            fail(
                "compliance",
                f"required when tracking is the extension {status!r}: list the regime "
                "that defines it",
            )
        if ok("tracking", "policy") and status == "D" and self.policy is None:
            fail("policy", "required when tracking is 'D': the policy must state the conditions")
        if ok("exceptions_api", "policy") and self.exceptions_api and self.policy is None:
            fail(
                "policy",
                "required while exceptions_api is on: TPE lets a site's scripts call "
                "storeTrackingException only with a policy in its site-wide TSR. Set "
                "policy to your privacy policy's URI, or set exceptions_api = false",
            )
        if (
            ok("tracking", "exceptions_api", "config")
            and status == "?"
            and self.exceptions_api
            and self.config is None
        ):
            fail(
                "config",
                "required for a dynamic policy with exceptions_api on: a consent makes a "
                "response 'C', and a 'C' TSR must say where consent is revoked. Set config, "
                "or set exceptions_api = false",
            )
        if ok("tracking", "tracking_cookies") and status == "N" and self.tracking_cookies:
            fail(
                "tracking_cookies",
                "a site whose status is 'N' (not tracking, for everyone) sets no tracking "
                "cookies, yet these are listed: they would reach visitors who allow tracking "
                "under a Tk that says otherwise. Use tracking = '?' (dynamic), or list none",
            )
        if (
            ok("refuse_without_consent", "exceptions_api")
            and self.refuse_without_consent
            and not self.exceptions_api
        ):
            fail(
                "refuse_without_consent",
                "needs exceptions_api: the 409 page asks for consent through it (TPE §6.7)",
            )

        dnt_text: bytes | None = None
        path = self.dnt_policy_file
        if ok("dnt_policy_file") and path is not None:
            dnt_text, why = _read_policy_file(path)
            if why is not None:
                fail("dnt_policy_file", why)

        if problems:
            raise ValidationError(problems)
        put("_compiled", self._compile(dnt_text))

    def _compile(self, dnt_text: bytes | None) -> _Compiled:
        site = TrackingStatusResource(
            tracking=self.tracking,
            compliance=self.compliance or None,
            qualifiers=self.qualifiers,
            controller=self.controller or None,
            same_party=self.same_party or None,
            audit=self.audit or None,
            policy=self.policy,
            config=self.config,
        )
        request_tsrs: dict[str, TrackingStatusResource] = {}
        tks: dict[str, Tk] = {}
        static_tk: Tk | None = None
        if self.dynamic:
            for status, status_id in STATUS_IDS.items():
                if status in ("C", "P") and self.config is None:
                    continue  # no valid TSR can say it; tk_for answers the bare status
                request_tsrs[status_id] = dataclasses.replace(site, tracking=status)
                tks[status] = Tk(status, status_id)
        else:
            static_tk = Tk(self.tracking)
        prefixes = tuple(c[:-1] for c in self.tracking_cookies if c.endswith("*"))
        exact = frozenset(c for c in self.tracking_cookies if not c.endswith("*"))
        gpc_json = None if self.gpc is None else format_gpc_json(self.gpc, self.gpc_last_update)
        return _Compiled(
            site_tsr=site,
            request_tsrs=request_tsrs,  # plain dicts: private, and picklable
            tks=tks,
            static_tk=static_tk,
            cookie_exact=exact,
            cookie_prefixes=prefixes,
            gpc_json=gpc_json,
            dnt_policy=dnt_text,
        )

    @property
    def dynamic(self) -> bool:
        """``?``: each response's ``Tk`` carries its own status and status-id."""
        return self.tracking == TSV.DYNAMIC

    def site_wide_tsr(self) -> TrackingStatusResource:
        """The resource at ``/.well-known/dnt/``."""
        return self._compiled.site_tsr

    def request_tsr(self, status_id: str) -> TrackingStatusResource | None:
        """The resource at ``/.well-known/dnt/{status_id}``; ``None`` if there is none.

        Only dynamic policies have them: one per :data:`STATUS_IDS` entry, the
        site-wide members with the actual status (never ``?``), and ``consent``
        only when ``config`` is set.
        """
        return self._compiled.request_tsrs.get(status_id)

    def tk_for(self, tracking_status: str) -> Tk:
        """The ``Tk`` header for a response whose decision is ``tracking_status``.

        Static policies always answer their one status. Dynamic ones answer the
        status with the status-id of its TSR, or the bare status when there is
        no TSR for it. Raises :class:`SignalError` for ``?``, ``G`` or a
        non-TSV, which no decision produces.
        """
        compiled = self._compiled
        if compiled.static_tk is not None:
            return compiled.static_tk
        tk = compiled.tks.get(tracking_status)
        return tk if tk is not None else Tk(tracking_status)

    def gpc_json(self) -> bytes | None:
        """The body of ``/.well-known/gpc.json``, or ``None`` when it is not published."""
        return self._compiled.gpc_json

    def dnt_policy_text(self) -> bytes | None:
        """The EFF policy file's bytes, checked against the accepted hashes at load time."""
        return self._compiled.dnt_policy

    def is_tracking_cookie(self, name: str) -> bool:
        """Is ``name`` listed in ``tracking_cookies`` (exactly, or by a ``prefix*``)?"""
        compiled = self._compiled
        return name in compiled.cookie_exact or name.startswith(compiled.cookie_prefixes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str | None = None) -> SitePolicy:
        """Build a policy from a parsed file (TOML, JSON, ...), names with ``-`` or ``_``.

        File forms are accepted on top of the Python ones: lists for tuples, an
        empty string to unset an optional setting (TOML has no null),
        ``precedence`` as ``"a > b > c"`` or a table ``{order, default}``, and
        ``gpc-last-update`` as a TOML date or an RFC 3339 string. Every problem
        is reported at once, named as the file spells it, with ``source``.
        """
        problems: list[tuple[str, str]] = []
        table: object = data  # callers outside the type checker pass anything
        if not isinstance(table, Mapping):
            problems.append(("", f"a site policy is a table of settings, not {_type_name(table)}"))
            raise ValidationError(problems, source=source)
        spelled: dict[str, str] = {}
        kwargs: dict[str, object] = {}
        for key, value in table.items():
            if not isinstance(key, str):
                problems.append((repr(key), "setting names are strings"))
                continue
            name = key.replace("-", "_")
            if name not in _FIELD_NAMES:
                problems.append((key, _unknown_key_message(key, name)))
                continue
            if name in spelled:
                problems.append((key, f"given twice, as {spelled[name]!r} and {key!r}"))
                continue
            spelled[name] = key
            converted, why = _from_file_form(name, value)
            if why is not None:
                problems.append((key, why))
            else:
                kwargs[name] = converted
        try:
            policy = cls(**kwargs)  # type: ignore[arg-type]
        except ValidationError as exc:
            problems.extend((spelled.get(name, name), message) for name, message in exc.problems)
        if problems:
            raise ValidationError(problems, source=source)
        return policy

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SitePolicy:
        """Load a policy file; a relative ``dnt-policy-file`` is relative to it."""
        file = Path(path)
        source = str(file)
        try:
            # A pipe would block: regular files only.
            if not stat.S_ISREG(os.stat(file).st_mode):
                raise ValidationError(
                    [("", "not a regular file (a folder, pipe or device)")], source=source
                )
            with file.open("rb") as f:
                raw = f.read(MAX_POLICY_FILE_BYTES + 1)
        except OSError as exc:
            raise ValidationError(
                [("", f"cannot read: {exc.strerror or exc}")], source=source
            ) from None
        if len(raw) > MAX_POLICY_FILE_BYTES:
            raise ValidationError(
                [("", f"larger than {MAX_POLICY_FILE_BYTES} bytes")], source=source
            )
        try:
            data: dict[str, object] = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValidationError([("", f"not UTF-8 (byte {exc.start})")], source=source) from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError([("", f"not valid TOML: {exc}")], source=source) from None
        except RecursionError:  # tomllib recurses once per level of nesting
            raise ValidationError(
                [("", "not valid TOML: nested too deeply")], source=source
            ) from None
        for key in ("dnt-policy-file", "dnt_policy_file"):
            value = data.get(key)
            if isinstance(value, str) and value and not os.path.isabs(value):
                data[key] = str(file.parent / value)
        return cls.from_mapping(data, source=source)


_FIELD_NAMES: Final = tuple(f.name for f in dataclasses.fields(SitePolicy) if f.init)


def _unknown_key_message(key: str, name: str) -> str:
    guess = _HINTS.get(name)
    if guess is None:
        close = difflib.get_close_matches(name, _FIELD_NAMES, n=1, cutoff=0.6)
        guess = close[0] if close else None
    if guess is None:
        return "unknown setting; see docs/site-policy.md for the list"
    shown = guess.replace("_", "-") if "-" in key or "_" not in key else guess
    return f"unknown setting; did you mean {shown!r}?"


def _from_file_form(name: str, value: object) -> tuple[object, str | None]:
    """Turn a file's spelling of a setting into the constructor's; types are checked there."""
    if name in _TUPLE_FIELDS and isinstance(value, list):
        return tuple(value), None
    if name in (*_OPTIONAL_TEXT, "gpc", "gpc_last_update") and value == "":
        return None, None
    if name == "gpc_last_update" and isinstance(value, str):
        parsed = parse_last_update(value)
        if parsed is None:
            return None, f"{value[:40]!r} is not a date (YYYY-MM-DD) or RFC 3339 date-time"
        return parsed, None
    if name == "precedence" and isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in ("order", "default"))
        if unknown:
            return None, f"unknown keys {unknown}; a precedence table has order and default"
        order, default = value.get("order"), value.get("default", "unset")
        if not isinstance(order, str) or not isinstance(default, str):
            return None, "order and default must be strings"
        try:
            return Precedence.parse(order, default), None
        except SignalError as exc:
            return None, exc.message
    return value, None
