"""Admin sessions, CSRF tokens and grants: junk is refused, never a 500, and logout ends it."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import ADMIN, BEARER, service_of
from trackpref.service.auth import GENERATION_TTL, AdminAuth, Session

#: Cookie values a browser can carry (latin-1, as servers decode them) that
#: once reached int() or hmac.compare_digest on str.
JUNK = [
    "\xb2.a.b",  # '²'.isdigit() is True, int('²') raises
    "9999999999.abc.\xe9",  # non-ASCII signature
    "9" * 5000 + ".a.b",  # more digits than int() reads
    "..",
    "1.2",
    "",
]


def login(client: TestClient) -> str:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = client.post(
        "/admin/login", data={"token": ADMIN, "csrf": csrf.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303
    value = client.cookies.get("tp_admin")
    assert value
    return value


@pytest.mark.parametrize("junk", JUNK)
def test_junk_session_cookies_are_strangers(client: TestClient, junk: str) -> None:
    cookie = {"cookie": f"tp_admin={junk}".encode("latin-1")}  # raw bytes, as sent
    assert client.get("/api/stats", headers=cookie).status_code == 401
    assert client.get("/metrics", headers=cookie).status_code == 401
    r = client.get("/dashboard", headers=cookie, follow_redirects=False)
    assert r.status_code == 303


# The client is only the way to a configured AdminAuth; nothing in it changes.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80), st.text(max_size=40), st.text(max_size=40))
def test_no_text_is_a_session_csrf_or_grant_by_accident(
    client: TestClient, value: str, token: str, subject: str
) -> None:
    auth = service_of(client).auth
    assert auth.session(value) is None
    session = Session("nonce", 2_000_000_000)
    assert not auth.check_admin_csrf(session, token)
    assert not auth.check_grant("rights", subject, value)


@pytest.mark.parametrize("token", ["\xe9", "x" * 200, "\xb2"])
def test_a_junk_csrf_field_is_403_on_every_form(client: TestClient, token: str) -> None:
    client.get("/admin/login")  # the tp_csrf cookie
    r = client.post("/admin/login", data={"csrf": token, "token": ADMIN})
    assert r.status_code == 403
    r = client.post(
        "/rights/requests",
        data={"csrf": token, "site": "news.example", "kind": "access", "email": "a@b.example"},
    )
    assert r.status_code == 403
    login(client)
    assert client.post("/admin/logout", data={"csrf": token}).status_code == 403


def test_logging_out_ends_the_session_even_for_a_copied_cookie(client: TestClient) -> None:
    stolen = login(client)
    page = client.get("/dashboard")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = client.post("/admin/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    assert client.get("/api/stats", headers={"cookie": f"tp_admin={stolen}"}).status_code == 401
    again = login(client)  # a login right after the logout works
    assert client.get("/api/stats").status_code == 200
    assert again != stolen
    assert client.get("/api/stats", headers=BEARER).status_code == 200, "the token still works"


def two_instances(client: TestClient) -> tuple[AdminAuth, AdminAuth]:
    """The app's AdminAuth and a second one over the same database, as another process
    would have, both with a fresh copy of the generation."""
    service = service_of(client)
    here = service.auth
    there = AdminAuth(service.tables, hashlib.sha256(ADMIN.encode()).hexdigest())
    here.refresh(force=True)
    there.refresh(force=True)
    return here, there


def test_a_logout_on_one_instance_ends_the_session_on_the_others(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there = two_instances(client)
    value, _ = here.new_session()
    assert there.session(value) is not None, "any instance accepts it"
    here.end_sessions()
    assert here.session(value) is None, "at once where the logout happened"
    assert there.session(value) is not None, "the other's copy is still fresh (2 s at most)"
    clock = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: clock + GENERATION_TTL)
    assert there.generation_stale()
    there.refresh()
    assert there.session(value) is None, "once its copy is due, the other refuses it too"
    fresh, _ = here.new_session()
    assert there.session(fresh) is not None


def test_a_later_logout_elsewhere_never_revives_a_session(client: TestClient) -> None:
    """Generations only go up: a logout on an instance with an old copy still raises it."""
    here, there = two_instances(client)
    first, _ = here.new_session()
    here.end_sessions()
    second, _ = here.new_session()
    there.end_sessions()  # its copy was stale; the database's counter is what counts
    for auth in (here, there):
        auth.refresh(force=True)
        assert auth.session(first) is None
        assert auth.session(second) is None


def test_a_session_signed_in_a_newer_generation_teaches_a_stale_instance(
    client: TestClient,
) -> None:
    here, there = two_instances(client)
    old, _ = there.new_session()
    here.end_sessions()
    new, _ = here.new_session()
    assert there.session(new) is not None  # signed, so the newer generation is real
    assert there.session(old) is None, "and from then on the older sessions are refused"
