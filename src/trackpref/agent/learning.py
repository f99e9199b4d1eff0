"""Learning trackers from what they do, as Privacy Badger does, without a list.

A third party that sets or receives an identifier (a cookie or URL value
random enough to single out a browser) on three distinct first-party sites is
tracking people across sites. The identifier test is the auditor's
(``trackpref.audit.identifiers.is_identifier_like``), so that the proxy and the
auditor call the same thing a tracker.

The learned state records which sites the person visited (Privacy Badger
turned local learning off by default for that reason): it stays in the
person's own data directory, holds at most ``max_sites`` sites per tracker,
and ``trackpref proxy --no-learn`` turns learning off.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import platformdirs

from ..audit.identifiers import is_identifier_like, split_cookie_header, split_set_cookie
from .atomic import atomic_write_bytes

__all__ = [
    "DEFAULT_THRESHOLD",
    "LEARNED_FILE_NAME",
    "LearnedStateError",
    "TrackerLearner",
    "identifier_evidence",
    "learned_path",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD: Final = 3
LEARNED_FILE_NAME: Final = "learned-trackers.json"
_VERSION: Final = 1
_MAX_QUERY_CHARS: Final = 4096
#: The fields :meth:`TrackerLearner.to_json` writes: how a file is known to be ours.
_FIELDS: Final = frozenset({"version", "threshold", "trackers"})
# Far above any real state (16 sites a tracker), far below a disk image named by mistake.
_MAX_FILE_BYTES: Final = 256 * 1024 * 1024


class LearnedStateError(Exception):
    """Something that is not learned state sits at the learned-state path; the message
    names the path and what it is. It is left exactly as it was."""


def learned_path() -> Path:
    """``<user data dir>/trackpref/learned-trackers.json``."""
    return Path(platformdirs.user_data_dir("trackpref", appauthor=False)) / LEARNED_FILE_NAME


def identifier_evidence(
    cookies: Iterable[str] = (),
    set_cookies: Iterable[str] = (),
    query: str = "",
    *,
    now: float | None = None,
) -> str | None:
    """Why this exchange carries an identifier (``"cookie uid"``), or None.

    ``cookies`` are ``Cookie`` header values sent, ``set_cookies`` the
    ``Set-Cookie`` values received, ``query`` the request's query string.
    """
    for header in cookies:
        for name, value in split_cookie_header(header):
            if is_identifier_like(value, now=now):
                return f"cookie {name} sent"
    for header in set_cookies:
        parsed = split_set_cookie(header)
        if parsed is not None and is_identifier_like(parsed[1], now=now):
            return f"cookie {parsed[0]} set"
    if query:
        for name, value in parse_qsl(query[:_MAX_QUERY_CHARS], keep_blank_values=False):
            if is_identifier_like(value, now=now):
                return f"query parameter {name}"
    return None


class TrackerLearner:
    """Sightings of (third-party site, first-party site) pairs, and what they add up to.

    Thread-safe. :attr:`learned` is an immutable snapshot the request path
    reads without locking; it is replaced whenever a tracker crosses the
    threshold.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        max_sites: int = 16,
        sightings: dict[str, set[str]] | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.path = path
        self.threshold = threshold
        self.max_sites = max(max_sites, threshold)
        self._sightings: dict[str, set[str]] = sightings or {}
        self._lock = threading.Lock()
        self._dirty = False
        self.learned: frozenset[str] = frozenset(
            t for t, sites in self._sightings.items() if len(sites) >= threshold
        )

    @classmethod
    def load(
        cls, path: Path, *, threshold: int = DEFAULT_THRESHOLD, own: bool = False
    ) -> TrackerLearner:
        """Read the learned state; a damaged state file is moved aside and learning restarts.

        The state is the proxy's own cache, not the person's choice, so a file
        of ours that cannot be used is not fatal; it is kept
        (``.broken-<time>``) for inspection. Only a file that is plainly ours
        is moved: a JSON object with our fields or, with ``own`` (the path is
        trackpref's own cache location, not one the person named), any regular
        file that does not parse, such as one a crash or a full disk cut
        short. Anything else at the path, a folder, a pipe, or a file of
        another kind that ``--learned-file`` named by mistake, belongs to
        someone else and must stay where it is, so it stops the proxy instead.
        An empty file holds nothing to lose and is taken as an empty state.

        Raises:
            LearnedStateError: the path holds something that is not learned
                state, or cannot be read; nothing was moved or changed.
        """
        try:
            raw = _read_regular(path)
        except FileNotFoundError:
            return cls(path, threshold=threshold)
        if not raw.strip():
            return cls(path, threshold=threshold)
        try:
            data = json.loads(raw)
        except RecursionError:
            problem = "JSON nested too deeply"
        except ValueError as exc:  # UnicodeDecodeError included
            problem = f"not JSON: {exc}"
        else:
            problem = "" if _looks_ours(data) else "JSON, but not the learned-trackers fields"
        if problem:
            if not own:
                raise _not_ours(path, problem)
            _move_aside(path, ValueError(problem))
            return cls(path, threshold=threshold)
        try:
            sightings = _parse(data)
        except ValueError as exc:
            _move_aside(path, exc)
            return cls(path, threshold=threshold)
        return cls(path, threshold=threshold, sightings=sightings)

    def sites(self, tracker: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._sightings.get(tracker, ()))

    def observe(self, tracker: str, site: str) -> bool:
        """Record that ``tracker`` handled an identifier on ``site`` (both
        registrable domains). True when this made it a learned tracker."""
        if tracker == site:
            return False
        with self._lock:
            seen = self._sightings.setdefault(tracker, set())
            if site in seen or len(seen) >= self.max_sites:
                return False
            seen.add(site)
            self._dirty = True
            if len(seen) == self.threshold:
                self.learned = self.learned | {tracker}
                return True
            return False

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            trackers = {t: sorted(s) for t, s in sorted(self._sightings.items())}
        return {"version": _VERSION, "threshold": self.threshold, "trackers": trackers}

    def save(self, *, force: bool = False) -> bool:
        """Write the state if it changed (atomically). True when written."""
        if self.path is None or not (self._dirty or force):
            return False
        data = json.dumps(self.to_json(), indent=1, sort_keys=True).encode("utf-8")
        atomic_write_bytes(self.path, data)
        self._dirty = False
        return True


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _read_regular(path: Path) -> bytes:
    """The bytes of the regular file at ``path``, without ever blocking on a pipe or device.

    Opening a FIFO for reading waits for a writer, forever if none comes, so
    the type is checked before opening and again on the open descriptor (the
    path may have changed in between).

    Raises:
        FileNotFoundError: nothing is there (a dangling symlink included).
        LearnedStateError: it is not a regular file, is too large, or cannot be read.
    """

    def refuse(mode: int) -> LearnedStateError:
        return LearnedStateError(
            f"{path}: is {_kind(mode)}, not a learned-trackers file; it was left as it is"
            " (choose another --learned-file)"
        )

    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise refuse(before.st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise LearnedStateError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):
            raise refuse(opened.st_mode)
        if opened.st_size > _MAX_FILE_BYTES:
            raise _not_ours(path, f"{opened.st_size} bytes, far larger than learned state")
        try:
            return handle.read(_MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise LearnedStateError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _not_ours(path: Path, why: str) -> LearnedStateError:
    return LearnedStateError(
        f"{path}: not a learned-trackers file ({why}); it was left as it is"
        " (choose another --learned-file, or remove the file if it is yours to remove)"
    )


def _looks_ours(data: object) -> bool:
    """Whether ``data`` is what :meth:`TrackerLearner.to_json` writes, however damaged inside."""
    return isinstance(data, dict) and "version" in data and set(data) <= _FIELDS


def _aside_path(path: Path) -> Path:
    """A free ``<name>.broken-<time>[-n]`` beside ``path``: two breakages within one
    second must not have the second rename erase the first copy."""
    stem = f"{path.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}"
    aside = path.with_name(stem)
    number = 1
    while os.path.lexists(aside):
        number += 1
        aside = path.with_name(f"{stem}-{number}")
    return aside


def _move_aside(path: Path, problem: Exception) -> None:
    aside = _aside_path(path)
    try:
        os.rename(path, aside)
        log.warning("%s: %s; moved to %s, learning restarts", path, problem, aside)
    except OSError:
        log.warning("%s: %s; learning restarts in memory", path, problem)


def _parse(data: object) -> dict[str, set[str]]:
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise ValueError(f"not a learned-trackers file of version {_VERSION}")
    trackers = data.get("trackers")
    if not isinstance(trackers, dict):
        raise ValueError("'trackers' must be an object of tracker -> [sites]")
    out: dict[str, set[str]] = {}
    for tracker, sites in trackers.items():
        if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
            raise ValueError(f"trackers[{tracker!r}] must be an array of sites")
        out[str(tracker)] = set(sites)
    return out
