"""A loopback server that answers for every host and records what reached it.

The proxy's end-to-end tests point ``*.test`` hosts at it (``--map-host``) and
then assert on exactly which requests arrived, with which ``DNT`` and
``Sec-GPC`` fields. It speaks HTTP and, with a self-signed certificate for
``*.test``, HTTPS.

A few paths behave like real parties:

* ``/page?embed=URL[&embed=URL]``: an HTML page embedding each URL as an image;
* ``/set-id``: answers with an identifier cookie (a tracker's collector);
* ``/redirect?to=URL``: a 302 to URL; ``/loop``: a 302 to itself; ``/big``: a 300 kB body;
* ``/.well-known/gpc.json`` on ``honest.test``: ``{"gpc": true}``; 404 elsewhere.
"""

from __future__ import annotations

import datetime as dt
import html
import http.server
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@dataclass(frozen=True)
class Seen:
    scheme: str
    host: str
    path: str
    headers: dict[str, list[str]] = field(hash=False)

    def values(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


class Capture:
    """What the servers received, shared by the HTTP and HTTPS listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Seen] = []

    def add(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def to(self, host: str, *, well_known: bool = False) -> list[Seen]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.host == host and r.path.startswith("/.well-known/") is well_known
            ]


def _handler(capture: Capture, scheme: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            capture.add(Seen(scheme, host, self.path, headers))
            url = urlsplit(self.path)
            status, extra, content_type = 200, [], "application/json"
            if url.path == "/page":
                embeds = parse_qs(url.query).get("embed", [])
                imgs = "".join(f'<img src="{html.escape(u)}" width="1" height="1">' for u in embeds)
                body = f"<!doctype html><title>page</title><p>hello</p>{imgs}".encode()
                content_type = "text/html; charset=utf-8"
            elif url.path == "/pixel.gif":
                body, content_type = GIF, "image/gif"
            elif url.path == "/redirect":
                status, body = 302, b""
                extra.append(("Location", parse_qs(url.query)["to"][0]))
            elif url.path == "/loop":
                status, body = 302, b""
                extra.append(("Location", "/loop"))
            elif url.path == "/big":
                body = b"x" * 300_000
            elif url.path == "/set-id":
                body = b"{}"
                extra.append(("Set-Cookie", f"uid={secrets.token_hex(12)}; Path=/; Max-Age=86400"))
            elif url.path == "/.well-known/gpc.json" and host == "honest.test":
                body = b'{"gpc": true, "lastUpdate": "2025-01-01"}'
            elif url.path.startswith("/.well-known/"):
                status, body, content_type = 404, b"not here", "text/plain"
            else:
                body = json.dumps({"host": host, "path": self.path, "headers": headers}).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``*.test`` (and a few named hosts) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "capture.test")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName(n) for n in ("*.test", "site.test", "api.test", "tracker.test")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "capture-cert.pem", directory / "capture-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (size limits, blocked fetches) are expected


@dataclass
class CaptureServers:
    capture: Capture
    http_port: int
    https_port: int


@contextmanager
def capture_servers(directory: Path) -> Iterator[CaptureServers]:
    """An HTTP and an HTTPS listener on loopback, free ports, one shared capture."""
    capture = Capture()
    plain = _QuietServer(("127.0.0.1", 0), _handler(capture, "http"))
    secure = _QuietServer(("127.0.0.1", 0), _handler(capture, "https"))
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in (plain, secure)
    ]
    for t in threads:
        t.start()
    try:
        yield CaptureServers(capture, plain.server_address[1], secure.server_address[1])
    finally:
        for s in (plain, secure):
            s.shutdown()
            s.server_close()
