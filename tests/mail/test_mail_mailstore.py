from __future__ import annotations

import mailbox
import os
from pathlib import Path

import pytest
from mail_helpers import newsletter

from trackpref.mail import MailFormat, MailSourceError, detect_format, read_messages
from trackpref.mail.mailstore import output_path


def _mbox(path: Path, messages: list[bytes]) -> None:
    box = mailbox.mbox(str(path), create=True)
    for raw in messages:
        box.add(b"From sender@example.org Wed May  1 09:00:00 2024\n" + raw)
    box.flush()
    box.close()


def test_detect_format(tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(newsletter("<p>x</p>"))
    mbox = tmp_path / "box"
    _mbox(mbox, [newsletter("<p>x</p>")])
    maildir = tmp_path / "Maildir"
    mailbox.Maildir(str(maildir), create=True).close()
    folder = tmp_path / "folder"
    folder.mkdir()
    assert detect_format(eml) is MailFormat.EML
    assert detect_format(mbox) is MailFormat.MBOX
    assert detect_format(maildir) is MailFormat.MAILDIR
    assert detect_format(folder) is MailFormat.EML_DIR
    with pytest.raises(MailSourceError, match="no such file"):
        detect_format(tmp_path / "missing")


def test_mbox_reader_agrees_with_the_mailbox_module(tmp_path: Path) -> None:
    messages = [
        newsletter("<p>one</p>", message_id="<1@x>"),
        newsletter("<p>From the start\n>From quoted</p>", message_id="<2@x>", cte="8bit"),
        newsletter("<p>three</p>", message_id="<3@x>", crlf=True),
    ]
    path = tmp_path / "inbox"
    _mbox(path, messages)
    ours = list(read_messages(path))
    box = mailbox.mbox(str(path), create=False)
    try:
        theirs = [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()
    assert [m.message.data for m in ours] == theirs
    assert [m.message.key for m in ours] == ["0", "1", "2"]
    assert all(m.envelope.startswith(b"From sender@example.org") for m in ours)


def test_maildir_keeps_names_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    msg = mailbox.MaildirMessage(newsletter("<p>x</p>"))
    msg.set_subdir("cur")
    msg.set_flags("S")
    key = box.add(msg)
    box.add(newsletter("<p>y</p>"))
    box.close()
    (root / "cur" / ".hidden").write_bytes(b"x")
    stored = list(read_messages(root))
    assert sorted(s.location.split("/")[0] for s in stored) == ["cur", "new"]
    seen = next(s for s in stored if s.location.startswith("cur/"))
    assert seen.location == f"cur/{key}:2,S"
    assert seen.message.key == key


def test_eml_folder_is_read_recursively_in_order(tmp_path: Path) -> None:
    for name in ("b.eml", "a.EML", "sub/c.eml", ".hidden.eml", "notes.txt"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(newsletter(f"<p>{name}</p>"))
    assert [s.location for s in read_messages(tmp_path)] == ["a.EML", "b.eml", "sub/c.eml"]


def test_unreadable_files_become_per_message_errors(tmp_path: Path) -> None:
    (tmp_path / "ok.eml").write_bytes(newsletter("<p>x</p>"))
    (tmp_path / "dir.eml").mkdir()  # not a file: os.walk lists it as a directory, so it is skipped
    bad = tmp_path / "bad.eml"
    bad.symlink_to(tmp_path / "nowhere.eml")
    stored = list(read_messages(tmp_path))
    errors = {s.location: s.error for s in stored}
    assert errors["ok.eml"] is None
    assert errors["bad.eml"] is not None
    assert "cannot be read" in errors["bad.eml"]


def test_output_path_refuses_to_touch_the_original(tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(b"x")
    folder = tmp_path / "Maildir"
    folder.mkdir()
    assert output_path(eml, tmp_path / "out") == tmp_path / "out" / "one.eml"
    with pytest.raises(MailSourceError, match="overwrite the original"):
        output_path(eml, tmp_path)
    with pytest.raises(MailSourceError, match="inside"):
        output_path(folder, folder / "clean")
    with pytest.raises(MailSourceError, match="overwrite the original"):
        output_path(folder, tmp_path)
    with pytest.raises(MailSourceError, match="not a directory"):
        output_path(folder, eml)


def test_a_fifo_is_named_not_read(tmp_path: Path) -> None:
    # Reading a named pipe would wait forever: a folder's gets an error, and
    # one given by itself is refused.
    (tmp_path / "a.eml").write_bytes(newsletter("<p>x</p>"))
    os.mkfifo(tmp_path / "b.eml")
    errors = {s.location: s.error for s in read_messages(tmp_path)}
    assert errors["a.eml"] is None
    assert errors["b.eml"] == "not a regular file; not read"
    with pytest.raises(MailSourceError, match="not a regular file"):
        detect_format(tmp_path / "b.eml")


def test_odd_entries_of_a_maildir_are_named_not_skipped(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    box.add(newsletter("<p>x</p>"))
    box.close()
    os.mkfifo(root / "cur" / "2.fifo")
    (root / "cur" / "3.link").symlink_to("/dev/zero")
    (root / "cur" / "4.gone").symlink_to(tmp_path / "nowhere")
    (root / "cur" / "5.dir").mkdir()
    errors = {s.location: s.error for s in read_messages(root)}
    assert [e for e in errors.values() if e is None] == [None], "the message is read"
    for name in ("2.fifo", "3.link", "4.gone", "5.dir"):
        assert errors[f"cur/{name}"] == "not a regular file; not read"


def test_maildir_plus_plus_subfolders_are_read(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    box.add(newsletter("<p>inbox</p>"))
    sub = box.add_folder("Lists.news")
    kept = mailbox.MaildirMessage(newsletter("<p>list</p>"))
    kept.set_subdir("cur")
    kept.set_flags("S")
    key = sub.add(kept)
    box.add_folder("Empty")
    box.close()
    (root / ".git" / "objects").mkdir(parents=True)  # dot-named, but not a folder
    (root / ".notes").write_bytes(b"x")
    stored = list(read_messages(root))
    assert [s.location.rsplit("/", 1)[0] for s in stored] == ["new", ".Lists.news/cur"]
    assert stored[1].location == f".Lists.news/cur/{key}:2,S"
    assert stored[1].message.key == key
    assert stored[1].message.file == str(root / ".Lists.news" / "cur" / f"{key}:2,S")
    assert all(s.error is None for s in stored)


def deny_listing(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make the mail store's ``os.listdir`` refuse one directory, as a missing
    read permission would (chmod proves nothing when the tests run as root)."""
    listdir = os.listdir

    def deny(path: str | os.PathLike[str]) -> list[str]:
        if Path(path) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr("trackpref.mail.mailstore.os.listdir", deny)


def test_a_folder_that_cannot_be_listed_is_reported_and_the_rest_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    box.add(newsletter("<p>inbox</p>"))
    box.add_folder("Locked").add(newsletter("<p>locked</p>"))
    box.close()
    deny_listing(monkeypatch, root / ".Locked" / "new")
    stored = list(read_messages(root))
    assert [(s.location.split("/")[0], s.error) for s in stored] == [
        ("new", None),
        (".Locked", "cannot be read (Permission denied)"),
    ]
    assert stored[1].location == ".Locked/new"


def test_a_maildir_root_that_cannot_be_listed_says_its_subfolders_were_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(str(root), create=True)
    box.add(newsletter("<p>inbox</p>"))
    box.add_folder("Hidden").add(newsletter("<p>hidden</p>"))
    box.close()
    deny_listing(monkeypatch, root)  # searchable but not readable: mode 0o311
    stored = list(read_messages(root))
    assert [s.location.split("/")[0] for s in stored] == [".", "new"]
    assert stored[0].error == "cannot be read, its subfolders were not read (Permission denied)"
