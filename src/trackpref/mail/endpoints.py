"""The table of e-mail services' open and click endpoints, and its index.

The table is data (``endpoints.json``), so adding a service is a one-line
change. Lookups never scan the table: a URL's host is cut into its suffixes
(``u1.ct.sendgrid.net``, ``ct.sendgrid.net``, ``sendgrid.net``, ``net``) and each
is one dict lookup; branded link domains (any host, CNAMEd to the service) are
found by the first path segment. Only the few candidates that come out are
compared segment by segment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from typing import Any

from ..signals.errors import ValidationError

__all__ = [
    "EndpointKind",
    "EndpointMatch",
    "EndpointTable",
    "PathPattern",
    "default_table",
    "host_suffixes",
    "load_table",
]


class EndpointKind(StrEnum):
    OPEN = "open"
    CLICK = "click"


@dataclass(frozen=True, slots=True)
class PathPattern:
    """Path segments a URL path must start with.

    ``*`` is any one segment, ``**`` any rest (also none), a segment with ``*``
    inside is a glob; everything else compares case-insensitively.
    """

    text: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        return cls(text=text, parts=tuple(p.lower() for p in text.split("/") if p))

    def matches(self, segments: Sequence[str]) -> bool:
        for i, part in enumerate(self.parts):
            if part == "**":
                return True
            if i >= len(segments):
                return False
            if part == "*":
                continue
            segment = segments[i].lower()
            if "*" in part:
                if not fnmatchcase(segment, part):
                    return False
            elif segment != part:
                return False
        return True


@dataclass(frozen=True, slots=True)
class EndpointMatch:
    """Which service's endpoint a URL is, and by which rule."""

    service: str
    rule: str
    branded: bool

    def describe(self, kind: EndpointKind) -> str:
        what = "open" if kind is EndpointKind.OPEN else "click"
        where = "branded link domain, " if self.branded else ""
        return f"known {what} endpoint of {self.service} ({where}{self.rule})"


# Each rule carries the match it stands for, built once with the table rather
# than once per matching URL.


@dataclass(frozen=True, slots=True)
class _HostRule:
    service: str
    host: str
    pattern: PathPattern
    found: EndpointMatch = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = self.pattern.text if self.pattern.parts else "any path"
        found = EndpointMatch(self.service, f"{self.host} {path}", branded=False)
        object.__setattr__(self, "found", found)


@dataclass(frozen=True, slots=True)
class _BrandedRule:
    service: str
    pattern: PathPattern
    query: frozenset[str]
    token: bool
    found: EndpointMatch = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found = EndpointMatch(self.service, self.pattern.text, branded=True)
        object.__setattr__(self, "found", found)


@lru_cache(maxsize=8192)
def host_suffixes(host: str) -> tuple[str, ...]:
    labels = host.lower().split(".")
    return tuple(".".join(labels[i:]) for i in range(len(labels)))


class EndpointTable:
    """Indexed endpoint knowledge; build with ``load_table`` or ``default_table``."""

    __slots__ = (
        "_branded",
        "_generic_open",
        "_hosts",
        "_share",
        "tracking_host_labels",
        "tracking_params",
    )

    def __init__(
        self,
        hosts: dict[EndpointKind, dict[str, list[_HostRule]]],
        branded: dict[EndpointKind, dict[str, list[_BrandedRule]]],
        generic_open: dict[str, list[PathPattern]],
        tracking_params: dict[str, str],
        tracking_host_labels: frozenset[str],
        share: dict[str, list[PathPattern]],
    ) -> None:
        self._hosts = hosts
        self._branded = branded
        self._generic_open = generic_open
        self.tracking_params = tracking_params
        self.tracking_host_labels = tracking_host_labels
        self._share = share

    def match(
        self,
        kind: EndpointKind,
        host: str,
        segments: Sequence[str],
        query_keys: frozenset[str],
        has_token: Callable[[], bool],
    ) -> EndpointMatch | None:
        """The endpoint this URL is; ``has_token`` is asked only when a rule needs it."""
        index = self._hosts[kind]
        for suffix in host_suffixes(host):
            for rule in index.get(suffix, ()):
                if rule.pattern.matches(segments):
                    return rule.found
        if not segments:
            return None
        for branded in self._branded[kind].get(segments[0].lower(), ()):
            if not branded.pattern.matches(segments):
                continue
            if branded.query and not branded.query <= query_keys:
                continue
            if branded.token and not has_token():
                continue
            return branded.found
        return None

    def generic_open_path(self, segments: Sequence[str]) -> str | None:
        """The open-tracking path shape this path has (``/o/*``), if any."""
        if not segments:
            return None
        for pattern in self._generic_open.get(segments[0].lower(), ()):
            if pattern.matches(segments) and len(segments) >= len(pattern.parts):
                return pattern.text
        return None

    def is_url_carrier(self, host: str, segments: Sequence[str]) -> bool:
        """Links that carry a URL without redirecting to it: share buttons, calendars."""
        for suffix in host_suffixes(host):
            for pattern in self._share.get(suffix, ()):
                if pattern.matches(segments):
                    return True
        return False


def _problem(problems: list[tuple[str, str]], field: str, message: str) -> None:
    problems.append((field, message))


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def load_table(data: Mapping[str, Any], *, source: str = "endpoints table") -> EndpointTable:
    """Validate and index a table; every problem is reported, not just the first."""
    problems: list[tuple[str, str]] = []
    hosts: dict[EndpointKind, dict[str, list[_HostRule]]] = {k: {} for k in EndpointKind}
    branded: dict[EndpointKind, dict[str, list[_BrandedRule]]] = {k: {} for k in EndpointKind}

    services = data.get("services", [])
    if not isinstance(services, list):
        _problem(problems, "services", "must be a list")
        services = []
    for i, entry in enumerate(services):
        field = f"services[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            _problem(problems, field, "needs a 'name' string")
            continue
        host_list = _strings(entry.get("hosts"))
        if not host_list:
            _problem(problems, f"{field}.hosts", "needs a non-empty list of host names")
            continue
        for kind in EndpointKind:
            paths = _strings(entry.get(kind.value, []))
            if paths is None:
                _problem(problems, f"{field}.{kind.value}", "must be a list of paths")
                continue
            for path in paths:
                if not path.startswith("/"):
                    _problem(problems, f"{field}.{kind.value}", f"path {path!r} must start with /")
                    continue
                for host in host_list:
                    key = host.lower().strip(".")
                    rule = _HostRule(entry["name"], key, PathPattern.parse(path))
                    hosts[kind].setdefault(key, []).append(rule)

    branded_entries = data.get("branded", [])
    if not isinstance(branded_entries, list):
        _problem(problems, "branded", "must be a list")
        branded_entries = []
    for i, entry in enumerate(branded_entries):
        field = f"branded[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            _problem(problems, field, "needs a 'name' string")
            continue
        for kind in EndpointKind:
            rules = entry.get(kind.value, [])
            if not isinstance(rules, list):
                _problem(problems, f"{field}.{kind.value}", "must be a list")
                continue
            for j, rule in enumerate(rules):
                where = f"{field}.{kind.value}[{j}]"
                if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
                    _problem(problems, where, "needs a 'path' string")
                    continue
                pattern = PathPattern.parse(rule["path"])
                query = _strings(rule.get("query", []))
                token = rule.get("token", False)
                if query is None or not isinstance(token, bool):
                    _problem(problems, where, "'query' must be a list and 'token' a boolean")
                    continue
                if not query and not token:
                    _problem(problems, where, "needs required 'query' keys or 'token': true")
                    continue
                if not pattern.parts or "*" in pattern.parts[0]:
                    _problem(problems, where, "first path segment must be literal")
                    continue
                branded[kind].setdefault(pattern.parts[0], []).append(
                    _BrandedRule(entry["name"], pattern, frozenset(q.lower() for q in query), token)
                )

    generic_open: dict[str, list[PathPattern]] = {}
    for path in _strings(data.get("generic_open_paths", [])) or []:
        pattern = PathPattern.parse(path)
        if not pattern.parts or "*" in pattern.parts[0]:
            _problem(problems, "generic_open_paths", f"{path!r}: first segment must be literal")
            continue
        generic_open.setdefault(pattern.parts[0], []).append(pattern)

    params = data.get("tracking_params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        _problem(problems, "tracking_params", "must map parameter names to service names")
        params = {}
    labels = _strings(data.get("tracking_host_labels", []))
    if labels is None:
        _problem(problems, "tracking_host_labels", "must be a list of strings")
        labels = []

    share: dict[str, list[PathPattern]] = {}
    share_entries = data.get("url_carriers", [])
    for i, entry in enumerate(share_entries if isinstance(share_entries, list) else []):
        paths = _strings(entry.get("paths")) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("host"), str) or not paths:
            _problem(problems, f"url_carriers[{i}]", "needs 'host' and 'paths'")
            continue
        share.setdefault(entry["host"].lower(), []).extend(PathPattern.parse(p) for p in paths)

    if problems:
        raise ValidationError(problems, source=source)
    return EndpointTable(
        hosts=hosts,
        branded=branded,
        generic_open=generic_open,
        tracking_params={k.lower(): v for k, v in params.items()},
        tracking_host_labels=frozenset(label.lower() for label in labels),
        share=share,
    )


@lru_cache(maxsize=1)
def default_table() -> EndpointTable:
    """The table shipped in the package (read once per process)."""
    text = resources.files("trackpref.mail").joinpath("endpoints.json").read_text("utf-8")
    return load_table(json.loads(text), source="trackpref/mail/endpoints.json")
