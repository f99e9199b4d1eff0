"""Assembling the proxy from the files a person points it at.

Every file is read and checked here, before mitmproxy starts, so that a
broken preference, tracker or configuration file stops ``trackpref proxy``
with a message naming the file and the problem instead of a proxy that runs
without the person's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from ..signals.errors import SignalError
from .addon import PreferenceWatcher, TrackprefAddon
from .decision import Knowledge
from .declaration_fetch import DeclarationChecker, http_fetch
from .declarations import DeclarationCache
from .hostmap import HostMap, parse_host_map
from .learning import TrackerLearner, learned_path
from .preference_file import PreferenceFileError, load_preference, preference_path
from .protections import Protections, read_privacy_config
from .tds import Surrogate, TrackerData, read_surrogates, read_tds

__all__ = ["ProxySetupError", "build_addon"]


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
    except (PreferenceFileError, SignalError) as exc:
        raise ProxySetupError(str(exc)) from None
    learner = TrackerLearner.load(learned_file or learned_path()) if learn else None
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
