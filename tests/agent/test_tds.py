from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.tds import TrackerAction, load_tds, parse_surrogates, read_surrogates, read_tds
from trackpref.signals.errors import ValidationError

DOC = {
    "trackers": {
        "ads.example": {
            "domain": "ads.example",
            "default": "block",
            "owner": {"name": "Ads Inc"},
            "rules": [
                {"rule": "ads\\.example/ok", "action": "ignore"},
                {"rule": "ads\\.example/((", "action": "block"},
                {"rule": "ads\\.example/strange", "action": "teleport"},
                {"rule": "ads\\.example/lib\\.js", "surrogate": "lib.js"},
            ],
        },
        "bad entry": {"default": "block"},
    },
    "entities": {"Ads Inc": {"domains": ["ads.example", "adscdn.example"]}},
    "domains": {"publisher.example": "Publisher"},
    "cnames": {"metrics.publisher.example": "collect.ads.example"},
}


def test_loading_skips_bad_entries_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    tds = load_tds(DOC)
    assert tds.tracker_domains() == ["ads.example"]
    assert len(tds) == 1
    assert any("bad entry" in p for p in tds.problems)
    # An expression that does not compile is found when its tracker is first met.
    with caplog.at_level(logging.WARNING, logger="trackpref.agent.tds"):
        match = tds.match("https", "ads.example", "/((", "publisher.example", "script")
    assert match is not None
    assert match.action is TrackerAction.BLOCK
    assert "does not compile" in caplog.text
    assert tds.entity_of("cdn.adscdn.example") == "Ads Inc"
    assert tds.same_party("x.ads.example", "adscdn.example")
    assert not tds.same_party("ads.example", "publisher.example")


def test_matching() -> None:
    tds = load_tds(DOC)

    def action(url_host: str, path: str, site: str | None = "publisher.example") -> str | None:
        match = tds.match("https", url_host, path, site, "script", {"lib.js"})
        return None if match is None else match.action.value

    assert action("ads.example", "/pixel") == "block"
    assert action("x.ads.example", "/ok") == "ignore"
    assert action("ads.example", "/strange") == "block"  # unknown action: the rule is skipped
    assert action("ads.example", "/lib.js") == "redirect"
    assert action("ads.example", "/pixel", site="adscdn.example") == "ignore"
    assert action("ads.example", "/pixel", site=None) == "block"
    assert action("other.example", "/") is None
    match = tds.match("https", "metrics.publisher.example", "/c", "news.example", "image")
    assert match is not None
    assert match.action is TrackerAction.BLOCK
    assert match.tracker == "ads.example"
    assert tds.uncloak("metrics.publisher.example") == "collect.ads.example"


@pytest.mark.parametrize(
    ("doc", "field"),
    [([], "document"), ({"trackers": []}, "trackers"), ({"cnames": "x"}, "cnames")],
)
def test_a_document_that_is_not_a_tds_is_refused(doc: object, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_tds(doc)
    assert err.value.field == field


def test_files_are_named_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "tds.json"
    with pytest.raises(ValidationError, match="cannot be read"):
        read_tds(path)
    path.write_text("{oops")
    with pytest.raises(ValidationError, match=f"{path}: file: not JSON"):
        read_tds(path)
    path.write_bytes(b"\xff")
    with pytest.raises(ValidationError, match="not UTF-8"):
        read_tds(path)
    path.write_text('{"trackers": ' + "1" * 5_000 + "}")
    with pytest.raises(ValidationError, match=f"{path}: file: not JSON"):
        read_tds(path)
    path.write_text('{"trackers": ' + "[" * 100_000)
    with pytest.raises(ValidationError, match=f"{path}: file: not JSON: nested too deeply"):
        read_tds(path)
    path.write_text(json.dumps(DOC))
    assert len(read_tds(path)) == 1
    with pytest.raises(ValidationError, match="cannot be read"):
        read_surrogates(tmp_path / "none.txt")


def test_surrogates_file() -> None:
    text = (
        "# comment\nads.example/lib.js application/javascript\n(function(){})();\n\n"
        "x.example/noop.js\nvoid 0;\n\nbroken-line-without-slash\n"
    )
    found = parse_surrogates(text)
    assert set(found) == {"lib.js", "noop.js"}
    assert found["lib.js"].body == b"(function(){})();"
    assert found["noop.js"].content_type == "application/javascript"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=15,
)


@given(json_values, json_values, json_values)
def test_any_document_loads_or_raises_validation_error(
    trackers: object, entities: object, cnames: object
) -> None:
    try:
        tds = load_tds({"trackers": trackers, "entities": entities, "cnames": cnames})
    except ValidationError:
        return
    for host in tds.tracker_domains()[:3]:
        tds.match("https", host, "/", "site.example", "script")


@given(st.text(max_size=200))
def test_any_surrogates_text_parses(text: str) -> None:
    for surrogate in parse_surrogates(text).values():
        assert surrogate.name
