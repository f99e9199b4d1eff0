"""Django, through Django's own test client."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=["trackpref.integrations.django.PreferenceMiddleware"],
        TRACKPREF_POLICY=None,
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client
from django.urls import path


def home(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"state": request.preference.state.value})  # type: ignore[attr-defined]
    response["Vary"] = "Accept-Language"
    return response


def role(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"role": request.trackpref.role.value})  # type: ignore[attr-defined]


def set_ga(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("x")
    response.set_cookie("_ga", "GA1.2.3")
    return response


def delete_ga(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("x")
    response.delete_cookie("_ga")
    return response


def raw_ga(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("x")
    response.headers["Set-Cookie"] = "_ga=raw; Path=/"
    return response


urlpatterns = [
    path("", home),
    path("role", role),
    path("set", set_ga),
    path("delete", delete_ga),
    path("raw", raw_ga),
]


def test_django_takes_the_party_role_from_origin_and_referer_without_fetch_metadata() -> None:
    # An older browser or a script: no Sec-Fetch-Site, but the page it came from.
    client = Client()
    referred = client.get("/role", headers={"Referer": "https://news.other.example/story"})
    assert referred.json() == {"role": "third-party"}
    own = client.get("/role", headers={"Referer": "http://testserver/page"})
    assert own.json() == {"role": "first-party"}
    fetch = client.get(
        "/role",
        headers={"Referer": "https://news.other.example/", "Sec-Fetch-Site": "same-origin"},
    )
    assert fetch.json() == {"role": "first-party"}, "Fetch Metadata, when sent, decides"


def test_django_attaches_preference_and_sends_tk() -> None:
    client = Client()
    r = client.get("/", headers={"Sec-GPC": "1"})
    assert r.json() == {"state": "do-not-track"}
    assert r["Tk"] == "N;not-tracking"
    assert "Accept-Language" in r["Vary"]
    assert "DNT" in r["Vary"]
    assert r["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_django_serves_declarations_without_cookies() -> None:
    client = Client()
    r = client.get("/.well-known/dnt/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/tracking-status+json"
    assert not r.cookies
    assert client.get("/.well-known/gpc.json").json()["gpc"] is True


def test_django_exception_api_round_trip() -> None:
    client = Client()
    r = client.post(
        "/_trackpref/exceptions",
        data='{"op": "store", "data": {}}',
        content_type="application/json",
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 200, r.content
    assert client.get("/", headers={"DNT": "1"}).json() == {"state": "allow"}


def test_django_drops_tracking_cookies_but_lets_their_deletion_pass() -> None:
    from django.test import override_settings

    from trackpref.signals.site_policy import SitePolicy

    with override_settings(TRACKPREF_POLICY=SitePolicy(tracking_cookies=("_ga",))):
        client = Client()
        assert "_ga" in client.get("/set").cookies, "no signal: the site's choice"
        assert "_ga" not in client.get("/set", headers={"Sec-GPC": "1"}).cookies
        deleted = client.get("/delete", headers={"Sec-GPC": "1"}).cookies
        assert "_ga" in deleted, "the deletion do-not-track asks for passes"
        assert deleted["_ga"]["max-age"] == 0
        raw = client.get("/raw", headers={"DNT": "1"})
        assert "_ga" not in raw.headers.get("Set-Cookie", ""), "set as a header: dropped too"
        assert "_ga=raw" in client.get("/raw").headers.get("Set-Cookie", "")
