"""Structured logs: one JSON object per line, and no personal data in them.

Standard-library :mod:`logging` with a JSON formatter (no extra dependency).
The request log is written by a pure-ASGI middleware and records method,
route path, status and duration, never the client's address, User-Agent,
query string or cookies: a privacy service's logs must not be the tracking
it refuses. Successful collect requests and pixels are only counted (in
``/metrics``), not logged one by one; their errors are logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["JSONFormatter", "RequestLog", "configure_logging", "uvicorn_log_config"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)
_QUIET_PATHS = ("/api/collect", "/p.gif", "/o/")


class JSONFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., **extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", stream: Any = None) -> None:
    """Route the service's and uvicorn's loggers to one JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter())
    for name in ("trackpref", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config`` dict for uvicorn: JSON lines, no access log (ours replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JSONFormatter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "trackpref": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }


class RequestLog:
    """Pure ASGI: one log line per request (method, route path, status, milliseconds)."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True, observe: Any = None) -> None:
        self.app = app
        self.enabled = enabled
        self.observe = observe
        self.log = logging.getLogger("trackpref.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        def wrapped(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            return send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            path: str = scope["path"]
            quiet = path.startswith(_QUIET_PATHS) and status < 400
            if self.observe is not None:
                self.observe(path, status)
            if self.enabled and not quiet:
                self.log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": path[:200],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
