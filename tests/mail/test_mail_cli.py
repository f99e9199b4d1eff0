from __future__ import annotations

import json
import mailbox
from pathlib import Path

from click.testing import CliRunner
from mail_helpers import newsletter

from trackpref.cli import main

PIXEL = "https://zeit.us12.list-manage.com/track/open.php?u=3c9e9e13d7e6dae8faf375bed&amp;id=ce66ec2f9f&amp;e=c9edb6a9f6"
HTML = (
    '<p>Hi</p><a href="https://www.google.com/url?q=https%3A%2F%2Fshop.example%2Fsale">Sale</a>'
    f'<img src="{PIXEL}" height="1" width="1">'
)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.eml").write_bytes(newsletter(HTML, message_id="<a@shop.example>"))
    (folder / "b.eml").write_bytes(
        b"From: x@shop.example\nSubject: odd\nContent-Type: text/html; charset=x-odd\n\n<p>\xff</p>"
    )
    return folder


def test_help_has_examples() -> None:
    runner = CliRunner()
    for args in (["mail", "--help"], ["mail", "scan", "--help"], ["mail", "clean", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0
        assert "Examples:" in result.output
        assert "trackpref mail" in result.output


def test_scan_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["mail", "scan", str(_folder(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [Path(m["file"]).name for m in data] == ["a.eml", "b.eml"]
    first = data[0]
    assert set(first) >= {"file", "message_id", "from", "subject", "trackers"}
    assert first["message_id"] == "<a@shop.example>"
    kinds = {(t["kind"], t["url"]) for t in first["trackers"]}
    assert ("pixel", PIXEL.replace("&amp;", "&")) in kinds
    assert all(t["reason"] for t in first["trackers"])
    assert "unknown charset" in data[1]["errors"][0]


def test_scan_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["mail", "scan", str(_folder(tmp_path)), "-v"])
    assert result.exit_code == 0, result.output
    for word in (
        "Messages",
        "Trackers",
        "Senders",
        "news@shop.example",
        "Mailchimp",
        "2 message(s)",
    ):
        assert word in result.output


def test_clean_writes_a_copy(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    before = (folder / "a.eml").read_bytes()
    result = CliRunner().invoke(
        main, ["mail", "clean", str(folder), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "1 pixel(s) removed" in " ".join(result.output.split())  # wrapped to the width
    assert (folder / "a.eml").read_bytes() == before
    assert b"list-manage.com/track/open" not in (tmp_path / "out" / "mail" / "a.eml").read_bytes()


def test_bad_paths_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["mail", "scan", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such file or directory" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    eml = tmp_path / "x.eml"
    eml.write_bytes(newsletter(HTML))
    result = runner.invoke(main, ["mail", "clean", str(eml), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "overwrite the original" in " ".join(result.output.split())


def test_a_message_cannot_drive_the_terminal_or_the_table(tmp_path: Path) -> None:
    # Rich markup and terminal escapes in a Subject, a sender and a charset are
    # shown as text: never obeyed, never a crash.
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "m[b].eml").write_bytes(
        b"From: [red]x[/red] <a@x.example>\r\nSubject: [/red] hi \x1b[31mred\x1b]0;t\x07\r\n"
        b'Content-Type: text/html; charset="[/x]"\r\n\r\n<p>x</p>'
    )
    scan = CliRunner().invoke(main, ["mail", "scan", str(mail), "-v"], terminal_width=200)
    assert scan.exit_code == 0, scan.output
    assert "[/red] hi" in scan.output
    assert "m[b].eml" in scan.output
    assert "\x1b" not in scan.output
    out = tmp_path / "clean"
    clean = CliRunner().invoke(main, ["mail", "clean", str(mail), "--out", str(out)])
    assert clean.exit_code == 0, clean.output
    assert "[/x]" in clean.output  # the unknown charset, named as it is


def test_scan_and_clean_walk_maildir_plus_plus_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    box.add(newsletter("<p>nothing to see</p>", message_id="<inbox@shop.example>"))
    key = box.add_folder("Newsletters").add(newsletter(HTML, message_id="<sub@shop.example>"))
    box.close()
    original = root / ".Newsletters" / "new" / key
    before = original.read_bytes()

    scan = CliRunner().invoke(main, ["mail", "scan", str(root), "--json"])
    assert scan.exit_code == 0, scan.output
    scanned = {m["message_id"]: m for m in json.loads(scan.output)}
    assert set(scanned) == {"<inbox@shop.example>", "<sub@shop.example>"}
    assert scanned["<sub@shop.example>"]["trackers"]

    out = tmp_path / "out"
    clean = CliRunner().invoke(main, ["mail", "clean", str(root), "--out", str(out), "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output) == json.loads(scan.output)  # the same messages, both ways
    copy = out / "Maildir" / ".Newsletters"
    assert b"list-manage.com/track/open" not in (copy / "new" / key).read_bytes()
    assert (copy / "tmp").is_dir()
    assert (copy / "maildirfolder").is_file()  # a folder mail clients recognise
    assert mailbox.Maildir(str(out / "Maildir")).list_folders() == ["Newsletters"]
    assert original.read_bytes() == before

    table = CliRunner().invoke(main, ["mail", "clean", str(root), "--out", str(out)])
    assert table.exit_code == 0, table.output
    # The summary is wrapped to the terminal's width, which the path may push over.
    assert "2 message(s), 1 cleaned, 1 pixel(s) removed" in " ".join(table.output.split())
