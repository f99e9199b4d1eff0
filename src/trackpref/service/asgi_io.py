"""Small pure-ASGI helpers for the hot endpoints (no Request object, no copies).

The collect endpoints are called tens of thousands of times a second, so they
read the scope directly: one pass over the headers, the body read chunk by
chunk with a cap (the client's ``Content-Length`` is checked first but never
trusted), and responses sent as two ready-made messages.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "Receive",
    "Scope",
    "Send",
    "TooLarge",
    "client_ip",
    "header_map",
    "read_body",
    "send_bytes",
    "send_json",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = b"application/json"


class TooLarge(Exception):
    """The body is longer than the endpoint accepts."""


def header_map(scope: Scope, wanted: frozenset[bytes]) -> dict[bytes, bytes]:
    """The wanted headers (lower-case names), first value wins."""
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in wanted and name not in out:
            out[name] = value
    return out


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def read_body(receive: Receive, limit: int, declared: bytes | None = None) -> bytes:
    """The whole body, or :class:`TooLarge` as soon as more than ``limit`` bytes arrive."""
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge
        except ValueError:
            pass  # the server refuses a malformed Content-Length before we run
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, data: object, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(data, separators=(",", ":")).encode()
    await send_bytes(send, status, body, _JSON, extra)
