"""A fixture web on loopback: sites that honor, ignore, partly honor, claim but
violate, or declare badly, their third parties, and hostile hosts.

One Starlette app serves every ``*.test`` host on one port and dispatches on
the ``Host`` header; Chromium and the auditor reach it through
``--host-rules "MAP *.test 127.0.0.1"``. Third-party URLs carry the port of the
request, so the pages work on whatever free port the server got.

The trackers behave like real ones in the ways the auditor looks at: a script
keeps an id in first-party storage and sends it in two pixels (recurrence,
first-party sharing), the collector answers with an identifier cookie, and an
ad pixel redirects to a sync partner with its own id in the URL (cookie sync).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from trackpref.audit.gpp import encode_gpp, encode_us_section
from trackpref.audit.hostrules import HostRules

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
#: A publisher id: the same in every visit, so the auditor must not count it.
PUBLISHER_ID = "PUB7f3a9c2e1b0d44"
#: Stand-in for the EFF policy text, which this project cannot ship; tests pass
#: its hash to the auditor as the accepted one.
POLICY_TEXT = b"Fixture DNT policy: we promise what the EFF policy promises.\n"

TRACKER_JS = """
(function () {
  var key = '_trk_uid';
  var uid = null;
  try { uid = localStorage.getItem(key); } catch (e) {}
  if (!uid) {
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    uid = Array.from(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
    try { localStorage.setItem(key, uid); } catch (e) {}
  }
  document.cookie = '_trk=' + uid + '; path=/; max-age=31536000';
  var base = document.currentScript.src.replace(/\\/t\\.js.*$/, '');
  ['pageview', 'scroll'].forEach(function (ev) {
    var img = new Image();
    img.src = base + '/collect?uid=' + uid + '&ev=' + ev + '&cb=' + Math.random();
  });
})();
"""


def _signals(request: Request) -> tuple[bool, bool]:
    dnt = request.headers.get("dnt", "").startswith("1")
    gpc = request.headers.get("sec-gpc") == "1"
    return dnt, gpc


def _cmp_script(*, honors: bool) -> str:
    """A CMP stub that reads navigator.globalPrivacyControl, as real ones do."""
    gpp_no = encode_gpp([(7, encode_us_section(7, fields=[("SaleOptOut", 2)], gpc=False))])
    gpp_yes = encode_gpp([(7, encode_us_section(7, fields=[("SaleOptOut", 1)], gpc=True))])
    usp_yes = "1YYN" if honors else "1YNN"
    gpp_on = gpp_yes if honors else gpp_no
    return f"""<script>
  (function () {{
    var g = navigator.globalPrivacyControl === true;
    var usp = g ? {json.dumps(usp_yes)} : "1YNN";
    var gpp = g ? {json.dumps(gpp_on)} : {json.dumps(gpp_no)};
    window.__uspapi = function (cmd, v, cb) {{ cb({{version: 1, uspString: usp}}, true); }};
    window.__gpp = function (cmd, cb) {{
      cb({{gppVersion: '1.1', gppString: gpp, applicableSections: [7]}}, true);
    }};
  }})();
</script>"""


def _page(
    request: Request,
    *,
    trackers: tuple[str, ...],
    cmp: str = "",
    unsafe_referrer: bool = False,
    title: str = "fixture",
    padding: int = 0,
) -> str:
    port = request.url.port
    tags = []
    if "tracker" in trackers:
        tags.append(f'<script src="http://tracker.test:{port}/t.js?pid={PUBLISHER_ID}"></script>')
    if "ads" in trackers:
        tags.append(f'<img src="http://ads.test:{port}/px?slot=top&pid={PUBLISHER_ID}" alt="">')
    meta = '<meta name="referrer" content="unsafe-url">' if unsafe_referrer else ""
    pad = f"<!-- {'x' * padding} -->" if padding else ""
    return (
        f"<!doctype html><html><head><title>{title}</title>{meta}"
        f'<link rel="stylesheet" href="/style.css">{cmp}</head>'
        f"<body><h1>{title}</h1>{''.join(tags)}{pad}</body></html>"
    )


def _tsr(
    body: dict[str, object] | str, *, vary_dnt: bool = False, cookie: bool = False
) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    headers = {"Vary": "DNT"} if vary_dnt else {}
    response = Response(text, media_type="application/tracking-status+json", headers=headers)
    if cookie:
        response.set_cookie("tsr_visit", secrets.token_hex(8))
    return response


def _huge(request: Request, size: int, content_type: str) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        block = b"{" + b" " * 65534 + b"\n"
        while sent < size:
            if await request.is_disconnected():
                return
            yield block
            sent += len(block)

    return StreamingResponse(chunks(), media_type=content_type)


# -- the sites ------------------------------------------------------------------


def honor(request: Request) -> Response:
    path = request.url.path
    dnt, gpc = _signals(request)
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": "N" if dnt else "T", "policy": "/privacy"}, vary_dnt=True)
    if path == "/.well-known/gpc.json":
        return JSONResponse({"gpc": True, "lastUpdate": "2026-01-15"})
    if path == "/":
        trackers = () if (dnt or gpc) else ("tracker", "ads")
        html = _page(request, trackers=trackers, cmp=_cmp_script(honors=True), title="honor")
        return HTMLResponse(html, headers={"Tk": "N" if dnt else "T", "Vary": "DNT, Sec-GPC"})
    return _common(request)


def ignore(request: Request) -> Response:
    if request.url.path in ("/", "/search"):
        html = _page(
            request,
            trackers=("tracker", "ads"),
            cmp=_cmp_script(honors=False),
            unsafe_referrer=True,
            title="ignore",
        )
        return HTMLResponse(html)
    return _common(request)


def partial(request: Request) -> Response:
    dnt, gpc = _signals(request)
    if request.url.path == "/.well-known/gpc.json":
        return JSONResponse({"gpc": False})
    if request.url.path == "/":
        trackers = ("tracker",) if (dnt or gpc) else ("tracker", "ads")
        return HTMLResponse(_page(request, trackers=trackers, title="partial"))
    return _common(request)


def liar(request: Request) -> Response:
    path = request.url.path
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": "N"})
    if path == "/.well-known/gpc.json":
        return JSONResponse({"gpc": True, "lastUpdate": "2025-04-15"})
    if path == "/.well-known/dnt-policy.txt":
        return Response(POLICY_TEXT, media_type="text/plain")
    if path == "/":
        html = _page(
            request, trackers=("tracker", "ads"), cmp=_cmp_script(honors=False), title="liar"
        )
        return HTMLResponse(html, headers={"Tk": "N"})
    return _common(request)


def broken(request: Request) -> Response:
    path = request.url.path
    dnt, gpc = _signals(request)
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": "N" if dnt else "T"}, vary_dnt=True, cookie=True)
    if path == "/.well-known/gpc.json":
        return Response('{"gpc": "true"}', media_type="text/plain")
    if path == "/":
        trackers = () if (dnt or gpc) else ("tracker", "ads")
        return HTMLResponse(_page(request, trackers=trackers, title="broken"))
    return _common(request)


def hostile(request: Request) -> Response:
    """Hostile declarations: non-JSON TSR, a 10 MB gpc.json, a 2 MB policy."""
    path = request.url.path
    if path == "/.well-known/dnt/":
        return Response(
            "<html>this is not JSON</html>", media_type="application/tracking-status+json"
        )
    if path == "/.well-known/gpc.json":
        return _huge(request, 10 * 1024 * 1024, "application/json")
    if path == "/.well-known/dnt-policy.txt":
        return _huge(request, 2 * 1024 * 1024, "text/plain")
    if path == "/":
        return HTMLResponse(_page(request, trackers=(), title="hostile"))
    return _common(request)


def wrongtypes(request: Request) -> Response:
    path = request.url.path
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": ["N"], "same-party": "wrongtypes.test"})
    if path == "/.well-known/gpc.json":
        return JSONResponse({"gpc": 1, "lastUpdate": 20260101})
    if path == "/":
        return HTMLResponse(_page(request, trackers=(), title="wrongtypes"))
    return _common(request)


def partnered(request: Request) -> Response:
    """Declares the tracker same-party in a valid TSR, and loads it whatever the signals."""
    path = request.url.path
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": "N", "same-party": ["tracker.test"]})
    if path == "/":
        return HTMLResponse(_page(request, trackers=("tracker",), title="partnered"))
    return _common(request)


def clean(request: Request) -> Response:
    """No third parties at all, and says so validly."""
    path = request.url.path
    if path == "/.well-known/dnt/":
        return _tsr({"tracking": "N"})
    if path == "/.well-known/gpc.json":
        return JSONResponse({"gpc": True})
    if path == "/":
        return HTMLResponse(_page(request, trackers=(), title="clean"), headers={"Tk": "N"})
    return _common(request)


def twotk(request: Request) -> Response:
    """Two Tk headers (a browser joins them with a newline) and one with a tab."""
    if request.url.path == "/":
        page = HTMLResponse(_page(request, trackers=(), title="two tk"))
        page.raw_headers += [(b"tk", b"C;abc"), (b"tk", b"N"), (b"tk", b"N;a\tb")]
        return page
    return clean(request)


async def slow(request: Request) -> Response:
    """Never finishes loading: a byte now and then, forever."""

    async def trickle() -> AsyncIterator[bytes]:
        yield b"<!doctype html><html><body>loading"
        while True:
            await asyncio.sleep(0.2)
            yield b"."

    return StreamingResponse(trickle(), media_type="text/html")


def loop(request: Request) -> Response:
    target = "/b" if request.url.path != "/b" else "/a"
    return RedirectResponse(target, status_code=302)


def huge(request: Request) -> Response:
    if request.url.path == "/":
        return HTMLResponse(_page(request, trackers=(), title="huge", padding=3 * 1024 * 1024))
    return _common(request)


def probe(request: Request) -> Response:
    """Reports what page scripts see of the signal, by requesting it back."""
    if request.url.path == "/":
        script = (
            "<script>new Image().src = '/seen?dnt=' + navigator.doNotTrack + "
            "'&gpc=' + navigator.globalPrivacyControl;</script>"
        )
        return HTMLResponse(f"<!doctype html><html><body>probe{script}</body></html>")
    if request.url.path == "/seen":
        return Response(GIF, media_type="image/gif")
    return _common(request)


def surrogate(request: Request) -> Response:
    """Hostile text: a lone surrogate in storage, and a value whose cut at the
    storage limit (512) splits a surrogate pair. Neither can be encoded as UTF-8."""
    if request.url.path != "/":
        return _common(request)
    script = (
        "<script>localStorage.setItem('lone', 'ab\\ud800cd');"
        "localStorage.setItem('split', 'x'.repeat(511) + '\\ud83d\\ude00');"
        "sessionStorage.setItem('k\\udc00', 'v');</script>"
    )
    return HTMLResponse(f"<!doctype html><html><body>surrogate{script}</body></html>")


def hang(request: Request) -> Response:
    """A page whose main thread never yields once it has loaded."""
    if request.url.path != "/":
        return _common(request)
    script = (
        "<script>localStorage.setItem('k', 'v');"
        "addEventListener('load', () => setTimeout(() => { for (;;) {} }, 0));</script>"
    )
    return HTMLResponse(f"<!doctype html><html><body>hang{script}</body></html>")


#: Keeps an id in localStorage and in IndexedDB, then patches the page's own
#: APIs to hide both from any script that asks: getItem and key lie, the
#: database cannot be opened, and the clock and timers are stopped.
MASKED_JS = """
(async function () {
  localStorage.setItem('_uid', 'f00dcafe0123456789abcdef');
  await new Promise(function (done) {
    var r = indexedDB.open('masked', 1);
    r.onupgradeneeded = function () { r.result.createObjectStore('ids'); };
    r.onerror = done;
    r.onsuccess = function () {
      var tx = r.result.transaction('ids', 'readwrite');
      tx.objectStore('ids').put('beefcafe9876543210fedcba', 'me');
      tx.oncomplete = function () { r.result.close(); done(); };
    };
  });
  var getItem = Storage.prototype.getItem, key = Storage.prototype.key;
  Storage.prototype.getItem = function (k) {
    return k === '_uid' ? 'none' : getItem.call(this, k);
  };
  Storage.prototype.key = function (i) {
    var k = key.call(this, i);
    return k === '_uid' ? 'theme' : k;
  };
  IDBFactory.prototype.open = function () { throw new Error('no database here'); };
  IDBFactory.prototype.databases = function () { return Promise.resolve([]); };
  Date.now = function () { return 0; };
  window.setTimeout = function () { return 0; };
  document.title = 'masked';
})();
"""


def masked(request: Request) -> Response:
    if request.url.path == "/":
        return HTMLResponse(
            f"<!doctype html><html><body>masked<script>{MASKED_JS}</script></body></html>"
        )
    return _common(request)


def flitting(request: Request) -> Response:
    """masked.test's lies, and a page that reloads itself soon after each load,
    so that a world made in one document is gone when it is asked."""
    if request.url.path == "/":
        reload = (
            "<script>var later = window.setTimeout.bind(window);"
            "addEventListener('load', function () {"
            " later(function () { location.replace(location.href); }, 15); });</script>"
        )
        return HTMLResponse(
            f"<!doctype html><html><body>flitting{reload}<script>{MASKED_JS}</script></body></html>"
        )
    return _common(request)


#: Keeps fresh ids where only a deep read finds them: in IndexedDB (as an
#: object's member) and, in a secure context, in the Cache API, once as a form
#: body holding the IndexedDB id and once as a JSON body holding a second id.
#: Neither is a cookie or in web storage; the IndexedDB id is never sent, the
#: cached-only one is sent once, to tracker.test, so it counts only because
#: the Cache API read finds it stored.
VAULT_JS = """
(async function () {
  var fresh = function () {
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.from(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  };
  var uid = fresh();
  await new Promise(function (done) {
    var r = indexedDB.open('trk', 1);
    r.onupgradeneeded = function () { r.result.createObjectStore('ids'); };
    r.onerror = done;
    r.onsuccess = function () {
      var tx = r.result.transaction('ids', 'readwrite');
      tx.objectStore('ids').put({id: uid, kind: 'visitor'}, 'me');
      var deep = {v: 2, meta: {ids: [{uid: uid.split('').reverse().join('')}]}};
      tx.objectStore('ids').put(deep, 'deep');
      tx.oncomplete = function () { r.result.close(); done(); };
    };
  });
  if (self.caches && self.isSecureContext) {
    var cid = fresh();
    var c = await caches.open('trk-v1');
    var form = {headers: {'content-type': 'application/x-www-form-urlencoded'}};
    await c.put('/vault/state', new Response('uid=' + uid + '&v=1', form));
    var json = {headers: {'content-type': 'application/json'}};
    await c.put('/vault/profile', new Response(JSON.stringify({cid: cid, n: 3}), json));
    new Image().src = 'http://tracker.test:' + location.port + '/collect?c=' + cid;
    // An id kept only in the URL a response is cached under, sent once.
    var vid = fresh();
    await c.put('/vault/px?vid=' + vid + '&w=1', new Response('ok'));
    new Image().src = 'http://tracker.test:' + location.port + '/collect?v=' + vid;
  }
  document.title = 'stored';
})();
"""


def vault(request: Request) -> Response:
    if request.url.path in ("/", "/vault"):
        return HTMLResponse(
            f"<!doctype html><html><body>vault<script>{VAULT_JS}</script></body></html>"
        )
    return _common(request)


#: Tokens of bigdb pages whose database is full (see :func:`bigdb`).
_BIGDB_READY: set[str] = set()

#: A large IndexedDB: 200 records of about 600 KB each (random numbers, which
#: neither compress nor serialize quickly), then a localStorage item. Reading
#: every record whole and serializing it, all in one synchronous run, takes
#: seconds.
BIGDB_JS = """
(function () {
  var data = [];
  for (var i = 0; i < 68000; i++) data.push(Math.random());
  var r = indexedDB.open('big', 1);
  r.onupgradeneeded = function () { r.result.createObjectStore('blobs'); };
  r.onsuccess = function () {
    var db = r.result, tx = db.transaction('blobs', 'readwrite'), store = tx.objectStore('blobs');
    for (var i = 0; i < 200; i++) store.put({data: data, n: [i]}, i);
    tx.oncomplete = function () {
      db.close();
      localStorage.setItem('bigdb', 'full');
      fetch('/ready?t=' + TOKEN);
    };
  };
})();
"""


async def bigdb(request: Request) -> Response:
    """A page with a large IndexedDB and a CMP. An image that the server holds
    until the database is full keeps the page's ``load`` event until then."""
    path = request.url.path
    if path == "/":
        token = secrets.token_hex(8)
        script = BIGDB_JS.replace("TOKEN", json.dumps(token))
        return HTMLResponse(
            f"<!doctype html><html><head>{_cmp_script(honors=True)}</head><body>bigdb"
            f'<script>{script}</script><img src="/hold?t={token}" alt=""></body></html>'
        )
    if path == "/ready":
        _BIGDB_READY.add(request.query_params.get("t", ""))
        return Response("", status_code=204)
    if path == "/hold":
        token = request.query_params.get("t", "")
        for _ in range(200):
            if token in _BIGDB_READY:
                break
            await asyncio.sleep(0.05)
        _BIGDB_READY.discard(token)
        return Response(GIF, media_type="image/gif")
    return _common(request)


def cloak(request: Request) -> Response:
    """A site with a tracker behind its own name: metrics.cloak.test, which the
    fixture DNS makes a CNAME to a tracker (CNAME cloaking)."""
    if request.url.path != "/":
        return _common(request)
    port = request.url.port
    tag = f'<script src="http://metrics.cloak.test:{port}/t.js"></script>'
    return HTMLResponse(f"<!doctype html><html><body>cloak{tag}</body></html>")


def address(request: Request) -> Response:
    """127.0.0.1: the clean site, and the vault under /vault (a secure context)."""
    if request.url.path == "/vault":
        return vault(request)
    return clean(request)


def _common(request: Request) -> Response:
    if request.url.path == "/style.css":
        return Response("body { font-family: sans-serif; }", media_type="text/css")
    return Response("not found", status_code=404, media_type="text/plain")


# -- third parties -------------------------------------------------------------


def tracker(request: Request) -> Response:
    path = request.url.path
    if path == "/t.js":
        return Response(TRACKER_JS, media_type="application/javascript")
    if path == "/collect":
        response = Response(GIF, media_type="image/gif")
        response.set_cookie("tid", secrets.token_hex(16), max_age=31536000)
        return response
    if path == "/.well-known/gpc.json":
        # The tracker claims to honor GPC, too.
        return JSONResponse({"gpc": True})
    return _common(request)


def ads(request: Request) -> Response:
    if request.url.path == "/px":
        aid = secrets.token_urlsafe(18)
        port = request.url.port
        response = RedirectResponse(
            f"http://sync.test:{port}/match?partner=ads&puid={aid}", status_code=302
        )
        response.set_cookie("aid", aid, max_age=31536000)
        return response
    return _common(request)


def sync(request: Request) -> Response:
    if request.url.path == "/match":
        return Response(GIF, media_type="image/gif")
    return _common(request)


HANDLERS: dict[str, Callable[[Request], object]] = {
    "honor.test": honor,
    "ignore.test": ignore,
    "partial.test": partial,
    "liar.test": liar,
    "broken.test": broken,
    "hostile.test": hostile,
    "wrongtypes.test": wrongtypes,
    "clean.test": clean,
    "twotk.test": twotk,
    "partnered.test": partnered,
    "slow.test": slow,
    "loop.test": loop,
    "huge.test": huge,
    "tls.test": clean,
    "probe.test": probe,
    "surrogate.test": surrogate,
    "hang.test": hang,
    # A site reached by address, as `trackpref serve` is: no host rules needed.
    "127.0.0.1": address,
    "vault.test": vault,
    "masked.test": masked,
    "flitting.test": flitting,
    "bigdb.test": bigdb,
    "cloak.test": cloak,
    "metrics.cloak.test": tracker,
    "tracker.test": tracker,
    "ads.test": ads,
    "sync.test": sync,
}


class HostDispatch:
    """Pure ASGI: route on the Host header to one handler per site."""

    def __init__(self) -> None:
        routes = [Route("/{path:path}", self._endpoint, methods=["GET", "POST"])]
        self.app: ASGIApp = Starlette(routes=routes)

    async def _endpoint(self, request: Request) -> Response:
        host = (request.headers.get("host") or "").split(":")[0].lower()
        handler = HANDLERS.get(host)
        if handler is None:
            return Response(f"unknown host {host}", status_code=421)
        result = handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, Response)
        return result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


# -- serving -------------------------------------------------------------------


@contextmanager
def serve(
    app: ASGIApp, *, certfile: str | None = None, keyfile: str | None = None
) -> Iterator[int]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="error",
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def self_signed_cert(directory: Path, hostnames: list[str]) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), False)
        .sign(key, hashes.SHA256())
    )
    certfile = directory / "cert.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certfile), str(keyfile)


@dataclass(frozen=True)
class FixtureWeb:
    port: int
    tls_port: int
    closed_port: int
    rules: HostRules
    #: The self-signed certificate tls.test serves (for clients that trust it).
    certfile: str

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}.test:{self.port}{path}"

    @property
    def policy_hashes(self) -> dict[str, str]:
        digest = hashlib.sha1(POLICY_TEXT, usedforsecurity=False).hexdigest()
        return {digest: "fixture policy"}
