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
import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page, Playwright, Request
from playwright.async_api import Error as PlaywrightError

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


#: IndexedDB and the Cache API: where an identifier can live without ever
#: being a cookie or web storage. Read-only: a database is opened at its
#: current version (one that does not exist is never created), and each read
#: is capped at ``cap`` ms so that a page that holds a database open cannot
#: keep web storage and the consent strings from being read.
#: An IndexedDB record that is an object is read one level deep, one item per
#: text or number member (``db/store/key.member``): trackers keep
#: ``{id: ..., created: ...}`` and the identifier is a member, not the JSON.
_DEEP_STORAGE_JS = f"""
async (cap) => {{
  const MAXI = {MAX_STORAGE_ITEMS}, MAXV = {MAX_STORAGE_VALUE};
  const out = {{ indexeddb: [], cache: [] }};
  const text = (v) => {{
    try {{
      if (typeof v === 'string') return v;
      const j = JSON.stringify(v);
      return j === undefined ? String(v) : j;
    }} catch (e) {{ try {{ return String(v); }} catch (e2) {{ return ''; }} }}
  }};
  const put = (list, key, value) => {{
    if (list.length < MAXI) list.push([key.slice(0, MAXV), text(value).slice(0, MAXV)]);
  }};
  const request = (r) => new Promise((res) => {{
    r.onsuccess = () => res(r.result); r.onerror = () => res(null);
  }});
  const idb = async () => {{
    if (!self.indexedDB || typeof indexedDB.databases !== 'function') return;
    for (const info of (await indexedDB.databases()).slice(0, 20)) {{
      if (out.indexeddb.length >= MAXI || typeof info.name !== 'string') return;
      const db = await new Promise((res) => {{
        const r = indexedDB.open(info.name);
        r.onsuccess = () => res(r.result);
        r.onerror = () => res(null);
        r.onblocked = () => res(null);
        r.onupgradeneeded = () => {{ r.transaction.abort(); }};
      }});
      if (!db) continue;
      try {{
        for (const name of Array.from(db.objectStoreNames).slice(0, 20)) {{
          const left = MAXI - out.indexeddb.length;
          if (left <= 0) break;
          const store = db.transaction(name, 'readonly').objectStore(name);
          const [keys, values] = await Promise.all([
            request(store.getAllKeys(null, left)), request(store.getAll(null, left))]);
          if (!keys || !values) continue;
          for (let i = 0; i < Math.min(keys.length, values.length); i++) {{
            const base = info.name + '/' + name + '/' + text(keys[i]);
            const v = values[i];
            if (v && typeof v === 'object' && !Array.isArray(v)) {{
              let any = false;
              for (const m of Object.keys(v).slice(0, 20)) {{
                if (typeof v[m] === 'string' || typeof v[m] === 'number') {{
                  put(out.indexeddb, base + '.' + m, v[m]); any = true;
                }}
              }}
              if (!any) put(out.indexeddb, base, v);
            }} else {{
              put(out.indexeddb, base, v);
            }}
          }}
        }}
      }} finally {{ db.close(); }}
    }}
  }};
  const cache = async () => {{
    if (!self.caches || !self.isSecureContext) return;
    for (const name of (await caches.keys()).slice(0, 20)) {{
      if (out.cache.length >= MAXI) return;
      const c = await caches.open(name);
      for (const req of (await c.keys()).slice(0, MAXI - out.cache.length)) {{
        let body = '';
        try {{
          const blob = await (await c.match(req)).blob();
          if (blob.size <= 4 * MAXV) body = await blob.text();
        }} catch (e) {{}}
        put(out.cache, name + ' ' + req.url, req.url + ' ' + body);
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

#: A frame's storage, all kinds, in one evaluation.
_FRAME_STATE_JS = (
    f"async (cap) => {{ const storage = ({_STORAGE_JS.strip()})(); "
    f"const deep = await ({_DEEP_STORAGE_JS.strip()})(cap); "
    "return Object.assign(storage, deep); }"
)

#: The main frame's storage and consent strings in one evaluation.
_PAGE_STATE_JS = (
    f"async (cap) => {{ const storage = ({_STORAGE_JS.strip()})(); "
    f"const [deep, consent] = await Promise.all([({_DEEP_STORAGE_JS.strip()})(cap), "
    f"({_CONSENT_JS.strip()})()]); "
    "return Object.assign(storage, deep, { consent }); }"
)
#: Kinds of storage read, as the observation names them.
STORAGE_KINDS = ("local", "session", "indexeddb", "cache")


class BrowserBroken(RuntimeError):
    """The browser stopped answering; the caller relaunches it."""


async def _no_headers() -> list[Any]:
    return []


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
                    length = response.headers.get("content-length", "")
                    if length.isdigit():
                        size = int(length)
                    else:
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
        API) and the consent strings of the
        page, read in one round trip per frame, and whether the main frame
        answered (a page whose main thread hangs after ``load`` does not)."""
        main = page.main_frame
        frames = [main, *(f for f in page.frames if f is not main)][:20]
        # The deep reads get half the read timeout: what they cannot finish
        # in it is left out, and web storage and the consent strings still come.
        cap = int(self.options.read_timeout * 500)
        reads = [
            _bounded(
                f.evaluate(_PAGE_STATE_JS if f is main else _FRAME_STATE_JS, cap),
                self.options.read_timeout,
            )
            for f in frames
        ]
        results = await asyncio.gather(*reads)
        consent = results[0].get("consent") if isinstance(results[0], dict) else None
        seen: set[str] = set()
        out: list[StorageRecord] = []
        for data in results:
            if not isinstance(data, dict):
                continue
            origin = clean_text(str(data.get("origin", "")))
            if origin in seen or origin in ("", "null"):
                continue
            seen.add(origin)
            for kind in STORAGE_KINDS:
                for item in data.get(kind) or []:
                    if isinstance(item, list) and len(item) == 2:
                        key, value = clean_text(str(item[0])), clean_text(str(item[1]))
                        out.append(StorageRecord(origin, kind, key, value))
        return tuple(out), consent, isinstance(results[0], dict)


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
