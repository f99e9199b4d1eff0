"""The browser driver: Debian's Chromium through Playwright, one fresh context
per visit, recording what the analysis needs and nothing else.

This is the only module that talks to a browser. It fills :class:`Observation`
and never judges: a visit that fails still returns what was recorded before
the failure, with the failure attached. Every call into the page is bounded
by a timeout, because a hostile page (an endless script, a response that
never ends) must not stall a crawl.

One browser serves every state of a site, so the signal is set per context:
``DNT`` and ``Sec-GPC`` through Playwright's extra headers, the navigator
properties through an init script (see :mod:`.states`). Service workers are
blocked so that every request of the page is seen by the recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Frame, Page, Playwright, Request
from playwright.async_api import Error as PlaywrightError

from .._untrusted import whole_number
from .browser_options import BASE_ARGS, BrowserOptions, chromium_path
from .consent import CONSENT_COOKIES, ConsentSnapshot
from .failures import Failure, FailureKind, classify_net_error
from .observation import CookieRecord, Observation, RequestRecord, StorageRecord
from .site_parties import host_of, site_key
from .states import SignalState, spec_for
from .text import clean_text

__all__ = ["BASE_ARGS", "BrowserBroken", "BrowserDriver", "BrowserOptions", "chromium_path"]

T = TypeVar("T")

#: Storage items read per origin; values are cut to this many characters.
MAX_STORAGE_ITEMS = 200
MAX_STORAGE_VALUE = 512

_CONSENT_JS = """
async () => {
  const wait = (p, ms) => Promise.race([p, new Promise(r => setTimeout(() => r(null), ms))]);
  const out = { usp: null, gpp: null, gppSid: null };
  try {
    if (typeof window.__uspapi === 'function') {
      out.usp = await wait(new Promise(r => {
        try {
          window.__uspapi('getUSPData', 1, (d, ok) =>
            r(ok && d && typeof d.uspString === 'string' ? d.uspString : null));
        } catch (e) { r(null); }
      }), 500);
    }
  } catch (e) {}
  try {
    if (typeof window.__gpp === 'function') {
      const ping = await wait(new Promise(r => {
        try {
          const ret = window.__gpp('ping', (d) => r(d));
          if (ret && typeof ret === 'object') r(ret);
        } catch (e) { r(null); }
      }), 500);
      if (ping && typeof ping.gppString === 'string') out.gpp = ping.gppString;
      if (ping && Array.isArray(ping.applicableSections))
        out.gppSid = ping.applicableSections.join(',');
    }
  } catch (e) {}
  return out;
}
"""

_STORAGE_JS = f"""
() => {{
  const dump = (getter) => {{
    const out = [];
    try {{
      const s = getter();
      for (let i = 0; i < Math.min(s.length, {MAX_STORAGE_ITEMS}); i++) {{
        const k = s.key(i);
        out.push([String(k), String(s.getItem(k)).slice(0, {MAX_STORAGE_VALUE})]);
      }}
    }} catch (e) {{}}
    return out;
  }};
  return {{ origin: location.origin, local: dump(() => localStorage),
           session: dump(() => sessionStorage) }};
}}
"""


#: Bytes of a Cache API body read (the rest is never fetched from the cache).
MAX_CACHE_BODY = 2048

#: IndexedDB and the Cache API: where an identifier can live without ever
#: being a cookie or web storage. Read in an evaluation of its own, after web
#: storage and the consent strings, so that a page with a large or busy store
#: costs only what this read finds (see :meth:`BrowserDriver._frame_state`).
#:
#: Everything is bounded, since a hostile page owns the data: records are
#: walked with a cursor, one at a time, until ``MAX_STORAGE_ITEMS`` records or
#: items, or the deadline ``cap`` ms away, whichever comes first; the whole
#: read also returns at ``cap`` with what it has. A value is never serialized
#: whole: ``text`` writes at most ``MAX_STORAGE_VALUE`` characters, 20 items of
#: an array or members of an object, three levels deep, and names binary data
#: and Blobs by their size without reading them.
#:
#: Read-only: a database is opened at its current version (one that does not
#: exist is never created), and closed as soon as the page wants to upgrade
#: it. A cache is opened only if it exists (``caches.open`` creates), and at
#: most ``MAX_CACHE_BODY`` bytes of a body are read through its stream.
#:
#: An IndexedDB record's objects and arrays are read four levels deep, one
#: item per value (``db/store/key.member.member``; deeper, the bounded text):
#: trackers keep ``{id: ..., created: ...}`` and the identifier is a value,
#: not the JSON. A cached response is keyed ``cache-name URL``; its body is
#: read the same way, one item per member of a JSON object or per ``k=v`` pair
#: of a query string (``cache-name URL #member``), else as its text. The URL
#: it is cached under is stored data too: each parameter of its query string
#: is an item (``cache-name URL-without-query ?param``).
_DEEP_STORAGE_JS = f"""
async (cap) => {{
  const MAXI = {MAX_STORAGE_ITEMS}, MAXV = {MAX_STORAGE_VALUE}, MAXB = {MAX_CACHE_BODY};
  const MAXN = 20, MAXD = 3, MAXF = 4;
  const deadline = Date.now() + cap;
  const late = () => Date.now() >= deadline;
  const out = {{ origin: location.origin, indexeddb: [], cache: [] }};
  const own = (v, k) => Object.prototype.hasOwnProperty.call(v, k);
  const binary = (v) => {{
    try {{
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v))
        return '[binary ' + v.byteLength + ' bytes]';
      if (typeof Blob === 'function' && v instanceof Blob) return '[blob ' + v.size + ' bytes]';
    }} catch (e) {{}}
    return null;
  }};
  // JSON-like text of a value, at most MAXV characters, never the whole value.
  const text = (value) => {{
    if (typeof value === 'string') return value.slice(0, MAXV);
    let n = 0;
    const parts = [];
    const full = () => n >= MAXV;
    const emit = (t) => {{
      if (n >= MAXV) return;
      t = String(t).slice(0, MAXV - n); parts.push(t); n += t.length;
    }};
    const walk = (v, depth) => {{
      if (full()) return;
      if (v === null || v === undefined) return emit('null');
      const t = typeof v;
      if (t === 'string') return emit(JSON.stringify(v.slice(0, MAXV)));
      if (t === 'number' || t === 'boolean' || t === 'bigint') return emit(String(v));
      if (t !== 'object') return emit('null');
      const label = binary(v);
      if (label !== null) return emit(depth ? JSON.stringify(label) : label);
      if (v instanceof Date)
        return emit(isNaN(v.getTime()) ? 'null' : JSON.stringify(v.toISOString()));
      const list = Array.isArray(v) || v instanceof Set;
      if (depth >= MAXD) return emit(list ? '[...]' : '{{...}}');
      if (Array.isArray(v)) {{
        emit('[');
        for (let i = 0; i < Math.min(v.length, MAXN) && !full(); i++) {{
          if (i) emit(',');
          walk(v[i], depth + 1);
        }}
        return emit(v.length > MAXN ? ',...]' : ']');
      }}
      if (v instanceof Set || v instanceof Map) {{
        emit(v instanceof Set ? '[' : '{{');
        let i = 0;
        for (const item of v) {{
          if (i >= MAXN || full()) break;
          if (i++) emit(',');
          if (v instanceof Set) {{ walk(item, depth + 1); continue; }}
          emit(JSON.stringify(String(item[0]).slice(0, MAXV)) + ':');
          walk(item[1], depth + 1);
        }}
        return emit(v instanceof Set ? ']' : '}}');
      }}
      emit('{{');
      let i = 0;
      for (const k in v) {{
        if (i >= MAXN || full()) break;
        if (!own(v, k)) continue;
        if (i++) emit(',');
        emit(JSON.stringify(k.slice(0, MAXV)) + ':');
        walk(v[k], depth + 1);
      }}
      return emit('}}');
    }};
    try {{ walk(value, 0); }} catch (e) {{}}
    return parts.join('');
  }};
  const put = (list, key, value) => {{
    if (list.length < MAXI) list.push([String(key).slice(0, MAXV), text(value)]);
  }};
  // One record as items: the members of objects and arrays, MAXF levels
  // down, each an item of its own (db/store/key.member.member, [i] for an
  // array's), so an id kept anywhere in them is a whole value; below that,
  // or for anything else, the bounded text.
  const record = (list, base, v, depth) => {{
    const plain = v && typeof v === 'object' && binary(v) === null && !(v instanceof Date);
    if (!plain || depth >= MAXF || list.length >= MAXI) {{ put(list, base, v); return; }}
    let i = 0;
    if (Array.isArray(v)) {{
      for (; i < Math.min(v.length, MAXN); i++)
        record(list, base + '[' + i + ']', v[i], depth + 1);
    }} else {{
      for (const m in v) {{
        if (!own(v, m)) continue;
        if (i++ >= MAXN) break;
        const x = v[m];
        if (x !== null && x !== undefined && typeof x !== 'function')
          record(list, base + '.' + m, x, depth + 1);
      }}
    }}
    if (i === 0) put(list, base, v);
  }};
  const idb = async () => {{
    if (!self.indexedDB || typeof indexedDB.databases !== 'function') return;
    let records = 0;
    const full = () => records >= MAXI || out.indexeddb.length >= MAXI || late();
    for (const info of (await indexedDB.databases()).slice(0, 20)) {{
      if (full()) return;
      if (typeof info.name !== 'string') continue;
      const db = await new Promise((res) => {{
        const r = indexedDB.open(info.name);
        r.onsuccess = () => {{
          // Opened after the read gave up: let go of it at once.
          if (late()) {{ r.result.close(); res(null); }} else res(r.result);
        }};
        r.onerror = () => res(null);
        r.onblocked = () => res(null);
        // The database went away since databases(): never create it.
        r.onupgradeneeded = () => {{ r.transaction.abort(); }};
      }});
      if (!db) continue;
      let closed = false;
      // Never hold up the page's own upgrade (or deletion) of the database.
      db.onversionchange = () => {{ closed = true; db.close(); }};
      try {{
        for (const name of Array.from(db.objectStoreNames).slice(0, 20)) {{
          if (closed || full()) break;
          await new Promise((res) => {{
            let r;
            try {{
              const tx = db.transaction(name, 'readonly');
              tx.onabort = () => res();
              r = tx.objectStore(name).openCursor();
            }} catch (e) {{ return res(); }}
            r.onerror = () => res();
            r.onsuccess = () => {{
              const c = r.result;
              if (!c) return res();
              records++;
              try {{
                record(out.indexeddb, info.name + '/' + name + '/' + text(c.key), c.value, 0);
              }} catch (e) {{}}
              // Not continuing ends the transaction.
              if (closed || full()) return res();
              try {{ c.continue(); }} catch (e) {{ res(); }}
            }};
          }});
        }}
      }} finally {{ closed = true; db.close(); }}
    }}
  }};
  // The first MAXB bytes of a body, read from its stream; the rest is left.
  const head = async (body) => {{
    const reader = body.getReader();
    const chunks = [];
    let n = 0;
    try {{
      while (n < MAXB && !late()) {{
        const {{ done, value }} = await reader.read();
        if (done || !value) break;
        const part = value.subarray(0, MAXB - n);
        chunks.push(part); n += part.length;
      }}
    }} finally {{ reader.cancel().catch(() => {{}}); }}
    const all = new Uint8Array(n);
    let at = 0;
    for (const part of chunks) {{ all.set(part, at); at += part.length; }}
    return new TextDecoder().decode(all);
  }};
  // A body's items: JSON members, or query pairs, or the text itself.
  const body = (key, t) => {{
    const s = t.trim();
    if (s.startsWith('{{')) {{
      let j = null;
      try {{ j = JSON.parse(s); }} catch (e) {{}}
      if (j && typeof j === 'object' && !Array.isArray(j)) {{
        let any = false;
        for (const m of Object.keys(j).slice(0, MAXN)) {{
          if (j[m] !== null) {{
            record(out.cache, key + ' #' + m, j[m], 1); any = true;
          }}
        }}
        if (any) return;
      }}
    }}
    const q = s.startsWith('?') ? s.slice(1) : s;
    if (/^[^\\s=&]+=[^\\s&]*(&[^\\s=&]+=[^\\s&]*)*&?$/.test(q)) {{
      let any = false, i = 0;
      for (const [k, v] of new URLSearchParams(q)) {{
        if (i++ >= MAXN) break;
        put(out.cache, key + ' #' + k, v); any = true;
      }}
      if (any) return;
    }}
    put(out.cache, key, t);
  }};
  const cache = async () => {{
    if (!self.caches || !self.isSecureContext) return;
    for (const name of (await caches.keys()).slice(0, 20)) {{
      if (out.cache.length >= MAXI || late()) return;
      // caches.open creates a cache that does not exist (any more).
      if (!(await caches.has(name))) continue;
      const c = await caches.open(name);
      for (const req of (await c.keys()).slice(0, MAXI)) {{
        if (out.cache.length >= MAXI || late()) return;
        let t = '';
        try {{
          const response = await c.match(req);
          if (response && response.body) t = await head(response.body);
        }} catch (e) {{}}
        body(name + ' ' + req.url, t);
        // The URL a response is cached under is stored too: an id in its
        // query string is kept there even when the body holds nothing.
        let u = null;
        try {{ u = new URL(req.url); }} catch (e) {{}}
        if (u && u.search) {{
          let i = 0;
          for (const [k, v] of u.searchParams) {{
            if (i++ >= MAXN) break;
            put(out.cache, name + ' ' + u.origin + u.pathname + ' ?' + k, v);
          }}
        }}
      }}
    }}
  }};
  await Promise.race([
    Promise.all([idb().catch(() => {{}}), cache().catch(() => {{}})]),
    new Promise((r) => setTimeout(r, cap)),
  ]);
  return out;
}}
"""

#: The main frame's web storage and consent strings in one evaluation.
_PAGE_STATE_JS = (
    f"async () => {{ const storage = ({_STORAGE_JS.strip()})(); "
    f"const consent = await ({_CONSENT_JS.strip()})(); "
    "return Object.assign(storage, { consent }); }"
)
#: Kinds of storage read, as the observation names them.
STORAGE_KINDS = ("local", "session", "indexeddb", "cache")


class BrowserBroken(RuntimeError):
    """The browser stopped answering; the caller relaunches it."""


async def _no_headers() -> list[Any]:
    return []


class _IsolatedReader:
    """The storage reads, evaluated in an isolated world of the main frame.

    A page's scripts own the main world: they can replace
    ``Storage.prototype.getItem``, ``indexedDB.open``, ``caches``, ``Date.now``
    or ``setTimeout`` and show the auditor whatever they like. An isolated
    world (a Chrome DevTools Protocol feature, as extensions' content scripts
    use) has its own JavaScript built-ins and DOM wrappers over the same
    document and the same origin's storage, so nothing the page patched is
    seen there, and the page cannot see the world either. The consent strings
    are still read in the main world: the page's own functions answer them.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.context_id = 0

    @classmethod
    async def attach(cls, page: Page) -> _IsolatedReader | None:
        """None if the browser cannot give a session (the caller reads as the page does)."""
        try:
            return cls(await page.context.new_cdp_session(page))
        except PlaywrightError:
            return None

    async def make_world(self) -> None:
        """A world in the main frame's current document (a navigation ends the
        last one). It is made on the page's thread: a stuck page never answers.
        Raises one of :data:`_WORLD_ERRORS` if the browser refuses."""
        tree = await self.session.send("Page.getFrameTree")
        made = await self.session.send(
            "Page.createIsolatedWorld",
            {"frameId": tree["frameTree"]["frame"]["id"], "worldName": "trackpref-audit"},
        )
        self.context_id = int(made["executionContextId"])

    async def evaluate(self, script: str, arg: int | None = None) -> object:
        """The script's value; PlaywrightError when the world is gone (the page
        navigated), None when the script threw."""
        call = f"({script})({'' if arg is None else int(arg)})"
        answer = await self.session.send(
            "Runtime.evaluate",
            {
                "expression": call,
                "contextId": self.context_id,
                "awaitPromise": True,
                "returnByValue": True,
            },
        )
        if not isinstance(answer, dict) or "exceptionDetails" in answer:
            return None
        result = answer.get("result")
        return result.get("value") if isinstance(result, dict) else None

    async def close(self) -> None:
        """Detach, within a second: a stuck page does not answer even that (the
        session then ends with the visit's context)."""
        with contextlib.suppress(PlaywrightError, TimeoutError):
            await asyncio.wait_for(self.session.detach(), 1.0)


#: What a refused world raises (a protocol error, or an answer of another shape).
_WORLD_ERRORS = (PlaywrightError, KeyError, TypeError, ValueError)
#: Worlds made for one read of the main frame: a page that keeps navigating
#: while it is read is reported unread, never read in its own world.
_WORLDS = 3
#: :meth:`BrowserDriver._world_storage`'s answer when the browser makes no world.
_NO_WORLD = object()


async def _bounded(awaitable: Awaitable[T], seconds: float) -> T | None:
    try:
        return await asyncio.wait_for(awaitable, timeout=seconds)
    except (TimeoutError, PlaywrightError):
        return None


class _Recorder:
    """Collects requests as the page makes them, in order.

    Raw headers (the only place ``Cookie`` and ``Set-Cookie`` appear) cost a
    round trip to the browser each, so they are fetched only for requests to
    other sites, where identifiers and syncs are looked for; a first-party
    request keeps the headers Chromium reports with its events, which include
    the signal and ``Tk``. Fetches start when a request finishes, while the
    page goes on, so the end of a visit does not wait for them one by one.
    """

    def __init__(self, site: str, max_post_data: int) -> None:
        self.site = site
        self.max_post_data = max_post_data
        self.order: list[Request] = []
        self.records: dict[int, RequestRecord] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.main_frame: Any = None

    def on_request(self, request: Request) -> None:
        self.order.append(request)

    def on_done(self, request: Request) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._collect(request)))

    def _is_navigation(self, request: Request) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.main_frame
        except PlaywrightError:
            return False

    def _cross_site(self, url: str) -> bool:
        host = host_of(url)
        return host is not None and site_key(host) != self.site

    def _basic(self, request: Request, failure: str | None = None) -> RequestRecord:
        post = None
        try:
            post = request.post_data_buffer
        except (PlaywrightError, ValueError):
            post = None
        return RequestRecord(
            url=clean_text(request.url),
            method=clean_text(request.method),
            resource_type=request.resource_type,
            headers=_pairs(request.headers.items()),
            post_data=post[: self.max_post_data] if post else None,
            failure=failure,
            navigation=self._is_navigation(request),
        )

    async def _collect(self, request: Request) -> None:
        failure = request.failure
        record = self._basic(request, failure)
        try:
            response = request.existing_response if failure is None else None
            raw = self._cross_site(request.url)
            headers = record.headers
            response_headers: tuple[tuple[str, str], ...] = ()
            if raw:
                # Both round trips at once.
                sent, received = await asyncio.gather(
                    request.headers_array(),
                    response.headers_array() if response is not None else _no_headers(),
                )
                headers = _pairs((h["name"], h["value"]) for h in sent)
                response_headers = _pairs((h["name"], h["value"]) for h in received)
            elif response is not None:
                response_headers = _pairs(response.headers.items())
            status = size = None
            if response is not None:
                status = response.status
                if record.navigation:
                    size = whole_number(response.headers.get("content-length"), max_digits=20)
                    if size is None:
                        sizes = await request.sizes()
                        size = int(sizes.get("responseBodySize", 0))
            record = dataclasses.replace(
                record,
                headers=headers,
                status=status,
                response_headers=response_headers,
                body_size=size,
            )
        except PlaywrightError:
            # The page went away before the response arrived: keep what the
            # request itself showed (URL, headers sent) rather than lose it.
            pass
        self.records[id(request)] = record

    async def finish(self, timeout: float) -> tuple[RequestRecord, ...]:
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)
        for task in self.tasks:
            if not task.done():
                task.cancel()
        out = []
        for request in self.order:
            record = self.records.get(id(request))
            out.append(record if record is not None else self._basic(request, "unfinished"))
        return tuple(out)


class BrowserDriver:
    """One launched Chromium. Visits are sequential per driver."""

    def __init__(self, browser: Browser, options: BrowserOptions) -> None:
        self.browser = browser
        self.options = options

    @classmethod
    async def launch(cls, playwright: Playwright, options: BrowserOptions) -> BrowserDriver:
        executable = options.executable or chromium_path()
        if executable is None:
            raise FileNotFoundError("no 'chromium' on PATH; install Debian's chromium package")
        browser = await playwright.chromium.launch(
            executable_path=executable, args=options.launch_args()
        )
        return cls(browser, options)

    @property
    def connected(self) -> bool:
        return self.browser.is_connected()

    async def close(self) -> None:
        await _bounded(self.browser.close(), 10)

    async def visit(self, url: str, state: SignalState) -> Observation:
        """Visit ``url`` in a fresh context with ``state``'s signal.

        Raises :class:`BrowserBroken` only when the browser itself is gone;
        every page-level problem is recorded as the observation's failure.
        """
        spec = spec_for(state)
        options = self.options
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        t0 = time.monotonic()
        try:
            context = await asyncio.wait_for(
                self.browser.new_context(
                    extra_http_headers=spec.headers or None,
                    ignore_https_errors=options.ignore_https_errors,
                    service_workers="block",
                    user_agent=options.user_agent,
                ),
                timeout=30,
            )
        except (TimeoutError, PlaywrightError) as exc:
            raise BrowserBroken(f"cannot open a browser context: {exc}") from exc
        page_host = host_of(url)
        recorder = _Recorder(site_key(page_host) if page_host else url, options.max_post_data)
        failure: Failure | None = None
        status: int | None = None
        final_url: str | None = None
        cookies: tuple[CookieRecord, ...] = ()
        storage: tuple[StorageRecord, ...] = ()
        consent = ConsentSnapshot()
        unread: list[str] = []
        try:
            if spec.init_script:
                await context.add_init_script(script=spec.init_script)
            context.on("request", recorder.on_request)
            context.on("requestfinished", recorder.on_done)
            context.on("requestfailed", recorder.on_done)
            page = await context.new_page()
            recorder.main_frame = page.main_frame
            failure, status = await self._load(page, url)
            final_url = clean_text(page.url) if page.url != "about:blank" else None
            if failure is None or failure.kind is FailureKind.TIMEOUT:
                (storage, consent_js, page_read), jar_or_none = await asyncio.gather(
                    self._page_state(page),
                    _bounded(context.cookies(), options.read_timeout),
                )
                if not page_read:
                    unread += ["storage", "consent"]
                elif not isinstance(consent_js, dict):  # the CMP's read timed out
                    unread.append("consent")
                if jar_or_none is None:
                    unread.append("cookies")
                jar = jar_or_none or []
                cookies = tuple(
                    CookieRecord(
                        name=clean_text(c.get("name", "")),
                        value=clean_text(c.get("value", "")),
                        domain=clean_text(c.get("domain", "")),
                        path=clean_text(c.get("path", "/")),
                        expires=None if c.get("expires", -1) in (-1, None) else c.get("expires"),
                        http_only=bool(c.get("httpOnly")),
                        secure=bool(c.get("secure")),
                        same_site=c.get("sameSite"),
                    )
                    for c in jar
                )
                consent = _consent(consent_js, cookies)
        except PlaywrightError as exc:
            if not self.browser.is_connected():
                raise BrowserBroken(str(exc)) from exc
            failure = failure or Failure(classify_net_error(str(exc)), _first_line(exc))
        requests = await recorder.finish(options.read_timeout)
        if failure is None:
            failure = _size_failure(requests, options.max_page_bytes)
        closed = await _bounded(_closed(context), 10)
        if not closed and not self.browser.is_connected():
            raise BrowserBroken("the browser died while closing a context")
        return Observation(
            state=state,
            url=url,
            final_url=final_url,
            document_status=status,
            requests=requests,
            cookies=cookies,
            storage=storage,
            consent=consent,
            failure=failure,
            started_at=started,
            duration_ms=round((time.monotonic() - t0) * 1000, 1),
            unread=tuple(unread),
        )

    async def _load(self, page: Page, url: str) -> tuple[Failure | None, int | None]:
        options = self.options
        try:
            response = await asyncio.wait_for(
                page.goto(url, wait_until="load", timeout=options.page_timeout * 1000),
                timeout=options.page_timeout + 5,
            )
        except TimeoutError:
            return Failure(
                FailureKind.TIMEOUT,
                f"the page did not finish loading in {options.page_timeout:g} s",
            ), None
        except PlaywrightError as exc:
            if not self.browser.is_connected():
                raise BrowserBroken(str(exc)) from exc
            kind = classify_net_error(str(exc))
            message = _first_line(exc)
            if kind is FailureKind.TIMEOUT:
                message = f"the page did not finish loading in {options.page_timeout:g} s"
            return Failure(kind, message), None
        status = response.status if response is not None else None
        if options.settle > 0:
            await asyncio.sleep(options.settle)
        if status is not None and status >= 400:
            return Failure(FailureKind.HTTP_STATUS, f"the page answered HTTP {status}"), status
        return None, status

    async def _page_state(self, page: Page) -> tuple[tuple[StorageRecord, ...], object, bool]:
        """Storage of every frame (up to 20: web storage, IndexedDB, the Cache
        API) and the consent strings of the page, and whether the main frame
        answered (a page whose main thread hangs after ``load`` does not).
        Frames are read at the same time, each as :meth:`_frame_state` says."""
        main = page.main_frame
        frames = [main, *(f for f in page.frames if f is not main)][:20]
        timeout = self.options.read_timeout
        reader = await _bounded(_IsolatedReader.attach(page), timeout)
        try:
            results = await asyncio.gather(
                *(self._frame_state(f, reader if f is main else None) for f in frames)
            )
        finally:
            if reader is not None:
                await reader.close()
        first = results[0][0]
        page_read = isinstance(first, dict)
        consent = first.get("consent") if isinstance(first, dict) else None
        seen: dict[str, set[str]] = {"state": set(), "deep": set()}
        out: list[StorageRecord] = []
        for pair in results:
            for part, data in zip(("state", "deep"), pair, strict=True):
                if not isinstance(data, dict):
                    continue
                origin = clean_text(str(data.get("origin", "")))
                if origin in seen[part] or origin in ("", "null"):
                    continue
                seen[part].add(origin)
                for kind in STORAGE_KINDS:
                    for item in data.get(kind) or []:
                        if isinstance(item, list) and len(item) == 2:
                            key, value = clean_text(str(item[0])), clean_text(str(item[1]))
                            out.append(StorageRecord(origin, kind, key, value))
        return tuple(out), consent, page_read

    async def _frame_state(
        self, frame: Frame, reader: _IsolatedReader | None
    ) -> tuple[object, object]:
        """One frame's storage: web storage (and, in the main frame, the consent
        strings) first, then IndexedDB and the Cache API in an evaluation of
        their own, so that a store too large or too busy to read in time costs
        only itself. The deep read gets half the read timeout; its script stops
        a little before that and returns what it has. A frame that did not
        answer the first read is not asked again (its main thread is stuck).
        The reads are sequential: a page's scripts run on one thread.

        The main frame is given a ``reader``: its storage is read in an
        isolated world the page's scripts cannot patch. A world ends with its
        document, so a page that navigates gets a new one in its new document;
        one that keeps navigating is reported unread, never read in its own
        world (where its patches would answer)."""
        timeout = self.options.read_timeout
        if reader is not None:
            storage = await self._world_storage(reader)
            if storage is not _NO_WORLD:
                if not isinstance(storage, dict):
                    return None, None
                consent = await _bounded(frame.evaluate(_CONSENT_JS), timeout)
                deep = await _bounded(
                    reader.evaluate(_DEEP_STORAGE_JS, int(timeout * 400)), timeout / 2
                )
                return {**storage, "consent": consent}, deep
        main = frame.parent_frame is None
        state = await _bounded(frame.evaluate(_PAGE_STATE_JS if main else _STORAGE_JS), timeout)
        if not isinstance(state, dict):
            return None, None
        deep = await _bounded(frame.evaluate(_DEEP_STORAGE_JS, int(timeout * 400)), timeout / 2)
        return state, deep

    async def _world_storage(self, reader: _IsolatedReader) -> object:
        """The main frame's web storage, read in a new isolated world: None if
        the page is stuck (a world is made on its thread) or keeps navigating
        (each navigation ends the world), :data:`_NO_WORLD` if the browser
        makes none at all (the frame is then read as the page sees it)."""
        timeout = self.options.read_timeout
        for attempt in range(_WORLDS):
            try:
                await asyncio.wait_for(reader.make_world(), timeout)
            except TimeoutError:
                return None
            except _WORLD_ERRORS:
                return _NO_WORLD if attempt == 0 else None
            try:
                return await asyncio.wait_for(reader.evaluate(_STORAGE_JS), timeout)
            except TimeoutError:
                return None
            except PlaywrightError:  # the world went with its document: a new one
                continue
        return None


def _pairs(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Header pairs with lone surrogates replaced (see :mod:`.text`)."""
    return tuple((clean_text(name), clean_text(value)) for name, value in items)


def _size_failure(requests: Sequence[RequestRecord], limit: int) -> Failure | None:
    for record in requests:
        if record.navigation and record.body_size is not None and record.body_size > limit:
            return Failure(
                FailureKind.TOO_LARGE,
                f"the page document is {record.body_size:,} bytes, over the {limit:,}-byte limit",
            )
    return None


async def _closed(context: BrowserContext) -> bool:
    await context.close()
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return clean_text(text[0][:300]) if text else type(exc).__name__


def _consent(js: object, cookies: Sequence[CookieRecord]) -> ConsentSnapshot:
    data = js if isinstance(js, dict) else {}
    jar = {c.name: c.value for c in cookies if c.name in CONSENT_COOKIES}

    def text(value: object) -> str | None:
        return clean_text(value) if isinstance(value, str) and value else None

    return ConsentSnapshot(
        usp_api=text(data.get("usp")),
        usp_cookie=jar.get("usprivacy"),
        gpp_api=text(data.get("gpp")),
        gpp_sid=text(data.get("gppSid")),
        onetrust=jar.get("OptanonConsent"),
        onetrust_gpp=jar.get("OTGPPConsent"),
        google_opt_out=jar.get("OneTrustWPCCPAGoogleOptOut"),
    )
