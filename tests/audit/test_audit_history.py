from __future__ import annotations

from trackpref.audit.history import compare


def site(gpc: bool | None, identifiers: int, parties: list[str]) -> dict[str, object]:
    return {
        "audited_at": "t",
        "verdicts": {"gpc_honored": gpc, "dnt_honored": True, "compliant": gpc},
        "states": {
            "dnt1-gpc": {
                "summary": {"third_party_identifiers": identifiers, "third_party_requests": 3},
                "third_parties": [{"site": p} for p in parties],
            }
        },
    }


def test_no_previous_audit() -> None:
    assert compare(None, site(True, 0, [])) is None


def test_changes_only() -> None:
    changes = compare(site(True, 0, ["cdn.example"]), site(False, 4, ["tracker.example"]))
    assert changes is not None
    assert changes["verdicts"] == {
        "gpc_honored": {"before": True, "after": False},
        "compliant": {"before": True, "after": False},
    }
    state = changes["states"]["dnt1-gpc"]
    assert state["third_party_identifiers"] == {"before": 0, "after": 4}
    assert "third_party_requests" not in state
    assert state["new_third_parties"] == ["tracker.example"]
    assert state["gone_third_parties"] == ["cdn.example"]


def test_same_result_has_empty_changes() -> None:
    changes = compare(site(True, 0, []), site(True, 0, []))
    assert changes == {"previous_audited_at": "t", "verdicts": {}, "states": {}}
