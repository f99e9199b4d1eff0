"""Which protections apply where: the person's breakage switches.

Blocking, cookie stripping, referrer trimming and parameter stripping each
break some site sooner or later; a person needs to turn one off for one site
without giving up the rest. :class:`Protections` holds those switches. It can
be read from a file in DuckDuckGo's privacy-configuration format
(``--privacy-config FILE``), so that the same file drives the proxy and DDG's
reference vectors:

* ``unprotectedTemporary``: sites where the proxy changes nothing at all
  (the request leaves as the app sent it, signals included);
* ``features.gpc.exceptions``: sites where the proxy does not *add*
  ``Sec-GPC`` (it never removes one an app sent);
* ``features.referrer.exceptions``, ``features.trackingParameters.exceptions``,
  ``features.trackingCookies3p.exceptions``: sites (as site or as
  destination) where that one protection is off;
* ``features.trackingParameters.settings.parameters``: the parameter names;
* ``features.trackingCookies3p.settings.excludedCookieDomains``: trackers
  whose cookies are kept.

A feature whose ``state`` is not ``enabled`` is off everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..signals.errors import ValidationError
from .domains import DomainSet, canonical_host
from .url_params import DEFAULT_TRACKING_PARAMETERS

__all__ = ["Protections", "load_privacy_config", "read_privacy_config"]


@dataclass(frozen=True, slots=True, eq=False)
class Protections:
    """Per-feature switches; the default has every protection on everywhere."""

    unprotected: DomainSet = field(default_factory=DomainSet)
    gpc_exceptions: DomainSet = field(default_factory=DomainSet)
    referrer_exceptions: DomainSet = field(default_factory=DomainSet)
    parameter_exceptions: DomainSet = field(default_factory=DomainSet)
    cookie_exceptions: DomainSet = field(default_factory=DomainSet)
    excluded_cookie_domains: DomainSet = field(default_factory=DomainSet)
    tracking_parameters: frozenset[str] = DEFAULT_TRACKING_PARAMETERS
    gpc: bool = True
    referrer: bool = True
    parameters: bool = True
    cookies: bool = True
    #: No per-site cookie switch at all (the usual case): lets the hot path skip them.
    no_cookie_switches: bool = field(init=False)

    def __post_init__(self) -> None:
        plain = not self.cookie_exceptions and not self.excluded_cookie_domains
        object.__setattr__(self, "no_cookie_switches", plain)


def _domains(entries: object, where: str, problems: list[tuple[str, str]]) -> list[str]:
    """``[{"domain": ..., "reason": ...}, ...]`` (or plain strings) to canonical hosts."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        problems.append((where, "must be an array of {domain, reason} objects"))
        return []
    out: list[str] = []
    for i, entry in enumerate(entries):
        raw = entry.get("domain") if isinstance(entry, dict) else entry
        host = canonical_host(raw) if isinstance(raw, str) else None
        if host is None:
            problems.append((f"{where}[{i}]", f"{raw!r} is not a domain"))
            continue
        out.append(host)
    return out


def _feature(features: dict[str, Any], name: str) -> tuple[bool, dict[str, Any]]:
    raw = features.get(name)
    if not isinstance(raw, dict):
        return True, {}
    return raw.get("state", "enabled") == "enabled", raw


def _sites(*groups: Iterable[str]) -> DomainSet:
    return DomainSet(d for group in groups for d in group)


def load_privacy_config(data: object, *, source: str = "privacy config") -> Protections:
    """Read a decoded privacy-configuration document.

    Raises:
        ValidationError: listing every member that is malformed.
    """
    if not isinstance(data, dict):
        raise ValidationError([("document", "must be one JSON object")], source=source)
    problems: list[tuple[str, str]] = []
    features = data.get("features", {})
    if not isinstance(features, dict):
        problems.append(("features", "must be an object"))
        features = {}
    unprotected = _domains(data.get("unprotectedTemporary"), "unprotectedTemporary", problems)
    gpc_on, gpc = _feature(features, "gpc")
    ref_on, ref = _feature(features, "referrer")
    par_on, par = _feature(features, "trackingParameters")
    cook_on, cook = _feature(features, "trackingCookies3p")
    settings = par.get("settings", {})
    parameters = DEFAULT_TRACKING_PARAMETERS
    if isinstance(settings, dict) and "parameters" in settings:
        listed = settings["parameters"]
        if isinstance(listed, list) and all(isinstance(p, str) for p in listed):
            parameters = frozenset(listed)
        else:
            problems.append(
                ("features.trackingParameters.settings.parameters", "must be an array of names")
            )
    cookie_settings = cook.get("settings", {})
    excluded = _domains(
        cookie_settings.get("excludedCookieDomains") if isinstance(cookie_settings, dict) else None,
        "features.trackingCookies3p.settings.excludedCookieDomains",
        problems,
    )
    result = Protections(
        unprotected=_sites(unprotected),
        gpc_exceptions=_sites(_domains(gpc.get("exceptions"), "features.gpc.exceptions", problems)),
        referrer_exceptions=_sites(
            _domains(ref.get("exceptions"), "features.referrer.exceptions", problems)
        ),
        parameter_exceptions=_sites(
            _domains(par.get("exceptions"), "features.trackingParameters.exceptions", problems)
        ),
        cookie_exceptions=_sites(
            _domains(cook.get("exceptions"), "features.trackingCookies3p.exceptions", problems)
        ),
        excluded_cookie_domains=_sites(excluded),
        tracking_parameters=parameters,
        gpc=gpc_on,
        referrer=ref_on,
        parameters=par_on,
        cookies=cook_on,
    )
    if problems:
        raise ValidationError(problems, source=source)
    return result


def read_privacy_config(path: str | Path) -> Protections:
    """Read a privacy-configuration file; errors name the file and the member."""
    p = Path(path)
    try:
        data = json.loads(p.read_bytes())
    except OSError as exc:
        raise ValidationError(
            [("file", f"cannot be read: {exc.strerror or exc}")], source=str(p)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationError([("file", f"not UTF-8 (byte {exc.start})")], source=str(p)) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [("file", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")],
            source=str(p),
        ) from None
    except RecursionError:  # json.loads recurses once per level of nesting
        raise ValidationError([("file", "not JSON: nested too deeply")], source=str(p)) from None
    except ValueError as exc:  # a number of more than 4,300 digits
        raise ValidationError([("file", f"not JSON: {str(exc)[:120]}")], source=str(p)) from None
    return load_privacy_config(data, source=str(p))
