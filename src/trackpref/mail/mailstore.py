"""Reading and writing mail where it is stored: ``.eml`` files, mbox, Maildir.

The format is taken from the path: a directory with ``cur``/``new``/``tmp`` is a
Maildir, any other directory is a folder of ``.eml`` files, a file that starts
with ``From `` is an mbox, and any other file is one message. A Maildir's
Maildir++ subfolders (``.Sent/cur``, ``.Lists.python/new``: dot-named Maildirs
directly under the root, as Courier, Dovecot and offlineimap keep them) are part
of it: ``scan`` and ``clean`` both read messages only through
:func:`read_messages`, so both see every folder.

Originals are only ever opened for reading. That is why mbox files are split
here rather than by ``mailbox.mbox``, which opens its file for writing even to
read it; the split follows the same rule (every line starting ``From `` begins a
message). Cleaned copies are written with ``mailbox`` into a fresh container of
the same format, each file atomically (written aside, then renamed).
"""

from __future__ import annotations

import mailbox
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .scanner import RawMessage

__all__ = [
    "MailFormat",
    "MailSourceError",
    "MailWriter",
    "StoredMessage",
    "detect_format",
    "output_path",
    "read_messages",
]


class MailSourceError(ValueError):
    """The path cannot be read as mail, or cannot be written to; says which and why."""


class MailFormat(StrEnum):
    EML = "eml"
    EML_DIR = "eml-dir"
    MBOX = "mbox"
    MAILDIR = "maildir"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message and where it lives in its container.

    ``location`` is the path relative to the container (``.eml`` folder,
    Maildir) or the mbox ``From `` line; ``error`` is set when it could not be
    read, and then ``message.data`` is empty.
    """

    message: RawMessage
    location: str
    envelope: bytes = b""
    error: str | None = None


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def detect_format(path: Path) -> MailFormat:
    if not path.exists():
        raise MailSourceError(f"{path}: no such file or directory")
    if path.is_dir():
        if _is_maildir(path):
            return MailFormat.MAILDIR
        return MailFormat.EML_DIR
    if path.exists() and not path.is_file():
        raise MailSourceError(f"{path}: not a regular file, a folder, an mbox or a Maildir")
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except OSError as exc:
        raise MailSourceError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return MailFormat.MBOX if head == b"From " else MailFormat.EML


def _read_file(path: Path, key: str | None, location: str) -> StoredMessage:
    if path.exists() and not path.is_file():  # a pipe or a device would never end
        message = RawMessage(str(path), key, b"")
        return StoredMessage(message, location, error="not a regular file; not read")
    try:
        data = path.read_bytes()
    except OSError as exc:
        message = RawMessage(str(path), key, b"")
        return StoredMessage(message, location, error=f"cannot be read ({exc.strerror or exc})")
    return StoredMessage(RawMessage(str(path), key, data), location)


def _eml_files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".eml") and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def _maildir_folders(names: list[str], root: Path) -> list[str]:
    """The Maildir++ subfolders among ``root``'s entries (``.Sent``, ``.Lists.python``).

    Maildir++ keeps every folder, however deeply nested it looks to the
    person, as a dot-named Maildir directly under the root; the nesting is
    spelled with dots in the name. A dot-named entry that is not a Maildir
    (``.git``, a stray file) is not a folder.
    """
    return sorted(n for n in names if n.startswith(".") and _is_maildir(root / n))


def _maildir_files(root: Path) -> Iterator[tuple[str, Path, str | None]]:
    """``(location, file, problem)`` for each message of the Maildir and its subfolders.

    A folder that cannot be listed is one entry with its problem, so that the
    scan reports it and goes on instead of stopping at the first such folder,
    and never passes over mail without a word.
    """
    folders = [""]
    try:
        folders += [f"{name}/" for name in _maildir_folders(os.listdir(root), root)]
    except OSError as exc:
        yield ".", root, f"cannot be read, its subfolders were not read ({exc.strerror or exc})"
    for folder in folders:
        for sub in ("new", "cur"):
            where = root / folder / sub
            try:
                names = sorted(os.listdir(where))
            except OSError as exc:
                yield f"{folder}{sub}", where, f"cannot be read ({exc.strerror or exc})"
                continue
            for name in names:
                if name.startswith("."):
                    continue
                path = where / name
                if path.is_file():
                    yield f"{folder}{sub}/{name}", path, None
                else:  # a pipe, a device, a folder or a dangling link: said, not skipped
                    yield f"{folder}{sub}/{name}", path, "not a regular file; not read"


def _mbox_messages(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """``(From line, message bytes)`` pairs, the blank separator line dropped."""
    envelope: bytes | None = None
    lines: list[bytes] = []
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b"From "):
                if envelope is not None:
                    yield envelope, _mbox_body(lines)
                envelope = line.rstrip(b"\r\n")
                lines = []
            elif envelope is not None:
                lines.append(line)
    if envelope is not None:
        yield envelope, _mbox_body(lines)


def _mbox_body(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


def read_messages(path: Path, fmt: MailFormat | None = None) -> Iterator[StoredMessage]:
    """The messages at ``path`` in their stored order; never writes anything."""
    fmt = fmt or detect_format(path)
    if fmt is MailFormat.EML:
        yield _read_file(path, None, path.name)
    elif fmt is MailFormat.EML_DIR:
        for file in _eml_files(path):
            yield _read_file(file, None, file.relative_to(path).as_posix())
    elif fmt is MailFormat.MAILDIR:
        for location, file, problem in _maildir_files(path):
            if problem is not None:
                yield StoredMessage(RawMessage(str(file), None, b""), location, error=problem)
            else:
                yield _read_file(file, file.name.split(":", 1)[0], location)
    else:
        try:
            for index, (envelope, data) in enumerate(_mbox_messages(path)):
                yield StoredMessage(
                    RawMessage(str(path), str(index), data), str(index), envelope=envelope
                )
        except OSError as exc:
            raise MailSourceError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def output_path(source: Path, out_dir: Path) -> Path:
    """Where the cleaned copy of ``source`` goes; refuses anything that touches it.

    The copy is ``out_dir/<name of source>``. It may not be the source itself,
    lie inside a source folder (the next scan would read it), or contain it.
    """
    target = out_dir / source.resolve().name
    src = source.resolve()
    dst = target.resolve()
    if dst == src:
        raise MailSourceError(f"--out {out_dir} would overwrite the original {source}")
    if source.is_dir() and dst.is_relative_to(src):
        raise MailSourceError(f"--out {out_dir} is inside {source}; choose a folder outside it")
    if src.is_relative_to(dst):
        raise MailSourceError(f"--out {out_dir} would contain the original {source}")
    if out_dir.exists() and not out_dir.is_dir():
        raise MailSourceError(f"--out {out_dir} exists and is not a directory")
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trackpref-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class MailWriter:
    """Writes cleaned messages into a new container of the source's format."""

    def __init__(self, fmt: MailFormat, target: Path) -> None:
        self.fmt = fmt
        self.target = target
        self._mbox: mailbox.mbox | None = None
        self._mbox_tmp: Path | None = None
        self._folders: set[str] = set()
        if fmt is MailFormat.MAILDIR:
            target.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(str(target), create=True)
            box.close()
        elif fmt is MailFormat.MBOX:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".trackpref-", suffix=".mbox")
            os.close(fd)
            self._mbox_tmp = Path(tmp)
            self._mbox = mailbox.mbox(tmp, create=True)
        elif fmt is MailFormat.EML_DIR:
            target.mkdir(parents=True, exist_ok=True)

    def write(self, stored: StoredMessage, data: bytes) -> None:
        if self.fmt is MailFormat.EML:
            _write_atomic(self.target, data)
        elif self.fmt is MailFormat.EML_DIR:
            _write_atomic(self.target / stored.location, data)
        elif self.fmt is MailFormat.MAILDIR:
            # Keep the file name (it carries the flags, ``:2,S``) and the folder.
            folder = stored.location.split("/", 1)[0]
            if folder.startswith("."):
                self._add_folder(folder)
            _write_atomic(self.target / stored.location, data)
        else:
            if self._mbox is None:
                raise RuntimeError("MailWriter used after close()")
            self._mbox.add(stored.envelope + b"\n" + data)

    def _add_folder(self, folder: str) -> None:
        """Make ``folder`` a whole Maildir++ folder (``tmp`` and the ``maildirfolder``
        marker too), so that mail clients see it as a folder, not as stray files."""
        if folder in self._folders:
            return
        box = mailbox.Maildir(str(self.target), create=True)
        try:
            box.add_folder(folder[1:])
        finally:
            box.close()
        self._folders.add(folder)

    def close(self) -> None:
        if self._mbox is not None and self._mbox_tmp is not None:
            self._mbox.flush()
            self._mbox.close()
            os.replace(self._mbox_tmp, self.target)
            self._mbox = None

    def abort(self) -> None:
        if self._mbox is not None and self._mbox_tmp is not None:
            self._mbox.close()
            self._mbox_tmp.unlink(missing_ok=True)
            self._mbox = None
