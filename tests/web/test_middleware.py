"""One behaviour spec, run against both adapters (ASGI and WSGI).

Both middlewares call the same core; this proves they also translate it the
same way, through real HTTP clients (Starlette's TestClient, httpx's WSGI
transport).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from trackpref import PreferenceMiddleware, WSGIPreferenceMiddleware
from trackpref.signals.parties import PartyMap, classify_request
from trackpref.signals.site_policy import SitePolicy
from trackpref.web.asgi import SCOPE_KEY
from trackpref.web.consent import CONSENT_COOKIE, MemoryConsentStore
from trackpref.web.honoring import Honoring
from trackpref.web.wsgi import ENVIRON_DECISION

POLICY = SitePolicy(
    policy="/privacy",
    config="/privacy#consent",
    tracking_cookies=("_track", "ad_*"),
)
ORIGIN = "http://testserver"


def _decision_json(decision: Any) -> dict[str, Any]:
    return {
        "preference": decision.preference.state.value,
        "exception": decision.preference.exception,
        "tracking_status": decision.tracking_status,
        "role": decision.role.value,
    }


def asgi_app(policy: SitePolicy, store: MemoryConsentStore, honoring: Honoring | None) -> Any:
    async def home(request: Request) -> Response:
        response = JSONResponse(_decision_json(request.scope[SCOPE_KEY]))
        response.set_cookie("_track", "abc123")
        response.set_cookie("ad_id", "xyz")
        response.set_cookie("session", "s1")
        return response

    async def own_policy(request: Request) -> Response:
        return Response("x", headers={"Referrer-Policy": "no-referrer"})

    async def beacon(request: Request) -> Response:
        # A tracking cookie as the response's one and only header.
        return Response(status_code=204, headers={"set-cookie": "_track=abc; Path=/"})

    app = Starlette(routes=[Route("/", home), Route("/own", own_policy), Route("/beacon", beacon)])
    return PreferenceMiddleware(app, policy, consent_store=store, honoring=honoring)


def wsgi_app(policy: SitePolicy, store: MemoryConsentStore, honoring: Honoring | None) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/beacon":
            start_response("204 No Content", [("Set-Cookie", "_track=abc; Path=/")])
            return []
        if environ["PATH_INFO"] == "/own":
            start_response(
                "200 OK", [("Content-Type", "text/plain"), ("Referrer-Policy", "no-referrer")]
            )
            return [b"x"]
        body = json.dumps(_decision_json(environ[ENVIRON_DECISION])).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Set-Cookie", "_track=abc123; Path=/"),
                ("Set-Cookie", "ad_id=xyz; Path=/"),
                ("Set-Cookie", "session=s1; Path=/"),
            ],
        )
        return [body]

    return WSGIPreferenceMiddleware(app, policy, consent_store=store, honoring=honoring)


@pytest.fixture(params=["asgi", "wsgi"])
def make_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def make(
        policy: SitePolicy = POLICY,
        store: MemoryConsentStore | None = None,
        *,
        honoring: Honoring | None = None,
        base_url: str = ORIGIN,
    ) -> httpx.Client:
        store = store or MemoryConsentStore()
        client: httpx.Client
        if request.param == "asgi":
            client = TestClient(asgi_app(policy, store, honoring), base_url=base_url)
        else:
            client = httpx.Client(
                transport=httpx.WSGITransport(app=wsgi_app(policy, store, honoring)),
                base_url=base_url,
            )
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def test_tk_vary_and_referrer_policy_on_every_response(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = client.get("/")
    assert r.headers["tk"] == "T;tracking"
    assert "DNT" in r.headers["vary"]
    assert "Sec-GPC" in r.headers["vary"]
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    r = client.get("/", headers={"DNT": "1"})
    assert r.headers["tk"] == "N;not-tracking"
    assert r.json()["preference"] == "do-not-track"
    r = client.get("/", headers={"Sec-GPC": "1"})
    assert r.headers["tk"] == "N;not-tracking"
    r = client.get("/", headers={"DNT": "0"})
    assert r.headers["tk"] == "T;tracking"
    assert r.json()["preference"] == "allow"


def test_app_referrer_policy_is_kept(make_client: Callable[..., httpx.Client]) -> None:
    r = make_client().get("/own")
    assert r.headers.get_list("referrer-policy") == ["no-referrer"]


def test_tracking_cookies_dropped_only_when_refused(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = client.get("/", headers={"DNT": "1"})
    names = sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie"))
    assert names == ["session"]
    r = client.get("/")
    names = sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie"))
    assert names == ["_track", "ad_id", "session"]


def test_a_tracking_cookie_that_is_the_only_header_is_dropped_too(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = client.get("/beacon", headers={"DNT": "1"})
    assert r.status_code == 204
    assert r.headers.get_list("set-cookie") == []
    assert r.headers["tk"] == "N;not-tracking"
    assert client.get("/beacon").headers.get_list("set-cookie") == ["_track=abc; Path=/"]


def test_checklist_25_26_34_site_wide_tsr(make_client: Callable[..., httpx.Client]) -> None:
    r = make_client().get("/.well-known/dnt/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/tracking-status+json"
    assert "set-cookie" not in r.headers
    body = r.json()
    assert body["tracking"] == "?"
    assert body["policy"] == "/privacy"


def test_checklist_23_28_request_specific_tsr(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    tk = client.get("/", headers={"DNT": "1"}).headers["tk"]
    status, status_id = tk.split(";")
    r = client.get(f"/.well-known/dnt/{status_id}")
    assert r.status_code == 200
    assert r.json()["tracking"] == status
    assert r.headers["content-type"] == "application/tracking-status+json"
    assert "set-cookie" not in r.headers
    assert client.get("/.well-known/dnt/no-such-id").status_code == 404


def test_gpc_json(make_client: Callable[..., httpx.Client]) -> None:
    r = make_client().get("/.well-known/gpc.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json()["gpc"] is True


def test_wellknown_refuses_other_methods(make_client: Callable[..., httpx.Client]) -> None:
    assert make_client().post("/.well-known/dnt/").status_code == 405


def test_checklist_37_refuse_without_consent_answers_409(
    make_client: Callable[..., httpx.Client],
) -> None:
    policy = SitePolicy(policy="/privacy", config="/privacy#consent", refuse_without_consent=True)
    client = make_client(policy)
    r = client.get("/", headers={"DNT": "1"})
    assert r.status_code == 409
    assert "consent" in r.text.lower()
    assert client.get("/").status_code == 200
    # The declarations stay reachable for the refused visitor.
    assert client.get("/.well-known/dnt/", headers={"DNT": "1"}).status_code == 200


def _api(client: httpx.Client, op: str, data: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(
        "/_trackpref/exceptions",
        content=json.dumps({"op": op, "data": data}),
        headers={"Content-Type": "application/json", "Origin": ORIGIN, **headers},
    )


def test_exception_store_then_next_request_is_dnt0_then_revoke(
    make_client: Callable[..., httpx.Client],
) -> None:
    store = MemoryConsentStore()
    client = make_client(store=store)
    r = _api(client, "store", {})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"isSiteWide": False} or "isSiteWide" in r.json()["result"]
    assert r.headers["tk"] == "U"
    assert CONSENT_COOKIE in client.cookies
    assert _api(client, "exists", {}).json()["result"] is True
    r = client.get("/", headers={"DNT": "1", "Sec-GPC": "1"})
    assert r.json() == {
        "preference": "allow",
        "exception": True,
        "tracking_status": "C",
        "role": "first-party",
    }
    assert r.headers["tk"] == "C;consent"
    names = sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie"))
    assert "_track" in names
    assert _api(client, "remove", {}).status_code == 200
    assert _api(client, "exists", {}).json()["result"] is False
    r = client.get("/", headers={"DNT": "1"})
    assert r.json()["preference"] == "do-not-track"
    assert r.headers["tk"] == "N;not-tracking"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"site": "*", "targets": ["*"]}, "SecurityError"),
        ({"site": "com"}, "SecurityError"),
        ({"site": 5}, "SyntaxError"),
        ({"targets": "not-a-list"}, "SyntaxError"),
        ({"maxAge": -1}, "SyntaxError"),
    ],
)
def test_hostile_exception_arguments_store_nothing(
    make_client: Callable[..., httpx.Client], data: dict[str, Any], name: str
) -> None:
    store = MemoryConsentStore()
    client = make_client(store=store)
    r = _api(client, "store", data)
    assert r.status_code in (400, 403)
    assert r.json()["error"]["name"] == name
    assert CONSENT_COOKIE not in client.cookies
    assert client.get("/", headers={"DNT": "1"}).json()["preference"] == "do-not-track"


def test_exception_api_refuses_nesting_deeper_than_json_loads_recurses(
    make_client: Callable[..., httpx.Client],
) -> None:
    store = MemoryConsentStore()
    client = make_client(store=store)
    r = client.post(
        "/_trackpref/exceptions",
        content='{"op": "store", "data": ' + "[" * 10_000,  # under the 16 KB limit
        headers={"Content-Type": "application/json", "Origin": "http://testserver"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["name"] == "SyntaxError"
    assert "nested too deeply" in r.json()["error"]["message"]
    assert CONSENT_COOKIE not in client.cookies


def test_exception_api_refuses_a_number_python_will_not_read(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = client.post(
        "/_trackpref/exceptions",
        content='{"op": "exists", "x": 1' + "0" * 5000 + "}",  # over 4,300 digits
        headers={"Content-Type": "application/json", "Origin": "http://testserver"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["name"] == "SyntaxError"


def test_exception_api_refuses_cross_origin_and_non_json(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = client.post(
        "/_trackpref/exceptions",
        content=json.dumps({"op": "store", "data": {}}),
        headers={"Content-Type": "application/json", "Origin": "http://evil.test"},
    )
    assert r.status_code == 403
    r = client.post(
        "/_trackpref/exceptions",
        content="op=store",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN},
    )
    assert r.status_code == 415
    r = client.post(
        "/_trackpref/exceptions",
        content=b"{" + b" " * 20000 + b"}",
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
    )
    assert r.status_code == 413
    r = client.post(
        "/_trackpref/exceptions",
        content=b"\xff\xfe not json",
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
    )
    assert r.status_code == 400
    assert client.get("/_trackpref/exceptions").status_code == 405


def test_shim_script_served_with_current_dnt(make_client: Callable[..., httpx.Client]) -> None:
    r = make_client().get("/_trackpref/exceptions.js", headers={"DNT": "1"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "storeTrackingException" in r.text
    assert 'var dnt = "1";' in r.text
    assert r.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize(
    "headers",
    [
        [("DNT", "1"), ("DNT", "1")],
        [("DNT", "1" + "x" * 10_000)],
        [("DNT", "yes")],
        [("Sec-GPC", "true"), ("Sec-GPC", "1")],
        [("Cookie", f"{CONSENT_COOKIE}=../../etc/passwd")],
        [("Cookie", f"{CONSENT_COOKIE}={'a' * 40}")],
        [("Cookie", f"{CONSENT_COOKIE}=")],
    ],
)
def test_malformed_headers_never_500(
    make_client: Callable[..., httpx.Client], headers: list[tuple[str, str]]
) -> None:
    r = make_client().get("/", headers=headers)
    assert r.status_code == 200
    assert "tk" in r.headers


def test_checklist_22_24_tk_on_the_middlewares_own_responses(
    make_client: Callable[..., httpx.Client],
) -> None:
    """A dynamic site sends Tk on every response, its declarations included, once."""
    client = make_client()
    for path in ("/.well-known/dnt/", "/.well-known/gpc.json", "/_trackpref/exceptions.js"):
        r = client.get(path, headers={"DNT": "1"})
        assert r.headers.get_list("tk") == ["N;not-tracking"], path
    assert client.get("/.well-known/dnt/nope").headers.get_list("tk") == ["T;tracking"]
    r = _api(client, "store", {})
    assert r.headers.get_list("tk") == ["U"]
    # Asking changes nothing: the request's own status, never U (TPE §6.3.3).
    r = _api(client, "exists", {})
    assert r.headers.get_list("tk") == ["T;tracking"]
    r = _api(client, "remove", {})
    assert r.headers.get_list("tk") == ["U"]
    r = _api(client, "exists", {})
    assert r.headers.get_list("tk") == ["T;tracking"]


# -- regressions found in review ------------------------------------------------


def test_deleting_a_tracking_cookie_passes_under_dnt() -> None:
    """Do-not-track asks for tracking cookies to go: their deletion is never stripped."""
    from trackpref.web.honoring import Honoring

    honoring = Honoring(SitePolicy(tracking_cookies=("_ga",)))
    outcome = honoring.cached_outcome(b"1", None)
    kept = honoring.response_headers(
        outcome,
        [
            (b"set-cookie", b"_ga=; Max-Age=0; Path=/"),
            (b"set-cookie", b"_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            (b"set-cookie", b"_ga=GA1.2.3"),
        ],
    )
    assert kept == [
        (b"set-cookie", b"_ga=; Max-Age=0; Path=/"),
        (b"set-cookie", b"_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
    ]


def test_planted_consent_cookie_is_not_adopted(make_client: Callable[..., httpx.Client]) -> None:
    planted = "p" * 24
    client = make_client()
    client.cookies.set(CONSENT_COOKIE, planted)
    r = _api(client, "store", {})
    assert r.status_code == 200
    issued = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert issued != planted


def test_exception_holds_on_arrival_from_another_site(
    make_client: Callable[..., httpx.Client],
) -> None:
    """A click on a search result carries the search engine's Referer; the site is still ours."""
    client = make_client()
    assert _api(client, "store", {}).status_code == 200
    r = client.get(
        "/",
        headers={
            "DNT": "1",
            "Referer": "https://search.example/?q=shoes",
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Dest": "document",
        },
    )
    assert r.json()["preference"] == "allow"


def test_role_does_not_depend_on_the_consent_cookie(
    make_client: Callable[..., httpx.Client],
) -> None:
    headers = {"DNT": "1", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"}
    client = make_client()
    before = client.get("/", headers=headers).json()
    client.cookies.set(CONSENT_COOKIE, "u" * 24)
    after = client.get("/", headers=headers).json()
    assert before == after


def test_origin_with_another_port_is_another_origin(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    r = _api(client, "store", {}, Origin="http://testserver:8081")
    assert r.status_code == 403
    assert CONSENT_COOKIE not in client.cookies


def test_405_says_what_is_allowed(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    assert client.post("/.well-known/gpc.json").headers["allow"] == "GET, HEAD"
    assert client.get("/_trackpref/exceptions").headers["allow"] == "POST"


def test_gpc_alone_is_never_refused_and_policy_page_stays_readable(
    make_client: Callable[..., httpx.Client],
) -> None:
    policy = SitePolicy(policy="/privacy", config="/privacy#consent", refuse_without_consent=True)
    client = make_client(policy)
    assert client.get("/", headers={"Sec-GPC": "1"}).status_code == 200
    assert client.get("/privacy", headers={"DNT": "1"}).status_code != 409
    r = client.get("/", headers={"DNT": "1"})
    assert r.status_code == 409
    assert r.headers.get_list("tk") == ["N;not-tracking"]


def test_non_ascii_consent_cookie_is_ignored() -> None:
    """Django decodes cookies as UTF-8: a non-ASCII id must never reach the store."""
    from trackpref.web.consent import valid_consent_id
    from trackpref.web.honoring import Honoring

    assert not valid_consent_id("é" * 20)
    assert valid_consent_id("a" * 20)
    outcome = Honoring().outcome(["1"], None, consent_id="é" * 20, host="testserver")
    assert outcome.preference.do_not_track


# -- the party role: Origin, Referer and the party map (Defect A) ---------------

PARTIES = PartyMap(
    first_party=("example.com",),
    same_party=("example-cdn.net",),
    service_providers=("metrics.provider.example",),
)


def _role_of(client: httpx.Client, url: str, **headers: str) -> str:
    body = client.get(url, headers={"DNT": "1", **headers}).json()
    assert body["preference"] == "do-not-track"
    return str(body["role"])


def test_same_party_cdn_embedded_by_its_party_is_first_party(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(honoring=Honoring(POLICY, parties=PARTIES))
    embedded = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"}
    url = "http://static.example-cdn.net/"
    assert _role_of(client, url, **embedded, Referer="https://www.example.com/page") == (
        "first-party"
    )
    assert _role_of(client, url, **embedded, Origin="https://www.example.com") == "first-party"
    # Embedded by anyone else, the same CDN is a third party.
    assert _role_of(client, url, **embedded, Referer="https://news.example.org/") == "third-party"
    assert _role_of(client, url, **embedded) == "third-party"


def test_service_provider_acting_for_its_party(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(honoring=Honoring(POLICY, parties=PARTIES))
    url = "http://metrics.provider.example/"
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "script"}
    body = client.get(
        url, headers={"DNT": "1", **headers, "Referer": "https://www.example.com/page"}
    ).json()
    assert body["role"] == "service-provider"
    assert body["tracking_status"] == "N"
    # Its own pages: still the service provider, whatever Fetch Metadata says.
    assert _role_of(client, url, **{"Sec-Fetch-Site": "same-origin"}) == "service-provider"
    assert _role_of(client, url) == "service-provider"
    # For another site it is a third party.
    assert _role_of(client, url, **headers, Referer="https://news.example.org/") == "third-party"


def test_referer_only_cross_site_request_is_third_party(
    make_client: Callable[..., httpx.Client],
) -> None:
    """No Fetch Metadata (plain HTTP, older agents): the Referer's site decides."""
    client = make_client()
    url = "http://tracker.example.net/"
    assert _role_of(client, url, Referer="https://news.example.com/story") == "third-party"
    assert _role_of(client, url, Referer="https://www.example.net/") == "first-party"
    assert _role_of(client, url, Referer="not a url") == "first-party"


def test_origin_only_cross_site_request_is_third_party(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client()
    url = "http://tracker.example.net/"
    assert _role_of(client, url, Origin="https://news.example.com") == "third-party"
    assert _role_of(client, url, Origin="https://cdn.example.net") == "first-party"
    assert _role_of(client, url, Origin="null") == "first-party"


FETCH_METADATA = [
    {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": "script"},
    {"Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "document"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"},
]


def test_fetch_metadata_still_decides_on_the_fast_path(
    make_client: Callable[..., httpx.Client],
) -> None:
    """Fetch Metadata answers from the fast key, whatever Origin and Referer say,
    and what Origin or Referer decided never lands under that key."""
    honoring = Honoring(POLICY)
    client = make_client(honoring=honoring)
    url = "http://tracker.example.net/"
    # A Referer-only request first: its third-party outcome must not be reused
    # for the same signals without Referer.
    assert _role_of(client, url, Referer="https://news.example.com/") == "third-party"
    assert _role_of(client, url) == "first-party"
    for metadata in FETCH_METADATA:
        expected = classify_request(
            host="tracker.example.net",
            sec_fetch_site=metadata["Sec-Fetch-Site"],
            sec_fetch_mode="navigate" if metadata["Sec-Fetch-Dest"] == "document" else None,
            sec_fetch_dest=metadata["Sec-Fetch-Dest"],
        ).role.value
        assert _role_of(client, url, **metadata) == expected, metadata
        for initiator in (
            {"Referer": "https://news.example.com/"},
            {"Origin": "https://news.example.com"},
            {"Referer": "https://www.example.net/", "Origin": "https://www.example.net"},
        ):
            assert _role_of(client, url, **metadata, **initiator) == expected, (
                metadata,
                initiator,
            )
    # Every Fetch Metadata request was answered from the fast key; only the
    # Referer-only one was classified, and apart from it.
    assert len(honoring.outcomes) == 1 + len(FETCH_METADATA)
    assert all(len(key) == 4 for key in honoring.outcomes)
    assert all(
        o.decision.role.value == "first-party" for k, o in honoring.outcomes.items() if k[2] is None
    )
    assert [o.decision.role.value for o in honoring.classified.values()] == ["third-party"]


def test_consent_cookie_does_not_change_a_classified_role(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(honoring=Honoring(POLICY, parties=PARTIES))
    url = "http://static.example-cdn.net/"
    headers = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Dest": "image",
        "Referer": "https://www.example.com/",
    }
    before = _role_of(client, url, **headers)
    client.cookies.set(CONSENT_COOKIE, "u" * 24)
    after = _role_of(client, url, **headers)
    assert before == after == "first-party"


# -- the consent cookie across sites (Defect B) ---------------------------------


def _cookie_attributes(set_cookie: str) -> list[str]:
    return [a.strip().lower() for a in set_cookie.split(";")[1:]]


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_consent_cookie_reaches_third_party_requests_over_https(
    make_client: Callable[..., httpx.Client], scheme: str
) -> None:
    """Third-party and web-wide exceptions need the cookie on cross-site
    requests: SameSite=None, which browsers only accept with Secure, so over
    plain HTTP it stays Lax (docs/exceptions.md)."""
    origin = f"{scheme}://testserver"
    client = make_client(base_url=origin)
    stored = _api(client, "store", {"site": "*", "targets": []}, Origin=origin)
    assert stored.status_code == 200, stored.text
    removed_first = _api(client, "remove", {"site": "*", "targets": []}, Origin=origin)
    assert removed_first.status_code == 200, removed_first.text
    for response in (stored, removed_first):
        attributes = _cookie_attributes(response.headers["set-cookie"])
        if scheme == "https":
            assert "samesite=none" in attributes
            assert "secure" in attributes
            assert "partitioned" not in attributes
        else:
            assert "samesite=lax" in attributes
            assert "secure" not in attributes
        assert "httponly" in attributes


class _BrokenStore(MemoryConsentStore):
    """A consent store whose database went away after the consent was stored."""

    broken = False

    def load(self, consent_id: str) -> Any:
        if self.broken:
            raise OSError("database is locked")
        return super().load(consent_id)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.broken:
            raise OSError("database is locked")
        super().save(*args, **kwargs)


def test_a_failing_consent_store_grants_nothing_and_keeps_tk(
    make_client: Callable[..., httpx.Client],
) -> None:
    store = _BrokenStore()
    client = make_client(store=store)
    assert _api(client, "store", {}).status_code == 200
    assert client.get("/", headers={"DNT": "1"}).json()["exception"] is True
    store.broken = True
    r = client.get("/", headers={"DNT": "1"})
    assert r.status_code == 200
    assert r.headers["tk"] == "N;not-tracking", "the stricter reading, not a 500"
    assert r.json()["exception"] is False
    r = _api(client, "store", {})
    assert r.status_code == 503
    assert "retry-after" in r.headers
    assert "tk" in r.headers
    assert "consent store is unavailable" in r.json()["error"]


@pytest.mark.parametrize(
    "cookie",
    [
        b"_ga=GA1.2.1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=63072000",
        b"_ga=GA1.2.2; Max-Age=0; Max-Age=63072000",
        b"_ga=GA1.2.3; Max-Age=zero",
        b"_ga=GA1.2.4; Max-Age=-x; Expires=garbage",
    ],
)
def test_a_cookie_that_lives_on_in_the_browser_is_not_taken_for_a_deletion(
    cookie: bytes,
) -> None:
    """RFC 6265: Max-Age wins over Expires, the last attribute counts, junk is ignored."""
    honoring = Honoring(SitePolicy(tracking_cookies=("_ga",)))
    outcome = honoring.cached_outcome(b"1", None)
    assert honoring.response_headers(outcome, [(b"set-cookie", cookie)]) == []


@pytest.mark.parametrize(
    "cookie",
    [
        b"_ga=; Max-Age=63072000; Max-Age=0",
        b"_ga=; Max-Age=-1",
        b"_ga=; Max-Age=" + b"0" * 5000,
        b"_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=junk",
    ],
)
def test_real_deletions_still_pass(cookie: bytes) -> None:
    honoring = Honoring(SitePolicy(tracking_cookies=("_ga",)))
    outcome = honoring.cached_outcome(b"1", None)
    assert honoring.response_headers(outcome, [(b"set-cookie", cookie)]) == [
        (b"set-cookie", cookie)
    ]


def test_the_shim_substitutes_in_one_pass() -> None:
    honoring = Honoring(SitePolicy())
    outcome = honoring.outcome(["1x__TRACKPREF_DNT__y"], None)
    body = honoring.shim_response(outcome).body.decode()
    assert "__TRACKPREF_DNT__y" in body, "the header's text stays text"
    assert '"1x"' not in body


@pytest.mark.parametrize("host", ["example.com:8_0", "example.com:+80", "example.com:" + "9" * 50])
def test_the_exception_api_reads_ports_strictly(host: str) -> None:
    honoring = Honoring(SitePolicy())
    r = honoring.exception_call(
        "POST",
        b'{"op": "store", "data": {}}',
        content_type="application/json",
        host=host,
        origin="http://example.com",
        consent_id=None,
        scheme="http",
    )
    assert r.status == 403


def test_a_wsgi_status_line_names_every_status() -> None:
    from trackpref.web.honoring import PlainResponse

    assert PlainResponse(301, (), b"").reason == "Moved Permanently"
    assert PlainResponse(500, (), b"").reason == "Internal Server Error"
    assert PlainResponse(599, (), b"").reason == "Unknown"


def test_the_memory_store_keeps_a_bounded_history_per_id() -> None:
    from trackpref.signals.tracking_exceptions import ExceptionSet
    from trackpref.web.consent import MEMORY_HISTORY

    store = MemoryConsentStore()
    for i in range(MEMORY_HISTORY + 50):
        store.save("cid", ExceptionSet(), event="remove", now=float(i))
    history = store.history("cid")
    assert len(history) == MEMORY_HISTORY
    assert history[-1].at == float(MEMORY_HISTORY + 49), "the newest are kept"
