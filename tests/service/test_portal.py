"""The public rights portal: requests verified by e-mail, no one reads another's data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import service_of
from trackpref.ledger.mailer import FileOutbox
from trackpref.ledger.storage import Verification

SITE = "news.example"
VICTIM_ID = "victim-browser-id-0001"
PAGE = {"site": SITE, "type": "pageview", "url": "/secret-interest"}


def csrf(client: TestClient, path: str = "/rights") -> str:
    html = client.get(path).text
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def last_code(outbox: Path, to: str) -> str:
    messages = [m for m in FileOutbox(outbox).messages() if str(m["To"]) == to]
    assert messages, f"no code sent to {to}"
    body = messages[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body.get_content())
    assert found
    return found.group(1)


def seed(client: TestClient, vid: str = VICTIM_ID) -> None:
    r = client.post("/api/collect", json={**PAGE, "id": vid}, headers={"DNT": "0"})
    assert r.status_code == 202


def open_request(client: TestClient, kind: str, email: str, vid: str = "", site: str = SITE) -> str:
    r = client.post(
        "/rights/requests",
        data={
            "csrf": csrf(client),
            "site": site,
            "kind": kind,
            "email": email,
            "vid": vid,
            "regime": "gdpr",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    location = str(r.headers["location"])
    assert location.startswith(f"/rights/{site}/requests/")
    return location.rsplit("/", 1)[1]


def verify(client: TestClient, rid: str, code: str) -> httpx.Response:
    page = f"/rights/{SITE}/requests/{rid}"
    response: httpx.Response = client.post(
        f"{page}/verify", data={"csrf": csrf(client), "code": code}, follow_redirects=False
    )
    return response


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def test_access_end_to_end_and_the_export_is_given_once(client: TestClient, outbox: Path) -> None:
    seed(client)
    rid = open_request(client, "access", "me@example.org", VICTIM_ID)
    r = verify(client, rid, last_code(outbox, "me@example.org"))
    assert r.status_code == 303
    page = client.get(f"/rights/{SITE}/requests/{rid}")
    assert 'id="download"' in page.text
    export = client.get(f"/rights/{SITE}/requests/{rid}/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    data = export.json()
    [subject] = data["subjects"]
    records = subject["datasets"]["pageviews"]["records"]
    assert [r["fields"]["path"] for r in records] == ["/secret-interest"]
    assert records[0]["fields"]["visitor_id"] == VICTIM_ID
    again = client.get(f"/rights/{SITE}/requests/{rid}/export")
    assert again.status_code == 410
    # The e-mail link made to answer the request is gone again.
    assert service_of(client).collector.store_for(SITE).get_subject(VICTIM_ID) is None


def test_someone_without_an_id_is_told_nothing_is_linked(client: TestClient, outbox: Path) -> None:
    client.post("/api/collect", json=PAGE)
    rid = open_request(client, "access", "nobody@example.org")
    verify(client, rid, last_code(outbox, "nobody@example.org"))
    data = client.get(f"/rights/{SITE}/requests/{rid}/export").json()
    assert data["subjects"] == []
    assert "Nothing held" in data["note"]


def test_no_request_reads_another_subjects_data(
    client: TestClient, outbox: Path, tmp_path: Path
) -> None:
    seed(client)
    # The victim opts out: their id stays registered to their address.
    rid = open_request(client, "opt-out", "victim@example.org", VICTIM_ID)
    r = verify(client, rid, last_code(outbox, "victim@example.org"))
    assert r.status_code == 200
    # An attacker who learned the id asks for access with their own address.
    attacker = TestClient(client.app)
    rid_a = open_request(attacker, "access", "attacker@example.org", VICTIM_ID)
    verify(attacker, rid_a, last_code(outbox, "attacker@example.org"))
    data = attacker.get(f"/rights/{SITE}/requests/{rid_a}/export").json()
    assert data["subjects"] == [], "an id claimed by another address is never linked"
    assert "secret-interest" not in json.dumps(data)
    # The victim's own access request: the attacker can neither verify nor download it.
    rid_v = open_request(client, "access", "victim@example.org")
    assert verify(attacker, rid_v, "000000").status_code == 400
    assert attacker.get(f"/rights/{SITE}/requests/{rid_v}/export").status_code == 403
    # Even with the victim's code, a grant for one request does not open another.
    verify(client, rid_v, last_code(outbox, "victim@example.org"))
    grant = client.cookies.get("tp_rights")
    assert grant
    forged = {"cookie": f"tp_rights={grant}"}
    assert attacker.get(f"/rights/{SITE}/requests/{rid_a}/export", headers=forged).status_code in (
        403,
        410,
    )
    assert attacker.get(f"/rights/{SITE}/requests/{rid_v}/export").status_code == 403
    mine = client.get(f"/rights/{SITE}/requests/{rid_v}/export").json()
    assert "secret-interest" in json.dumps(mine)


def test_codes_are_single_use_attempt_limited_and_expiring(
    client: TestClient, outbox: Path
) -> None:
    seed(client)
    rid = open_request(client, "access", "me@example.org", VICTIM_ID)
    code = last_code(outbox, "me@example.org")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = verify(client, rid, wrong)
    assert r.status_code == 400
    assert "attempts left" in r.text
    for _ in range(4):
        verify(client, rid, wrong)
    r = verify(client, rid, code)
    assert r.status_code == 400
    assert "too many" in r.text
    # A new code (resends are limited too) works once.
    page = f"/rights/{SITE}/requests/{rid}"
    assert client.post(f"{page}/resend", data={"csrf": csrf(client, page)}).status_code == 200
    code = last_code(outbox, "me@example.org")
    assert verify(client, rid, code).status_code == 303
    r = verify(client, rid, code)
    assert r.status_code == 400
    assert "verified" in r.text
    # Expiry: a code past its time is refused even when right.
    rid2 = open_request(client, "access", "me@example.org")
    code2 = last_code(outbox, "me@example.org")
    store = service_of(client).rights(SITE).store
    v = store.get_verification(rid2)
    assert v is not None
    store.put_verification(Verification(v.request_id, v.code_hash, 1.0, v.attempts, None))
    r = verify(client, rid2, code2)
    assert r.status_code == 400
    assert "expired" in r.text


def test_resends_are_limited(client: TestClient) -> None:
    seed(client)
    rid = open_request(client, "access", "me@example.org")
    page = f"/rights/{SITE}/requests/{rid}"
    statuses = [
        client.post(f"{page}/resend", data={"csrf": csrf(client, page)}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_deletion_removes_the_subjects_events(client: TestClient, outbox: Path) -> None:
    seed(client)
    client.post("/api/collect", json={**PAGE, "url": "/other"})  # not linked to anyone
    rid = open_request(client, "deletion", "me@example.org", VICTIM_ID)
    r = verify(client, rid, last_code(outbox, "me@example.org"))
    assert r.status_code == 200
    assert 'id="done"' in r.text
    store = service_of(client).collector.store_for(SITE)
    assert store.events_for_subject(VICTIM_ID) == []
    assert [e.fields["path"] for e in store.iter_events("pageviews")] == ["/other"]
    dump = repr([store.rows(t) for t in ("events", "subjects", "rights_requests", "consents")])
    assert VICTIM_ID not in dump
    assert "me@example.org" not in dump


def test_every_form_needs_its_csrf_token(client: TestClient) -> None:
    seed(client)
    r = client.post(
        "/rights/requests",
        data={"site": SITE, "kind": "deletion", "email": "me@example.org"},
    )
    assert r.status_code == 403
    other = TestClient(client.app)
    token = csrf(other)  # a token for another browser's cookie
    r = client.post(
        "/rights/requests",
        data={"csrf": token, "site": SITE, "kind": "deletion", "email": "me@example.org"},
    )
    assert r.status_code == 403
    assert client.post("/rights/exceptions/revoke", data={"index": "all"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("&".join(f"f{i}=1" for i in range(40)), "Max number of fields exceeded"),
        (b"site=\xff\xfe", "not a form"),
    ],
)
def test_an_unreadable_form_is_named_not_called_expired(
    client: TestClient, body: str | bytes, needle: str
) -> None:
    r = client.post(
        "/rights/requests",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert needle in r.text
    assert "expired" not in r.text


def test_bad_requests_name_the_field(client: TestClient) -> None:
    seed(client)
    r = client.post(
        "/rights/requests",
        data={"csrf": csrf(client), "site": SITE, "kind": "access", "email": "not-an-address"},
    )
    assert r.status_code == 400
    assert "email" in r.text
    r = client.post(
        "/rights/requests",
        data={"csrf": csrf(client), "site": "unknown.example", "kind": "access", "email": "a@b.cd"},
    )
    assert r.status_code == 400
    assert "unknown.example" in r.text
    assert client.get(f"/rights/{SITE}/requests/not-a-request-id-at-all").status_code == 404


def test_exceptions_can_be_seen_and_revoked(client: TestClient) -> None:
    r = client.post(
        "/_trackpref/exceptions",
        json={"op": "store", "data": {"name": "Example <b>News</b>"}},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/preference", headers={"DNT": "1"}).json()["preference"] == "allow"
    page = client.get("/rights/exceptions")
    assert 'id="exceptions"' in page.text
    assert "Example &lt;b&gt;News&lt;/b&gt;" in page.text
    r = client.post(
        "/rights/exceptions/revoke",
        data={"csrf": csrf(client, "/rights/exceptions"), "index": "all"},
    )
    assert r.status_code == 200
    assert 'id="revoked"' in r.text
    assert (
        client.get("/api/preference", headers={"DNT": "1"}).json()["preference"] == "do-not-track"
    )
    assert 'id="no-exceptions"' in client.get("/rights/exceptions").text


def test_the_inventory_page(client: TestClient) -> None:
    html = client.get("/rights/inventory")
    assert html.status_code == 200
    assert "pageviews" in html.text
    assert "email_opens" in html.text
    data = client.get("/rights/inventory.json").json()
    assert {d["name"] for d in data["datasets"]} >= {"pageviews", "email_opens", "daily_rollups"}


def test_a_correction_is_held_to_collects_rules(client: TestClient, outbox: Path) -> None:
    seed(client)
    rid = open_request(client, "correction", "me@example.org", VICTIM_ID)
    assert verify(client, rid, last_code(outbox, "me@example.org")).status_code == 303
    page = f"/rights/{SITE}/requests/{rid}"
    form = client.get(page).text
    assert '<select name="field"' in form
    assert "pageviews.visitor_id" not in form

    def correct(field: str, value: str) -> httpx.Response:
        data = {"csrf": csrf(client, page), "field": field, "value": value}
        response: httpx.Response = client.post(f"{page}/correct", data=data)
        return response

    for field, value, named in [
        ("pageviews.path", "no-slash javascript:alert(1)", "value: a path"),
        ("pageviews.device", "<script>", "value: one of desktop"),
        ("pageviews.type", "BAD TYPE", "value: required"),
        ("pageviews.visitor_id", "someone_elses_id_123", "cannot be corrected"),
    ]:
        r = correct(field, value)
        assert r.status_code == 400, (field, value)
        assert named in r.text
        assert "<script>" not in r.text
    store = service_of(client).collector.ledger(SITE).store

    def held() -> list[tuple[object, object]]:
        return [(e.fields["path"], e.fields["device"]) for e in store.iter_events("pageviews")]

    assert held() == [("/secret-interest", "other")], "a refused correction changed nothing"
    r = correct("pageviews.path", "/another-page")
    assert r.status_code == 200, r.text
    assert held() == [("/another-page", "other")]


def test_a_bad_law_is_named_as_such(client: TestClient) -> None:
    seed(client)
    data = {"csrf": csrf(client), "site": SITE, "kind": "access", "email": "a@b.example"}
    r = client.post("/rights/requests", data={**data, "regime": "xx"})
    assert r.status_code == 400
    assert "regime: choose one of gdpr, ccpa" in r.text
    r = client.post("/rights/requests", data={**data, "kind": "nope"})
    assert r.status_code == 400
    assert "kind: choose one of access" in r.text


@pytest.mark.parametrize("index", ["\u00b2", "9" * 5000, "-1", "abc", "5"])
def test_revoking_a_junk_index_is_400(client: TestClient, index: str) -> None:
    r = client.post(
        "/_trackpref/exceptions",
        json={"op": "store", "data": {"name": "Example News"}},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 200
    r = client.post(
        "/rights/exceptions/revoke",
        data={"csrf": csrf(client, "/rights/exceptions"), "index": index},
    )
    assert r.status_code == 400
    assert "index: no such exception" in r.text
    assert client.get("/api/preference", headers={"DNT": "1"}).json()["preference"] == "allow"


def test_a_code_of_the_wrong_shape_costs_no_attempt(client: TestClient, outbox: Path) -> None:
    seed(client)
    rid = open_request(client, "access", "me@example.org", VICTIM_ID)
    for typo in ["", "12345", "12 34 56 7", "abcdef"] * 3:
        r = verify(client, rid, typo)
        assert r.status_code == 400
        assert "the code is 6 digits" in r.text
    assert verify(client, rid, last_code(outbox, "me@example.org")).status_code == 303
