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
    "TrackerLearner",
    "identifier_evidence",
    "learned_path",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD: Final = 3
LEARNED_FILE_NAME: Final = "learned-trackers.json"
_VERSION: Final = 1
_MAX_QUERY_CHARS: Final = 4096


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
    def load(cls, path: Path, *, threshold: int = DEFAULT_THRESHOLD) -> TrackerLearner:
        """Read the learned state; an unreadable file is moved aside and learning restarts.

        The state is the proxy's own cache, not the person's choice, so a broken
        file is not fatal; it is kept (``.broken-<time>``) for inspection.
        """
        try:
            data = json.loads(path.read_bytes())
            sightings = _parse(data)
        except FileNotFoundError:
            return cls(path, threshold=threshold)
        except (OSError, ValueError, RecursionError) as exc:
            aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
            try:
                os.replace(path, aside)
                log.warning("%s: %s; moved to %s, learning restarts", path, exc, aside)
            except OSError:
                log.warning("%s: %s; learning restarts in memory", path, exc)
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
