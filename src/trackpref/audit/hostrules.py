"""Chromium's ``--host-resolver-rules``, parsed so the auditor can obey them too.

Tests and private deployments point names such as ``*.test`` at loopback. The
browser learns the mapping from its command line; every other fetch the auditor
makes (the well-known declarations) must follow the same mapping, or the audit
would compare a browser that talks to one server with declarations read from
another (or from nowhere). So the rules are parsed once, here, and both sides
use the result: the text goes to Chromium unchanged, :meth:`HostRules.resolve`
serves the HTTP client.

Only the two rule kinds Chromium documents for this flag are accepted: ``MAP
pattern replacement`` and ``EXCLUDE pattern``, separated by commas. Anything else
is refused with the rule that was wrong, rather than silently resolving through
real DNS, which could send an audit of a test web onto the internet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .._untrusted import whole_number

__all__ = ["NOT_FOUND", "HostNotFound", "HostRule", "HostRules", "parse_host_rules"]

#: Chromium's replacement that makes resolution fail.
NOT_FOUND = "~NOTFOUND"


class HostNotFound(LookupError):
    """A ``MAP ... ~NOTFOUND`` rule matched: the host must not resolve."""


@dataclass(frozen=True, slots=True)
class HostRule:
    kind: Literal["MAP", "EXCLUDE"]
    pattern: str
    #: Restricts the rule to one port when the pattern was written ``host:port``.
    port: int | None = None
    #: ``None`` for EXCLUDE; :data:`NOT_FOUND` for a rule that blocks the host.
    target_host: str | None = None
    #: ``None`` keeps the port of the URL, as Chromium does.
    target_port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return _glob(self.pattern).fullmatch(host.lower().rstrip(".")) is not None


@dataclass(frozen=True, slots=True)
class HostRules:
    rules: tuple[HostRule, ...] = ()
    #: The text as given, passed to Chromium verbatim.
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.rules)

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        """Where a connection to ``host:port`` goes, or ``None`` for ordinary DNS.

        Exclusions are checked first, then the MAP rules in order; the first
        match wins (the order Chromium applies them in). Raises
        :class:`HostNotFound` for a ``~NOTFOUND`` mapping.
        """
        for rule in self.rules:
            if rule.kind == "EXCLUDE" and rule.matches(host, port):
                return None
        for rule in self.rules:
            if rule.kind == "MAP" and rule.matches(host, port):
                if rule.target_host == NOT_FOUND:
                    raise HostNotFound(f"{host} is mapped to {NOT_FOUND} by --host-rules")
                assert rule.target_host is not None
                return rule.target_host, rule.target_port if rule.target_port is not None else port
        return None

    @property
    def chromium_arg(self) -> str | None:
        return f"--host-resolver-rules={self.text}" if self.rules else None


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    """Chromium's ``MatchPattern``: ``*`` is any run of characters, ``?`` one."""
    compiled = _GLOB_CACHE.get(pattern)
    if compiled is None:
        parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        compiled = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
        _GLOB_CACHE[pattern] = compiled
    return compiled


_HOST_CHARS = re.compile(r"^[A-Za-z0-9.*?_-]+$")


def _split_host_port(text: str, *, what: str, allow_glob: bool) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{what} {text!r}: unterminated IPv6 bracket")
        host, rest = text[1:end], text[end + 1 :]
        if not host or any(c not in "0123456789abcdefABCDEF:." for c in host):
            raise ValueError(f"{what} {text!r}: not an IPv6 address")
        # Brackets go back on, as URL authorities need them.
        host = f"[{host}]"
    else:
        host, sep, port_text = text.partition(":")
        rest = sep + port_text
        if not host or not _HOST_CHARS.match(host):
            raise ValueError(f"{what} {text!r}: not a host name")
        if not allow_glob and any(c in host for c in "*?"):
            raise ValueError(f"{what} {text!r}: a replacement cannot hold wildcards")
    if not rest:
        return host, None
    port = whole_number(rest[1:], max_digits=5) if rest.startswith(":") else None
    if port is None or not 0 < port < 65536:
        raise ValueError(f"{what} {text!r}: bad port {rest[1:]!r}")
    return host, port


def parse_host_rules(text: str) -> HostRules:
    """Parse ``"MAP *.test 127.0.0.1, EXCLUDE real.test"``.

    Raises :class:`ValueError` naming the rule that does not parse.
    """
    rules: list[HostRule] = []
    for number, raw in enumerate(text.split(","), start=1):
        words = raw.split()
        if not words:
            continue
        kind = words[0].upper()
        where = f"host rule {number} ({raw.strip()!r})"
        if kind == "MAP":
            if len(words) != 3:
                raise ValueError(f"{where}: expected 'MAP <pattern> <replacement>'")
            pattern, port = _split_host_port(words[1], what=f"{where}: pattern", allow_glob=True)
            if words[2] == NOT_FOUND:
                rules.append(HostRule("MAP", pattern.lower(), port, NOT_FOUND))
                continue
            target, target_port = _split_host_port(
                words[2], what=f"{where}: replacement", allow_glob=False
            )
            rules.append(HostRule("MAP", pattern.lower(), port, target, target_port))
        elif kind == "EXCLUDE":
            if len(words) != 2:
                raise ValueError(f"{where}: expected 'EXCLUDE <pattern>'")
            pattern, port = _split_host_port(words[1], what=f"{where}: pattern", allow_glob=True)
            rules.append(HostRule("EXCLUDE", pattern.lower(), port))
        else:
            raise ValueError(f"{where}: unknown rule {words[0]!r}; use MAP or EXCLUDE")
    return HostRules(tuple(rules), text.strip())
