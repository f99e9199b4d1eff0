"""Assembling the proxy from the files a person points it at.

Every file is read and checked here, before mitmproxy starts, so that a
broken preference, tracker or configuration file stops ``trackpref proxy``
with a message naming the file and the problem instead of a proxy that runs
without the person's choice.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from ..signals.errors import SignalError
from .addon import PreferenceWatcher, TrackprefAddon
from .decision import Knowledge
from .declaration_fetch import DeclarationChecker, http_fetch
from .declarations import DeclarationCache
from .hostmap import HostMap, parse_host_map
from .learning import LearnedStateError, TrackerLearner, learned_path
from .preference_file import PreferenceFileError, load_preference, preference_path
from .protections import Protections, read_privacy_config
from .tds import Surrogate, TrackerData, read_surrogates, read_tds

__all__ = ["DEFAULT_CONFDIR", "ProxySetupError", "build_addon", "check_confdir"]

#: mitmproxy's own default (``mitmproxy.options.CONF_DIR``), named here so that
#: checking it does not import mitmproxy.
DEFAULT_CONFDIR = "~/.mitmproxy"
# The files mitmproxy's certificate store reads, and writes when they are missing.
_CA_FILE = "mitmproxy-ca.pem"
_DHPARAM_FILE = "mitmproxy-dhparam.pem"


class ProxySetupError(Exception):
    """A file the proxy needs is missing or broken; the message names it."""


def _dialer(host_map: HostMap) -> Callable[[str, int], tuple[str, int]]:
    def dial(host: str, port: int) -> tuple[str, int]:
        return host_map.resolve(host) or host, port

    return dial


def build_addon(
    *,
    preference_file: Path | None = None,
    trackers: Path | None = None,
    surrogates: Path | None = None,
    privacy_config: Path | None = None,
    learn: bool = True,
    learned_file: Path | None = None,
    declarations: bool = True,
    mail_pixels: bool = True,
    map_host: list[str] | None = None,
    on_running: Callable[[list[tuple[str, int]]], None] | None = None,
) -> TrackprefAddon:
    """The addon, with its knowledge loaded and its background helpers made (not started).

    Raises:
        ProxySetupError: naming the file or option that is wrong.
    """
    path = preference_file or preference_path()
    try:
        initial = load_preference(path)
        host_map = parse_host_map(map_host or [])
        tds = read_tds(trackers) if trackers is not None else TrackerData()
        replacement: Mapping[str, Surrogate] = read_surrogates(surrogates) if surrogates else {}
        protections = read_privacy_config(privacy_config) if privacy_config else Protections()
        if not learn:
            learner = None
        elif learned_file is None:  # trackpref's own cache: whatever cannot be read is moved aside
            learner = TrackerLearner.load(learned_path(), own=True)
        else:
            learner = TrackerLearner.load(learned_file)
    except (PreferenceFileError, SignalError, LearnedStateError) as exc:
        raise ProxySetupError(str(exc)) from None
    cache = DeclarationCache() if declarations else None
    checker = None
    if cache is not None:
        checker = DeclarationChecker(cache, partial(http_fetch, dial=_dialer(host_map)))
    pixel = None
    if mail_pixels:
        from .mail_pixels import mail_pixel_reason

        pixel = mail_pixel_reason
    knowledge = Knowledge(
        trackers=tds,
        protections=protections,
        surrogates=replacement,
        learner=learner,
        declarations=cache,
        mail_pixel=pixel,
    )
    return TrackprefAddon(
        PreferenceWatcher(path, initial),
        knowledge,
        host_map=host_map,
        checker=checker,
        on_running=on_running,
    )


def check_confdir(confdir: Path | None) -> Path:
    """Make sure mitmproxy can keep its CA in ``confdir``, before mitmproxy starts.

    mitmproxy creates the folder and writes its CA there on the first start
    (and its DH parameters whenever they are missing) from inside an addon,
    where a failure is a logged traceback after the proxy announced itself.
    Checking with the same operations (create the folder, create a file in it)
    gives a one-line reason instead, and holds for root too, for whom
    permission bits alone prove nothing. Returns the folder, ``~`` expanded.

    Raises:
        ProxySetupError: naming the folder and what is wrong with it.
    """
    shown = str(confdir) if confdir is not None else DEFAULT_CONFDIR
    folder = Path(os.path.expanduser(shown))
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise ProxySetupError(f"--confdir {shown}: exists and is not a directory")
        blocker = next((p for p in folder.parents if p.exists() or p.is_symlink()), None)
        if blocker is not None and not blocker.is_dir():
            raise ProxySetupError(
                f"--confdir {shown}: cannot be created, {blocker} is not a directory"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProxySetupError(
                f"--confdir {shown}: cannot be created ({exc.strerror or exc})"
            ) from None
    ca = folder / _CA_FILE
    if ca.exists():
        if not ca.is_file():
            raise ProxySetupError(f"--confdir {shown}: {ca} is not a regular file")
        try:
            ca.open("rb").close()
        except OSError as exc:
            raise ProxySetupError(
                f"--confdir {shown}: {ca} cannot be read ({exc.strerror or exc})"
            ) from None
        if (folder / _DHPARAM_FILE).is_file():
            return folder  # nothing left for mitmproxy to write
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".trackpref-write-check-")
    except OSError as exc:
        raise ProxySetupError(
            f"--confdir {shown}: mitmproxy cannot write its CA certificate there"
            f" ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return folder
