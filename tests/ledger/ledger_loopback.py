"""Loopback servers for the ledger tests: an HTTP webhook receiver and an SMTP sink.

Both listen on 127.0.0.1 only and record what they receive.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServer:
    url: str
    received: list[Received] = field(default_factory=list)
    #: Statuses to answer with, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """A real HTTP server on 127.0.0.1 that records every POST."""
    state = WebhookServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class SMTPServer:
    host: str
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A minimal SMTP receiver on 127.0.0.1 (RFC 5321 commands a client sends)."""
    state = SMTPServer("127.0.0.1", 0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            sender, rcpts = "", []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                cmd = raw.decode().strip()
                verb = cmd[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    sender, rcpts = cmd.split(":", 1)[1].strip(), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpts.append(cmd.split(":", 1)[1].strip())
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 go ahead")
                    lines = []
                    while (line := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(line)
                    state.messages.append((sender, rcpts, b"".join(lines)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
