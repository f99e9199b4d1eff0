"""Run an ASGI or WSGI app on a free loopback port in a background thread.

The tests talk to these servers over real sockets (httpx, Chromium), so what
they see is what a deployment would see: real headers, real status lines,
real connection handling. Both servers bind before they are handed out and
answer before ``start()`` returns, and ``stop()`` waits for the thread so that
nothing (socket, thread, event loop) outlives the test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn

__all__ = ["AsgiServer", "WsgiServer", "free_port", "wait_until_answering"]

HOST = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers that bind it themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_answering(
    port: int, alive: Callable[[], bool], timeout: float = START_TIMEOUT
) -> None:
    """Block until a TCP connection to ``port`` is accepted, or fail clearly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if not alive():
                raise RuntimeError(
                    f"the test server on port {port} stopped while starting"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the test server on port {port} did not answer in {timeout} s"
                ) from None
            time.sleep(0.01)


class AsgiServer:
    """uvicorn on 127.0.0.1 in a thread; ``start()`` returns the base URL once it serves."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"asgi-test-server-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive():
                self.sock.close()
                raise RuntimeError(
                    "the ASGI test server stopped while starting (see the log above)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the ASGI test server did not start in {START_TIMEOUT} s")
            time.sleep(0.01)
        wait_until_answering(self.port, self.thread.is_alive)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STOP_TIMEOUT)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout=STOP_TIMEOUT)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError(f"the ASGI test server on port {self.port} did not stop")


class _QuietHandler(WSGIRequestHandler):
    # A client that connects and says nothing must not hold the server's
    # shutdown forever.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # Not daemon threads: server_close() joins the requests still running.
    daemon_threads = False
    block_on_close = True


class WsgiServer:
    """The standard library's WSGI server, one thread per request, on 127.0.0.1."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.httpd = make_server(
            HOST, 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wsgi-test-server-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> str:
        self.thread.start()
        wait_until_answering(self.port, self.thread.is_alive)
        return self.url

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(timeout=STOP_TIMEOUT)
        self.httpd.server_close()
