"""The person's side: their preference file, and the proxy that carries it to every app.

``load_preference`` / ``save_preference`` and :class:`UserPreference` are the
API any app on the device can use (``docs/preference-file.md``). The proxy's
decision core (``decide_request``, ``tracking_verdict``) is pure and takes a
:class:`RequestInfo`; the mitmproxy addon lives in ``trackpref.agent.addon``
and is imported only by ``trackpref proxy`` (``docs/proxy.md``).
"""

from __future__ import annotations

from .decision import Knowledge, RequestDecision, TrackingVerdict, decide_request, tracking_verdict
from .declarations import Declaration, DeclarationCache
from .preference_file import (
    FORMAT_VERSION,
    PreferenceFileError,
    UserPreference,
    backup_file,
    load_preference,
    preference_path,
    save_preference,
)
from .protections import Protections, load_privacy_config, read_privacy_config
from .referrer import trim_referrer
from .request import RequestInfo, describe_request
from .tds import TrackerAction, TrackerData, TrackerMatch, load_tds, read_surrogates, read_tds
from .url_params import DEFAULT_TRACKING_PARAMETERS, strip_tracking_parameters

__all__ = [
    "DEFAULT_TRACKING_PARAMETERS",
    "FORMAT_VERSION",
    "Declaration",
    "DeclarationCache",
    "Knowledge",
    "PreferenceFileError",
    "Protections",
    "RequestDecision",
    "RequestInfo",
    "TrackerAction",
    "TrackerData",
    "TrackerMatch",
    "TrackingVerdict",
    "UserPreference",
    "backup_file",
    "decide_request",
    "describe_request",
    "load_preference",
    "load_privacy_config",
    "load_tds",
    "preference_path",
    "read_privacy_config",
    "read_surrogates",
    "read_tds",
    "save_preference",
    "strip_tracking_parameters",
    "tracking_verdict",
    "trim_referrer",
]
