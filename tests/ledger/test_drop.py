from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from ledger_loopback import WebhookServer

from trackpref.cli import main
from trackpref.ledger.drop import (
    DropError,
    DropStatus,
    hash_identifier,
    import_list,
    normalize_email,
    normalize_phone,
    read_list,
    status_csv,
)
from trackpref.ledger.inventory import Inventory, Site
from trackpref.ledger.rights import DataRights
from trackpref.ledger.storage import Store, open_store

SITE = "news.example"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_list(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("ID", "Hash")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def rights_for(store: Store) -> DataRights:
    return DataRights(Inventory(site=Site(name=store.site), datasets={}), store)


def test_standardization_vectors() -> None:
    assert normalize_email("  Alice.Smith@Example.COM \n") == "alice.smith@example.com"
    assert hash_identifier("email", " Alice.Smith@Example.COM") == sha("alice.smith@example.com")
    assert normalize_phone("(415) 555-0100") == "14155550100"
    assert normalize_phone("+1 415 555 0100") == "14155550100"
    assert normalize_phone("+44 20 7946 0018") == "442079460018"
    assert hash_identifier("phone", "415.555.0100") == sha("14155550100")
    with pytest.raises(DropError):
        hash_identifier("ssn", "x")


@given(st.emails())
def test_property_email_hash_ignores_case_and_spaces(email: str) -> None:
    assert hash_identifier("email", f"  {email.upper()} ") == hash_identifier("email", email)


def test_import_deletes_opts_out_and_reports(store: Store) -> None:
    rights = rights_for(store)
    rights.register_subject("solo", email="solo@mail.example", phone="415 555 0101")
    rights.register_subject("kid", email="family@mail.example")
    rights.register_subject("parent", email="family@mail.example")
    rights.register_subject("held", email="held@mail.example")
    items = [
        ("w1", sha("solo@mail.example")),
        ("w2", sha("family@mail.example")),
        ("w3", sha("stranger@mail.example")),
        ("w4", sha("held@mail.example")),
    ]
    report = import_list(
        rights,
        items,
        list_name="email",
        batch="b1",
        exempt=lambda sid: "legal hold" if sid == "held" else None,
    )
    assert report.as_dict() == {
        "batch": "b1",
        "list": "email",
        "total": 4,
        "deleted": 1,
        "opted_out": 1,
        "exempted": 1,
        "not_found": 1,
    }
    assert store.get_subject("solo") is None
    assert rights.is_opted_out("kid")
    assert rights.is_opted_out("parent")
    assert store.get_subject("held") is not None
    rows = list(csv.reader(io.StringIO(status_csv(store))))
    assert rows == [["ID", "Status"], ["w1", "3"], ["w2", "4"], ["w3", "5"], ["w4", "2"]]
    assert DropStatus.DELETED == 3
    # the phone list now finds nothing of the deleted subject
    phone = import_list(rights, [("p1", sha("14155550101"))], list_name="phone", batch="b2")
    assert phone.counts == {5: 1}
    assert status_csv(store, batch="b2").splitlines() == ["ID,Status", "p1,5"]
    audit = [e.action for e in store.audit_entries()]
    assert audit.count("drop.imported") == 2
    assert "drop.exempted" in audit
    assert "subject.deleted" in audit


def test_read_list_errors_name_the_line(tmp_path: Path) -> None:
    good = write_list(tmp_path / "ok.csv", [("1", "A" * 64), ("2", "b" * 64)])
    assert list(read_list(good)) == [("1", "a" * 64), ("2", "b" * 64)]
    cases = [
        (write_list(tmp_path / "h.csv", [], header=("Identifier", "Digest")), "ID and Hash"),
        (write_list(tmp_path / "x.csv", [("1", "zz")]), ":2: column Hash"),
        (write_list(tmp_path / "d.csv", [("1", "a" * 64), ("1", "b" * 64)]), ":3: column ID"),
        (write_list(tmp_path / "e.csv", [("", "a" * 64)]), ":2: column ID"),
    ]
    short = tmp_path / "s.csv"
    short.write_text("ID,Hash\n1\n", encoding="utf-8")
    cases.append((short, ":2: 1 columns"))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    cases.append((empty, "empty file"))
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"ID,Hash\n\xff\xfe,\x00\n")
    cases.append((binary, "not UTF-8"))
    cases.append((tmp_path / "missing.csv", "cannot read"))
    for path, needle in cases:
        with pytest.raises(DropError, match=needle):
            list(read_list(path))


def test_bad_list_name(store: Store) -> None:
    with pytest.raises(DropError, match="only the email and phone"):
        import_list(rights_for(store), [], list_name="maid", batch="b")


def test_cli_import_and_status(
    tmp_path: Path, webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ledger.db"
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        f"""
[site]
name = "{SITE}"
[recipients.cdn]
name = "CDN"
kind = "processor"
deletion_webhook = "{webhook_server.url}/delete"
[datasets.v]
purposes = ["security"]
legal_basis = "legal-obligation"
[datasets.v.fields.a]
category = "a.b"
""",
        encoding="utf-8",
    )
    store = open_store(db, site=SITE)
    rights_for(store).register_subject("u1", email="u1@mail.example")
    store.close()
    monkeypatch.setenv("TRACKPREF_WEBHOOK_SECRET_CDN", "s3cret")
    lst = write_list(
        tmp_path / "drop_email_2026-08-01.csv",
        [("a", sha("u1@mail.example")), ("b", sha("x@y.example"))],
    )
    result = CliRunner().invoke(
        main, ["drop", "import", str(lst), "--db", str(db), "--inventory", str(inventory), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["deleted"] == 1
    assert summary["not_found"] == 1
    assert summary["webhooks"]["delivered"] == 1
    assert len(webhook_server.received) == 1
    out = tmp_path / "status.csv"
    result = CliRunner().invoke(
        main, ["drop", "status", "--db", str(db), "--site", SITE, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines() == ["ID,Status", "a,3", "b,5"]
    result = CliRunner().invoke(main, ["drop", "status", "--db", str(db), "--site", SITE])
    assert result.output.splitlines()[0] == "ID,Status"


def test_cli_errors(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    bad = write_list(tmp_path / "list.csv", [("1", "nothex")])
    result = CliRunner().invoke(
        main, ["drop", "import", str(bad), "--db", str(db), "--site", SITE, "--list", "email"]
    )
    assert result.exit_code == 1
    assert "column Hash" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["drop", "import", str(bad), "--db", str(db), "--site", SITE])
    assert result.exit_code == 1
    assert "--list" in result.output
    result = CliRunner().invoke(main, ["drop", "status", "--db", str(db)])
    assert result.exit_code == 1
    assert "--site" in result.output
    result = CliRunner().invoke(main, ["drop", "status", "--db", "mysql://x/y", "--site", SITE])
    assert result.exit_code == 1
    assert "unknown store scheme" in result.output
    for args in (["drop", "--help"], ["drop", "import", "--help"], ["drop", "status", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0
        assert "Examples:" in result.output
