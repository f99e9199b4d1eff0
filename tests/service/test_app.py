"""``trackpref serve``'s app, through Starlette's test client."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from trackpref.service import create_app


def test_api_preference_shape(tmp_path: Path) -> None:
    with TestClient(create_app(db=tmp_path / "t.db")) as client:
        body = client.get("/api/preference", headers={"DNT": "1", "Sec-GPC": "1"}).json()
        assert body["preference"] == "do-not-track"
        assert body["dnt"] == "1"
        assert body["gpc"] is True
        assert body["exception"] is False
        assert body["tracking_status"] == "N"
        body = client.get("/api/preference").json()
        assert (body["preference"], body["dnt"], body["gpc"]) == ("unset", None, False)
        body = client.get("/api/preference", headers={"DNT": "0", "Sec-GPC": "1"}).json()
        assert body["preference"] == "do-not-track"
        assert body["conflicts"], "the overruled DNT: 0 must be reported"


def test_landing_page_tells_what_was_sent(tmp_path: Path) -> None:
    with TestClient(create_app(db=tmp_path / "t.db")) as client:
        r = client.get("/", headers={"Sec-GPC": "1"})
        assert r.status_code == 200
        assert "do-not-track" in r.text
        assert "Sec-GPC: 1" in r.text
        assert "/_trackpref/exceptions.js" in r.text


def test_consent_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with TestClient(create_app(db=db)) as client:
        r = client.post(
            "/_trackpref/exceptions",
            json={"op": "store", "data": {}},
            headers={"Origin": "http://testserver"},
        )
        assert r.status_code == 200, r.text
        cookie = client.cookies["tp_consent"]
    with TestClient(create_app(db=db), cookies={"tp_consent": cookie}) as client:
        body = client.get("/api/preference", headers={"DNT": "1"}).json()
        assert body["preference"] == "allow"
        assert body["exception"] is True
        assert body["tracking_status"] == "C"
