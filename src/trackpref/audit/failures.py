"""Why a visit or a fetch failed, in words a report reader can act on.

A crawl meets every kind of broken site; each failure becomes a
:class:`Failure` with a stable ``kind`` (for counting and for deciding whether a
retry can help) and the original message (for the person fixing it). Nothing
here raises: a failure is a result, recorded next to whatever was observed
before it happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Failure", "FailureKind", "classify_net_error"]


class FailureKind(enum.StrEnum):
    INVALID_URL = "invalid-url"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    REDIRECT_LOOP = "redirect-loop"
    TIMEOUT = "timeout"
    TOO_LARGE = "too-large"
    HTTP_STATUS = "http-status"
    BROWSER = "browser"
    OTHER = "other"

    @property
    def retryable(self) -> bool:
        """Whether another attempt could see something different.

        A bad certificate, a redirect loop or an unknown name fail the same way
        every time; retrying them only slows the crawl.
        """
        return self in (FailureKind.TIMEOUT, FailureKind.BROWSER, FailureKind.OTHER)


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "message": self.message}


_NET_ERRORS: tuple[tuple[str, FailureKind], ...] = (
    ("ERR_TOO_MANY_REDIRECTS", FailureKind.REDIRECT_LOOP),
    ("ERR_CERT_", FailureKind.TLS),
    ("ERR_SSL_", FailureKind.TLS),
    ("ERR_BAD_SSL_CLIENT_AUTH_CERT", FailureKind.TLS),
    ("ERR_NAME_NOT_RESOLVED", FailureKind.UNREACHABLE),
    ("ERR_NAME_RESOLUTION_FAILED", FailureKind.UNREACHABLE),
    ("ERR_CONNECTION_REFUSED", FailureKind.UNREACHABLE),
    ("ERR_ADDRESS_UNREACHABLE", FailureKind.UNREACHABLE),
    ("ERR_ADDRESS_INVALID", FailureKind.UNREACHABLE),
    ("ERR_INTERNET_DISCONNECTED", FailureKind.UNREACHABLE),
    ("ERR_CONNECTION_RESET", FailureKind.OTHER),
    ("ERR_CONNECTION_CLOSED", FailureKind.OTHER),
    ("ERR_EMPTY_RESPONSE", FailureKind.OTHER),
    ("ERR_TIMED_OUT", FailureKind.TIMEOUT),
    ("ERR_CONNECTION_TIMED_OUT", FailureKind.TIMEOUT),
    ("ERR_INVALID_URL", FailureKind.INVALID_URL),
    ("ERR_UNSAFE_PORT", FailureKind.INVALID_URL),
    ("ERR_INVALID_RESPONSE", FailureKind.OTHER),
    ("Timeout", FailureKind.TIMEOUT),
    ("Target page, context or browser has been closed", FailureKind.BROWSER),
    ("Browser has been closed", FailureKind.BROWSER),
    ("crashed", FailureKind.BROWSER),
)


def classify_net_error(message: str) -> FailureKind:
    """Map a Chromium / Playwright error message to a :class:`FailureKind`."""
    for needle, kind in _NET_ERRORS:
        if needle in message:
            return kind
    return FailureKind.OTHER
