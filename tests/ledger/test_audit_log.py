from __future__ import annotations

import pytest

from trackpref.ledger.audit_log import AuditLog
from trackpref.ledger.storage import Store


def test_entries_are_appended_and_exported(store: Store) -> None:
    log = AuditLog(store, clock=lambda: 42.0, actor="portal")
    a = log.record("request.received", request_id="r1", detail={"kind": "access"})
    b = log.record("retention.run", actor="scheduler", detail={"rows": 3})
    assert a.id is not None
    assert b.id is not None
    assert b.id > a.id
    assert [e.action for e in log.entries()] == ["request.received", "retention.run"]
    assert log.export(request_id="r1") == [
        {
            "id": a.id,
            "ts": 42.0,
            "action": "request.received",
            "request_id": "r1",
            "actor": "portal",
            "detail": {"kind": "access"},
        }
    ]
    assert log.entries()[1].actor == "scheduler"


@pytest.mark.parametrize("key", ["email", "subject_id", "phone", "subject"])
def test_identity_is_refused(store: Store, key: str) -> None:
    log = AuditLog(store)
    with pytest.raises(ValueError, match="must not identify"):
        log.record("x", detail={key: "alice@mail.example"})
    assert log.entries() == []


def test_detail_must_be_small_json(store: Store) -> None:
    log = AuditLog(store)
    with pytest.raises(ValueError, match="bytes"):
        log.record("x", detail={"blob": "x" * 20_000})
    with pytest.raises(ValueError, match="JSON compliant"):
        log.record("x", detail={"nan": float("nan")})
    with pytest.raises(TypeError):
        log.record("x", detail={"obj": object()})
    assert log.entries() == []
