"""What one visit recorded, as plain frozen data.

The browser driver fills these and nothing else; every judgement (which party,
which value is an identifier, which verdict) is made later by pure functions over
them. That split is what lets the analysis be tested without a browser and lets
a recorded visit be re-analysed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .consent import ConsentSnapshot
from .failures import Failure
from .states import SignalState

__all__ = ["CookieRecord", "Observation", "RequestRecord", "StorageRecord"]

Headers = tuple[tuple[str, str], ...]


def _values(headers: Headers, name: str) -> Iterator[str]:
    lname = name.lower()
    return (v for n, v in headers if n.lower() == lname)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One network interaction: the request as sent and the final response.

    Header names are kept as received; lookups ignore case. ``post_data`` is cut
    to a bounded prefix by the driver.
    """

    url: str
    method: str = "GET"
    resource_type: str = "other"
    headers: Headers = ()
    post_data: bytes | None = None
    status: int | None = None
    response_headers: Headers = ()
    failure: str | None = None
    #: A top-level document navigation (the page itself, or a redirect hop of it).
    navigation: bool = False
    #: Response body bytes; measured for navigations only (the page-size limit).
    body_size: int | None = None

    def header(self, name: str) -> str | None:
        return next(_values(self.headers, name), None)

    def header_values(self, name: str) -> list[str]:
        return list(_values(self.headers, name))

    def response_header_values(self, name: str) -> list[str]:
        return list(_values(self.response_headers, name))


@dataclass(frozen=True, slots=True)
class CookieRecord:
    name: str
    value: str
    domain: str
    path: str = "/"
    #: Seconds since the epoch; ``None`` for a session cookie.
    expires: float | None = None
    http_only: bool = False
    secure: bool = False
    same_site: str | None = None

    @property
    def host(self) -> str:
        return self.domain.lstrip(".").lower()


@dataclass(frozen=True, slots=True)
class StorageRecord:
    origin: str
    kind: str  # "local" | "session" | "indexeddb" | "cache"
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One visit of one URL in one signal state."""

    state: SignalState
    url: str
    final_url: str | None = None
    document_status: int | None = None
    requests: tuple[RequestRecord, ...] = ()
    cookies: tuple[CookieRecord, ...] = ()
    storage: tuple[StorageRecord, ...] = ()
    consent: ConsentSnapshot = field(default_factory=ConsentSnapshot)
    failure: Failure | None = None
    started_at: str = ""
    duration_ms: float = 0.0
    attempts: int = 1
    #: What the visit could not read after the load: ``storage`` and
    #: ``consent`` (the page's main thread did not answer, e.g. a script that
    #: never yields) or ``cookies``. What was not read is unknown, not empty.
    unread: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None
