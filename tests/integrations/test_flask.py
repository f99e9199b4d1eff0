"""Flask, through Flask's own test client."""

from __future__ import annotations

from flask import Flask, g, jsonify, make_response
from flask.typing import ResponseReturnValue

from trackpref.integrations.flask import TrackPref, current_preference
from trackpref.signals.site_policy import SitePolicy


def make_app() -> Flask:
    app = Flask(__name__)
    TrackPref(app, policy=SitePolicy(policy="/privacy", tracking_cookies=("_track",)))

    @app.get("/")
    def home() -> ResponseReturnValue:
        response = make_response(
            jsonify(state=g.trackpref.preference.state.value, same=current_preference().state.value)
        )
        response.set_cookie("_track", "abc")
        return response

    return app


def test_flask_attaches_decision_and_honors() -> None:
    client = make_app().test_client()
    r = client.get("/", headers={"DNT": "1"})
    assert r.json == {"state": "do-not-track", "same": "do-not-track"}
    assert r.headers["Tk"] == "N;not-tracking"
    assert "_track" not in r.headers.get("Set-Cookie", "")
    r = client.get("/")
    assert r.json == {"state": "unset", "same": "unset"}
    assert "_track=abc" in r.headers.get("Set-Cookie", "")


def test_flask_serves_declarations() -> None:
    client = make_app().test_client()
    r = client.get("/.well-known/dnt/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/tracking-status+json"
    assert r.json is None or r.get_json(force=True)["tracking"] == "?"
    assert client.get("/.well-known/gpc.json").get_json()["gpc"] is True
