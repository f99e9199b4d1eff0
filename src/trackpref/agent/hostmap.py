"""Connecting to a chosen address instead of resolving a host (``--map-host``).

mitmproxy resolves upstream hosts itself, so a browser's
``--host-resolver-rules`` does not reach it. Tests (and anyone running fixture
sites on loopback) map ``*.test`` to ``127.0.0.1``: the request, its ``Host``
and its TLS server name stay as they were; only the TCP connection goes to the
mapped address.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..signals.errors import SignalError
from .domains import DomainMap, canonical_host

__all__ = ["HostMap", "parse_host_map"]


@dataclass(frozen=True, slots=True, eq=False)
class HostMap:
    """``host`` or ``*.domain`` -> address. ``*.domain`` also covers ``domain``."""

    exact: DomainMap[str]
    wild: DomainMap[str]

    def __bool__(self) -> bool:
        return bool(self.exact) or bool(self.wild)

    def resolve(self, host: str) -> str | None:
        h = canonical_host(host)
        if h is None:
            return None
        found = self.exact.exact(h)
        return found if found is not None else self.wild.get(h)


def parse_host_map(entries: list[str] | tuple[str, ...]) -> HostMap:
    """Read ``PATTERN=ADDRESS`` entries (``*.test=127.0.0.1``, ``a.example=::1``).

    Raises:
        SignalError: naming the entry that is not of that form.
    """
    exact: dict[str, str] = {}
    wild: dict[str, str] = {}
    for entry in entries:
        pattern, sep, address = entry.partition("=")
        pattern, address = pattern.strip(), address.strip()
        if not sep or not pattern or not address:
            raise SignalError(f"--map-host {entry!r}: expected PATTERN=ADDRESS", field="map-host")
        is_wild = pattern.startswith("*.")
        host = canonical_host(pattern[2:] if is_wild else pattern)
        if host is None:
            raise SignalError(
                f"--map-host {entry!r}: {pattern!r} is not a host or '*.domain'", field="map-host"
            )
        if canonical_host(address) is None:
            raise SignalError(
                f"--map-host {entry!r}: {address!r} is not an address", field="map-host"
            )
        (wild if is_wild else exact)[host] = address
    return HostMap(DomainMap(exact), DomainMap(wild, bare_tld=True))
