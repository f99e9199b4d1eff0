"""Write a file so that a reader sees the old content or the new, never half of it.

The preference file is read by every app on the device and by a running proxy
while ``trackpref pref`` rewrites it; a torn write would turn a person's choice
into a parse error. Write to a temporary file in the same directory, flush it
to disk, then ``os.replace`` it over the old one (atomic on POSIX).

Atomic replacement alone does not stop two writers from each loading the old
file and saving their own change, the later erasing the earlier;
:func:`exclusive_lock` serializes those read-modify-write cycles.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_SUFFIX", "atomic_write_bytes", "exclusive_lock", "real_path"]

#: Appended to the real file's name to name its lock file (``preference.json.lock``).
LOCK_SUFFIX = ".lock"
# Short enough that a freed lock is noticed at once, long enough not to spin.
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.05


def real_path(path: Path) -> Path:
    """The file a write to ``path`` must replace: every symlink followed to its end.

    Renaming over a symlink would replace the link with a regular file, so a
    person who linked their preference file into, say, a dotfiles repository
    would silently lose the link and the repository would stop seeing changes.
    A dangling link still names its target, so the write creates the target
    (the person put the link there on purpose).

    Raises:
        OSError: ``ELOOP`` when the links form a loop; there is no file to write.
    """
    real = Path(os.path.realpath(path))
    if real.is_symlink():
        # realpath stops at a loop and hands back a link; writing there would
        # break the loop by replacing a link nobody asked to replace.
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    return real


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace the file at ``path`` with ``data`` atomically, creating parent directories.

    A symlink at ``path`` is kept: its final target is replaced instead, with
    the temporary file in the target's directory (a rename cannot cross file
    systems, and must stay atomic).

    ``mode`` defaults to owner-only: the file lists sites the person visits.

    Raises:
        OSError: when the directory cannot be created or written, or the links
            form a loop; the old file is then untouched.
    """
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; some file systems cannot fsync a directory.
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float) -> Iterator[Path]:
    """Hold the writers' lock on ``path`` for one load, change and save; yields the lock file.

    The lock is ``flock`` on a sidecar file, ``<name>.lock`` beside the real
    file (symlinks followed, so every link to one file shares one lock), and
    not on the file itself: each save renames a new inode over the file, so a
    lock on the old inode would guard nothing. The sidecar is created owner-only
    and never removed: unlinking it while another process waits on it would let
    a third process lock a fresh inode and run beside the waiter.

    Readers take no lock; the atomic rename already gives them a whole file.
    ``flock`` locks belong to an open file, so a second ``exclusive_lock`` on
    the same path in the same process waits for the first, like any other
    writer, and times out.

    Polls rather than blocks, so that a stuck holder makes a command fail after
    ``timeout`` seconds instead of hanging it without a word.

    Raises:
        TimeoutError: another process held the lock for ``timeout`` seconds.
        OSError: the lock file cannot be created or opened, or the links form
            a loop.
    """
    target = real_path(path)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(target).st_mode):
            # A pipe or a device is nobody's preference file: no lock file
            # beside it (``/dev/null.lock``), and the caller's load says why.
            raise OSError(errno.EINVAL, "not a regular file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(target.name + LOCK_SUFFIX)
    # O_NOFOLLOW: the lock must be a file of ours, not wherever a planted link points.
    # Read-only is all flock needs, and lets anyone who can read a lock file
    # that another account created (sudo) still take it.
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        errno.ETIMEDOUT,
                        f"another process held the lock for {timeout:g} s",
                        str(lock),
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_POLL)
        yield lock
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
