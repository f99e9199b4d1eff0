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


urlpatterns = [path("", home)]


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
