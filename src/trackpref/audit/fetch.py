"""Fetching well-known declarations, with the browser's host mapping.

The adapter half of :mod:`.declarations`. Every fetch is bounded: a size limit
(bodies are streamed and cut at the limit), a redirect limit (loops end as a
``redirect-loop`` failure), and a total deadline, because httpx's read timeout
is per chunk and a server that trickles a byte a second would never trip it.

``--host-rules`` is honoured by connecting to the mapped address while keeping
the original ``Host`` header and, for HTTPS, the original name for SNI and
certificate checks, so a mapped fetch sees exactly what the browser sees.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping

import httpx

from trackpref import __version__
from trackpref.signals.dnt_policy import DNT_POLICY_PATH, MAX_DNT_POLICY_BYTES
from trackpref.signals.gpc_support import GPC_JSON_PATH, MAX_GPC_JSON_BYTES
from trackpref.signals.tsr import MAX_TSR_BYTES, SITE_WIDE_TSR_PATH

from .declarations import (
    Fetched,
    Hop,
    OriginDeclarations,
    evaluate_dnt_policy,
    evaluate_gpc_json,
    evaluate_tsr,
)
from .failures import Failure, FailureKind
from .hostrules import HostNotFound, HostRules

__all__ = ["USER_AGENT", "DeclarationFetcher"]

USER_AGENT = f"trackpref-audit/{__version__}"
#: Request-specific TSRs fetched per origin, at most: each costs a request, and a
#: hostile site could name thousands of status-ids.
MAX_STATUS_IDS = 5


def _failure_from(exc: BaseException) -> Failure:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, HostNotFound):
        return Failure(FailureKind.UNREACHABLE, text)
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return Failure(FailureKind.TIMEOUT, f"timed out: {text}")
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE" in text.upper() or "SSL" in text:
        return Failure(FailureKind.TLS, text)
    if isinstance(exc, httpx.ConnectError):
        return Failure(FailureKind.UNREACHABLE, text)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return Failure(FailureKind.INVALID_URL, text)
    return Failure(FailureKind.OTHER, f"{type(exc).__name__}: {text}")


class DeclarationFetcher:
    """One HTTP client for a whole audit run; call :meth:`aclose` when done."""

    def __init__(
        self,
        *,
        host_rules: HostRules | None = None,
        timeout: float = 10.0,
        max_redirects: int = 5,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.host_rules = host_rules or HostRules()
        self.timeout = timeout
        self.max_redirects = max_redirects
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            verify=verify,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> DeclarationFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _route(self, url: httpx.URL) -> tuple[httpx.URL, dict[str, str], dict[str, object]]:
        """The URL to connect to, plus the headers and extensions that keep the
        original name on the wire."""
        default = 443 if url.scheme == "https" else 80
        port = url.port or default
        mapped = self.host_rules.resolve(url.host, port)
        if mapped is None:
            return url, {}, {}
        host, new_port = mapped
        host_header = url.host if port == default else f"{url.host}:{port}"
        target = url.copy_with(host=host.strip("[]"), port=new_port)
        extensions: dict[str, object] = {}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        return target, {"Host": host_header}, extensions

    @staticmethod
    def _failed(url: str, current: str, hops: list[Hop], exc: BaseException, limit: int) -> Fetched:
        return Fetched(url, current, redirects=tuple(hops), failure=_failure_from(exc), limit=limit)

    async def fetch(
        self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> Fetched:
        """GET ``url``, following redirects; never raises (failures are data)."""
        try:
            return await asyncio.wait_for(
                self._fetch(url, max_bytes=max_bytes, headers=headers or {}),
                timeout=self.timeout * 2,
            )
        except TimeoutError:
            return Fetched(
                url,
                url,
                failure=Failure(
                    FailureKind.TIMEOUT, f"no complete answer within {self.timeout * 2:.0f} s"
                ),
                limit=max_bytes,
            )

    async def _fetch(self, url: str, *, max_bytes: int, headers: Mapping[str, str]) -> Fetched:
        hops: list[Hop] = []
        current = url
        for _ in range(self.max_redirects + 1):
            try:
                parsed = httpx.URL(current)
                if parsed.scheme not in ("http", "https"):
                    raise httpx.UnsupportedProtocol(f"{current!r} is not an http(s) URL")
                target, extra_headers, extensions = self._route(parsed)
                request = self._client.build_request(
                    "GET", target, headers={**headers, **extra_headers}, extensions=extensions
                )
                response = await self._client.send(request, stream=True)
            except (
                httpx.HTTPError,
                httpx.InvalidURL,  # not an HTTPError: a URL httpx cannot even build
                ssl.SSLError,
                OSError,
                HostNotFound,
                ValueError,
            ) as exc:
                return self._failed(url, current, hops, exc, max_bytes)
            try:
                response_headers = tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                )
                location = response.headers.get("location")
                if response.status_code in (301, 302, 303, 307, 308) and location:
                    hops.append(Hop(current, response.status_code, response_headers))
                    current = str(parsed.join(location))
                    continue
                body = bytearray()
                too_large = False
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        too_large = True
                        del body[max_bytes:]
                        break
                return Fetched(
                    url=url,
                    final_url=current,
                    status=response.status_code,
                    headers=response_headers,
                    body=bytes(body),
                    redirects=tuple(hops),
                    too_large=too_large,
                    limit=max_bytes,
                )
            except (httpx.HTTPError, OSError) as exc:
                return self._failed(url, current, hops, exc, max_bytes)
            finally:
                await response.aclose()
        return Fetched(
            url,
            current,
            redirects=tuple(hops),
            failure=Failure(
                FailureKind.REDIRECT_LOOP, f"more than {self.max_redirects} redirects from {url}"
            ),
            limit=max_bytes,
        )

    async def origin_declarations(
        self,
        origin: str,
        *,
        status_ids: tuple[str, ...] = (),
        accepted_policy_hashes: Mapping[str, str] | None = None,
    ) -> OriginDeclarations:
        """Fetch and judge the three well-known resources of one origin, plus the
        request-specific TSRs that ``Tk`` headers named."""
        base = origin.rstrip("/")
        tsr_url = base + SITE_WIDE_TSR_PATH
        accept = {"Accept": "application/tracking-status+json, application/json;q=0.9"}
        tsr, tsr_dnt, gpc, policy = await asyncio.gather(
            self.fetch(tsr_url, max_bytes=MAX_TSR_BYTES, headers=accept),
            self.fetch(tsr_url, max_bytes=MAX_TSR_BYTES, headers={**accept, "DNT": "1"}),
            self.fetch(base + GPC_JSON_PATH, max_bytes=MAX_GPC_JSON_BYTES),
            self.fetch(base + DNT_POLICY_PATH, max_bytes=MAX_DNT_POLICY_BYTES),
        )
        specific = []
        for status_id in status_ids[:MAX_STATUS_IDS]:
            fetched = await self.fetch(tsr_url + status_id, max_bytes=MAX_TSR_BYTES, headers=accept)
            specific.append(evaluate_tsr(fetched, request_specific=True))
        return OriginDeclarations(
            origin=base,
            tsr=evaluate_tsr(tsr, with_dnt=tsr_dnt),
            gpc=evaluate_gpc_json(gpc),
            dnt_policy=evaluate_dnt_policy(policy, accepted=accepted_policy_hashes),
            request_specific=tuple(specific),
        )
