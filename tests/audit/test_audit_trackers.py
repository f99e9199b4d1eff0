from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_fakes import tracking_visit

from trackpref.audit.analysis import analyse_states
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState
from trackpref.audit.trackers import TrackerKnowledge, load_tds, sightings_from


def test_learned_after_threshold_sites() -> None:
    knowledge = TrackerKnowledge(threshold=3)
    for site in ("a.example", "b.example"):
        knowledge = knowledge.with_sightings([("tracker.example", site)])
    assert knowledge.classify("tracker.example").tracker is False
    knowledge = knowledge.with_sightings([("tracker.example", "c.example")])
    info = knowledge.classify("tracker.example")
    assert info.tracker is True
    assert info.source == "learned"
    assert info.sites == ("a.example", "b.example", "c.example")


def test_sightings_come_from_identifier_flows() -> None:
    page = "https://shop.example/"
    obs = tracking_visit(SignalState.NO_SIGNAL, page, "a1b2c3d4e5f6a7b8c9d0")
    results = analyse_states({obs.state: [obs]}, SiteParties.for_url(page))
    reports = [r[0].identifiers for r in results.values()]
    assert sightings_from("shop.example", reports) == {("tracker.example", "shop.example")}


def test_tds_import(tmp_path: Path) -> None:
    tds = {
        "trackers": {"adnet.example": {"domain": "adnet.example", "owner": {"name": "AdNet Inc"}}},
        "entities": {"AdNet Inc": {"domains": ["adnet.example", "adnet-cdn.example"]}},
        "domains": {"adnet.example": "AdNet Inc", "adnet-cdn.example": "AdNet Inc"},
    }
    path = tmp_path / "tds.json"
    path.write_text(json.dumps(tds))
    trackers, entities = load_tds(path)
    knowledge = TrackerKnowledge(tds_trackers=trackers, entities=entities)
    info = knowledge.classify("sub.adnet.example")
    assert (info.tracker, info.source, info.entity) == (True, "tds", "AdNet Inc")
    assert knowledge.entity_of("adnet-cdn.example") == "AdNet Inc"
    # The same entity counts as the same party for the analysis.
    parties = SiteParties("adnet.example", entities=entities)
    assert not parties.is_third_party("adnet-cdn.example")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "a TDS file is a JSON object"),
        ('{"trackers": []}', "'trackers' must be an object"),
        ('{"domains": {"a.example": 3}}', "domains['a.example']"),
        ('{"trackers": {"a.example": 1}}', "trackers['a.example']"),
    ],
)
def test_bad_tds_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"bad\.json") as info:
        load_tds(path)
    assert message in str(info.value)


def test_missing_tds_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_tds(tmp_path / "nope.json")


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_tds_is_a_clear_error(tmp_path: Path, opening: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(opening * 200_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        load_tds(path)
