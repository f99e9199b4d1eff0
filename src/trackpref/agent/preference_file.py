"""The person's own preference, in one file every app on the device can read.

TPE asks an agent to offer three states and to send nothing until the person
has chosen; the seeds ask for the setting to live at the level of the operating
system, so that a mail client or any other app honours the same choice as the
browser. This module is that file (``docs/preference-file.md``): a small
versioned JSON document in the platform's per-user config directory, the
:class:`UserPreference` it holds, and the one rule apps need from it,
:meth:`UserPreference.header_values` ("which ``DNT`` / ``Sec-GPC`` do I send to
this target while the person is on this site?").

Reading never repairs anything: a file that cannot be read or parsed raises
:class:`PreferenceFileError` naming the file and the problem, so that a
person's choice is never silently reset to "unset" (or worse, to a default
someone else picked).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import platformdirs

from ..signals.errors import SignalError
from ..signals.parties import normalize_host
from ..signals.preference import PreferenceState
from ..signals.tracking_exceptions import (
    MAX_GRANTS,
    WILDCARD,
    Duplet,
    ExceptionRequest,
    ExceptionSet,
    Grant,
    matches,
    subsumes,
)
from .atomic import atomic_write_bytes, exclusive_lock, real_path
from .domains import canonical_host

__all__ = [
    "FILE_NAME",
    "FORMAT_VERSION",
    "LOCK_TIMEOUT",
    "MAX_FILE_BYTES",
    "PreferenceFileError",
    "UserPreference",
    "backup_file",
    "load_preference",
    "preference_lock",
    "preference_path",
    "save_preference",
    "signal_headers_for",
]

#: The schema version this module writes, and the newest it reads.
FORMAT_VERSION: Final = 1
FILE_NAME: Final = "preference.json"
#: 4096 grants of a few hundred bytes each fit many times over; a larger file
#: is not a preference file, and reading it whole would cost every app.
MAX_FILE_BYTES: Final = 8 * 1024 * 1024
#: Seconds a change waits for another writer; a change takes milliseconds, so
#: a longer wait means a stuck writer, and failing beats hanging silently.
LOCK_TIMEOUT: Final = 30.0
_KNOWN_MEMBERS = frozenset({"version", "preference", "exceptions", "updated"})


class PreferenceFileError(Exception):
    """The preference file exists but cannot be used; nothing was changed."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def preference_path() -> Path:
    """Where the preference lives: ``<user config dir>/trackpref/preference.json``.

    On Linux that is ``$XDG_CONFIG_HOME/trackpref`` (``~/.config/trackpref``);
    platformdirs picks the platform's place elsewhere.
    """
    return Path(platformdirs.user_config_dir("trackpref", appauthor=False)) / FILE_NAME


def _canonical(value: str) -> str:
    host = canonical_host(value)
    if host is None:
        return normalize_host(value)  # raises the SignalError that names the problem
    return host


def signal_headers_for(state: PreferenceState) -> dict[str, str]:
    """The fields an agent sends for a state that applies to one request."""
    if state is PreferenceState.DO_NOT_TRACK:
        return {"DNT": "1", "Sec-GPC": "1"}
    if state is PreferenceState.ALLOW:
        return {"DNT": "0"}
    return {}


def _empty_extra() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class UserPreference:
    """The person's general choice and the exceptions they granted.

    ``updated`` is when the file was last written (seconds since the epoch).
    ``extra`` keeps members a newer writer added, so that this version writes
    them back instead of dropping them.
    """

    state: PreferenceState = PreferenceState.UNSET
    exceptions: ExceptionSet = field(default_factory=ExceptionSet)
    updated: float | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty_extra, compare=False)

    def __post_init__(self) -> None:
        try:
            state = PreferenceState(self.state)
        except ValueError:
            states = ", ".join(s.value for s in PreferenceState)
            raise SignalError(
                f"preference: {self.state!r} is not one of {states}", field="preference"
            ) from None
        object.__setattr__(self, "state", state)
        if not isinstance(self.exceptions, ExceptionSet):
            raise SignalError("exceptions: expected an ExceptionSet", field="exceptions")

    # -- the rule apps need ---------------------------------------------------------

    def covers(self, site: str | None, target: str, now: float) -> bool:
        """Does a live exception cover a request to ``target`` made on ``site``?

        ``site`` None means the top-level site is unknown (a proxy saw a
        cross-site request without ``Origin`` or ``Referer``): only web-wide
        exceptions (``["*", target]``) can cover it then.

        Raises:
            SignalError: when ``site`` or ``target`` is not a host.
        """
        grants = self.exceptions.grants
        if not grants:
            return False
        t = _canonical(target)
        s = _canonical(site) if site is not None else None
        # ExceptionSet.covers' rule (a live grant with a duplet matching the
        # pair), on hosts canonicalized once through the memo: the proxy asks
        # this for every request.
        if s is not None:
            return any(g.live(now) and any(d.matches(s, t) for d in g.duplets) for g in grants)
        return any(
            g.live(now) and any(d.web_wide and matches(d.target, t) for d in g.duplets)
            for g in grants
        )

    def effective_state(self, site: str | None, target: str, now: float) -> PreferenceState:
        """The state that applies to this one request: an exception turns it into allow."""
        if self.covers(site, target, now):
            return PreferenceState.ALLOW
        return self.state

    def header_values(self, site: str | None, target: str, now: float) -> dict[str, str]:
        """Exactly the ``DNT`` and ``Sec-GPC`` fields to send, as TPE and GPC say.

        * unset, no exception: nothing at all;
        * do-not-track: ``DNT: 1`` and ``Sec-GPC: 1``;
        * allow: ``DNT: 0`` (GPC has no "allow" value, so no ``Sec-GPC``);
        * an exception covering ``[site, target]``: ``DNT: 0``, whatever the
          general state (TPE §5: exceptions may be stored while unset).
        """
        return signal_headers_for(self.effective_state(site, target, now))

    # -- changes (each returns a new value) ----------------------------------------

    def with_state(self, state: PreferenceState | str) -> UserPreference:
        return replace(self, state=PreferenceState(state))

    def allow(
        self,
        site: str,
        targets: Iterable[str] = (),
        *,
        now: float,
        max_age: int | None = None,
        name: str | None = None,
    ) -> UserPreference:
        """Grant an exception: ``DNT: 0`` to each target while on ``site``.

        No targets means every target (``[site, "*"]``). The person is the
        authority here, so the script-domain checks of the JavaScript API do not
        apply; the duplet rules do (``["*", "*"]`` is refused). A grant with the
        same duplets as a stored one replaces it, as in ``storeTrackingException``.

        Raises:
            SignalError: naming the site, target or max-age that is malformed.
        """
        req = ExceptionRequest(
            site=site, targets=tuple(targets) or None, name=name, max_age=max_age
        )
        if req.site is None:
            raise SignalError("site: give a host, '*.domain' or '*'", field="site")
        duplets = tuple(Duplet(req.site, t) for t in (req.targets or (WILDCARD,)))
        grant = Grant(
            duplets=duplets,
            created=now,
            expires=None if req.max_age is None else now + req.max_age,
            name=req.name,
        )
        key = frozenset(duplets)
        kept = tuple(g for g in self.exceptions.grants if frozenset(g.duplets) != key)
        if len(kept) >= MAX_GRANTS:
            kept = tuple(g for g in kept if g.live(now))
        if len(kept) >= MAX_GRANTS:
            raise SignalError(f"exceptions: already {MAX_GRANTS} grants", field="exceptions")
        return replace(self, exceptions=ExceptionSet((*kept, grant)))

    def revoke(self, site: str, targets: Iterable[str] = ()) -> tuple[UserPreference, int]:
        """Remove the grants that name ``site`` (and, if given, one of ``targets``).

        ``site`` ``"*"`` names the web-wide grants; any other site the
        site-specific grants whose site scope overlaps it.

        A grant is a unit the person agreed to as a whole, so a grant that is hit
        by one duplet goes whole (the conservative direction: fewer exceptions).
        Returns the new preference and how many grants were removed.

        Raises:
            SignalError: naming the site or target that is malformed.
        """
        req = ExceptionRequest(site=site, targets=tuple(targets) or None)
        if req.site is None:
            raise SignalError("site: give a host, '*.domain' or '*'", field="site")
        scope = req.site
        wanted = req.targets

        def overlap(a: str, b: str) -> bool:
            return subsumes(a, b) or subsumes(b, a)

        def hit(d: Duplet) -> bool:
            # "*" names the web-wide grants only, as in removeTrackingException;
            # a site names the site-specific grants whose scope overlaps it.
            if scope == WILDCARD:
                if not d.web_wide:
                    return False
            elif d.web_wide or not overlap(d.site, scope):
                return False
            return wanted is None or any(overlap(d.target, t) for t in wanted)

        kept = tuple(g for g in self.exceptions.grants if not any(hit(d) for d in g.duplets))
        removed = len(self.exceptions.grants) - len(kept)
        if not removed:
            return self, 0
        return replace(self, exceptions=ExceptionSet(kept)), removed

    # -- the file format ------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The document ``docs/preference-file.md`` describes."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "version": FORMAT_VERSION,
                "preference": self.state.value,
                "exceptions": self.exceptions.to_json(),
            }
        )
        if self.updated is not None:
            out["updated"] = self.updated
        return out

    @classmethod
    def from_json(cls, data: object) -> UserPreference:
        """Read the document; raise :class:`SignalError` naming the member at fault."""
        if not isinstance(data, dict):
            raise SignalError("the file must hold one JSON object", field="document")
        if "version" not in data:
            raise SignalError("'version' is missing", field="version")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SignalError(
                f"'version' must be a positive integer, not {version!r}", field="version"
            )
        if version > FORMAT_VERSION:
            raise SignalError(
                f"'version' {version} was written by a newer trackpref; this one reads "
                f"version {FORMAT_VERSION} and will not guess",
                field="version",
            )
        raw_state = data.get("preference", PreferenceState.UNSET.value)
        try:
            state = PreferenceState(raw_state)
        except ValueError:
            states = ", ".join(repr(s.value) for s in PreferenceState)
            raise SignalError(
                f"'preference' must be one of {states}, not {raw_state!r}", field="preference"
            ) from None
        raw_exceptions = data.get("exceptions", [])
        try:
            exceptions = ExceptionSet.from_json(raw_exceptions)
        except SignalError as exc:
            raise SignalError(f"'exceptions': {exc.message}", field="exceptions") from exc
        updated = data.get("updated")
        if updated is not None and (
            isinstance(updated, bool)
            or not isinstance(updated, int | float)
            or not math.isfinite(updated)
        ):
            raise SignalError(
                f"'updated' must be seconds since the epoch, not {updated!r}", field="updated"
            )
        extra = {k: v for k, v in data.items() if k not in _KNOWN_MEMBERS}
        return cls(
            state=state,
            exceptions=exceptions,
            updated=None if updated is None else float(updated),
            extra=MappingProxyType(extra),
        )


def _resolve(path: Path | str | None) -> Path:
    return preference_path() if path is None else Path(path)


def _no_constant(name: str) -> object:
    # NaN and Infinity are not JSON (RFC 8259), and could not be written back.
    raise ValueError(f"{name} is not a JSON number")


def load_preference(path: Path | str | None = None) -> UserPreference:
    """Read the preference; a missing file is the default, unset.

    Raises:
        PreferenceFileError: the file exists but cannot be read or is not a
            valid preference document; the message names the file and says why.
    """
    p = _resolve(path)
    if p.exists() and not p.is_file() and not p.is_dir():
        # Opening a named pipe waits for a writer that may never come.
        raise PreferenceFileError(p, "not a regular file (a pipe or a device)")
    try:
        with open(p, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return UserPreference()
    except IsADirectoryError:
        raise PreferenceFileError(p, "is a directory, not a preference file") from None
    except OSError as exc:
        raise PreferenceFileError(p, f"cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise PreferenceFileError(p, f"larger than {MAX_FILE_BYTES} bytes; not a preference file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PreferenceFileError(p, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise PreferenceFileError(
            p, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise PreferenceFileError(p, f"not JSON this reader accepts: {exc}") from None
    try:
        return UserPreference.from_json(data)
    except SignalError as exc:
        raise PreferenceFileError(p, exc.message) from None


@contextlib.contextmanager
def preference_lock(
    path: Path | str | None = None, *, timeout: float = LOCK_TIMEOUT
) -> Iterator[Path]:
    """Hold the writers' lock across one load, change and save; yields the preference path.

    Without it two writers that load the same file each save only their own
    change, and the later erases the earlier (twelve ``pref allow`` started at
    once kept fewer than twelve exceptions). Readers need no lock: the atomic
    rename already shows them a whole file. The lock is ``flock`` on
    ``<file>.lock`` beside the real file (``docs/preference-file.md``), so
    writers in other languages can take part.

    :func:`save_preference` does not lock by itself, so that it can be called
    inside this block; do not nest this block for one file in one process, the
    inner one waits for the outer and times out.

    Raises:
        PreferenceFileError: another writer held the lock for ``timeout``
            seconds, or the lock file cannot be created; nothing was changed.
    """
    p = _resolve(path)
    with contextlib.ExitStack() as stack:
        # Only taking the lock is translated: an OSError from the caller's own
        # block is theirs to see as it is.
        try:
            stack.enter_context(exclusive_lock(p, timeout=timeout))
        except TimeoutError as exc:
            raise PreferenceFileError(
                p, f"is being changed by another process (waited {timeout:g} s for {exc.filename})"
            ) from None
        except OSError as exc:
            raise PreferenceFileError(
                p, f"cannot be locked for a change: {exc.strerror or exc}"
            ) from exc
        yield p


def save_preference(
    pref: UserPreference, path: Path | str | None = None, *, now: float | None = None
) -> Path:
    """Write the preference atomically (temp file, then ``os.replace``).

    A symlinked file stays a symlink: its target is replaced, and a dangling
    link's target is created. Call it inside :func:`preference_lock` when
    ``pref`` came from :func:`load_preference`, or a concurrent change is lost.

    Returns the path written. Raises :class:`PreferenceFileError` when the
    directory cannot be written; the previous file is then intact.
    """
    p = _resolve(path)
    stamped = replace(pref, updated=time.time() if now is None else now)
    data = json.dumps(stamped.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        atomic_write_bytes(p, data.encode("utf-8"))
    except OSError as exc:
        raise PreferenceFileError(p, f"cannot be written: {exc.strerror or exc}") from exc
    return p


def backup_file(path: Path | str | None = None, *, now: float | None = None) -> Path | None:
    """Move an unusable preference file aside (``preference.json.broken-<time>``).

    Used before ``--force`` overwrites it, so that what was there can still be
    recovered by hand. Returns the backup path, or None if there was no file.

    Through a symlink it is the target that moves, beside itself: the link
    stays, dangling, and the next save creates a fresh target behind it. A
    link loop has no target, so the link itself moves.
    """
    p = _resolve(path)
    try:
        real = real_path(p)
    except OSError:
        real = p
    if not (real.exists() or real.is_symlink()):
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    target = real.with_name(f"{real.name}.broken-{stamp}")
    n = 1
    while os.path.lexists(target):
        n += 1
        target = real.with_name(f"{real.name}.broken-{stamp}-{n}")
    try:
        os.replace(real, target)
    except OSError as exc:
        raise PreferenceFileError(p, f"cannot be moved aside: {exc.strerror or exc}") from exc
    return target
