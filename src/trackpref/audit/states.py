"""The signal states a site is visited in.

Every state is a fresh browser context, so identifiers minted in one visit cannot
leak into the next and values that recur across states are site constants, not
identifiers of this browser. The header values come from the signals core
(:func:`format_dnt`, :func:`format_gpc`), so the auditor sends exactly what a
conforming agent would.

The signal is set per context with request headers plus an init script, not with
Chromium's GPC feature flags: those apply to a whole browser, and one browser
serves every state of a site.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from trackpref.signals.dnt import DNT, format_dnt, navigator_do_not_track
from trackpref.signals.gpc import GPC, format_gpc

__all__ = [
    "ALL_STATES",
    "DEFAULT_STATES",
    "SignalState",
    "StateSpec",
    "parse_states",
    "spec_for",
]


class SignalState(enum.StrEnum):
    NO_SIGNAL = "no-signal"
    DNT1_GPC = "dnt1-gpc"
    DNT0 = "dnt0"
    #: Optional single-signal states that separate the DNT verdict from the GPC one.
    DNT1 = "dnt1"
    GPC = "gpc"


DEFAULT_STATES: tuple[SignalState, ...] = (
    SignalState.NO_SIGNAL,
    SignalState.DNT1_GPC,
    SignalState.DNT0,
)
ALL_STATES: tuple[SignalState, ...] = tuple(SignalState)


@dataclass(frozen=True, slots=True)
class StateSpec:
    state: SignalState
    dnt: DNT
    gpc: GPC
    #: Whether the navigator properties are overridden at all; the no-signal
    #: state keeps the browser's own (absent) values.
    override_navigator: bool

    @property
    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        dnt = format_dnt(self.dnt)
        if dnt is not None:
            out["DNT"] = dnt
        gpc = format_gpc(self.gpc)
        if gpc is not None:
            out["Sec-GPC"] = gpc
        return out

    @property
    def sends_dnt1(self) -> bool:
        return self.dnt.do_not_track

    @property
    def sends_gpc(self) -> bool:
        return self.gpc.enabled

    @property
    def init_script(self) -> str | None:
        """Defines ``navigator.doNotTrack`` and ``navigator.globalPrivacyControl``.

        Set on the prototype, as Privacy Badger does, so that frames and a site's
        own feature tests see ordinary properties.
        """
        if not self.override_navigator:
            return None
        dnt = json.dumps(navigator_do_not_track(self.dnt))
        gpc = json.dumps(self.gpc.enabled)
        return (
            "(() => { const def = (name, value) => { try { "
            "Object.defineProperty(Navigator.prototype, name, "
            "{ get: () => value, configurable: true, enumerable: true }); } catch (e) {} }; "
            f"def('doNotTrack', {dnt}); def('globalPrivacyControl', {gpc}); }})();"
        )


_SPECS = {
    SignalState.NO_SIGNAL: StateSpec(SignalState.NO_SIGNAL, DNT(), GPC(), False),
    SignalState.DNT1_GPC: StateSpec(SignalState.DNT1_GPC, DNT(choice="1"), GPC(enabled=True), True),
    SignalState.DNT0: StateSpec(SignalState.DNT0, DNT(choice="0"), GPC(), True),
    SignalState.DNT1: StateSpec(SignalState.DNT1, DNT(choice="1"), GPC(), True),
    SignalState.GPC: StateSpec(SignalState.GPC, DNT(), GPC(enabled=True), True),
}


def spec_for(state: SignalState) -> StateSpec:
    return _SPECS[state]


def parse_states(text: str) -> tuple[SignalState, ...]:
    """``"no-signal,dnt1-gpc,dnt0,gpc"`` -> states; the first three are always kept.

    Raises :class:`ValueError` naming an unknown state.
    """
    wanted: list[SignalState] = list(DEFAULT_STATES)
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            state = SignalState(name)
        except ValueError:
            known = ", ".join(s.value for s in SignalState)
            raise ValueError(f"unknown state {raw.strip()!r}; known: {known}") from None
        if state not in wanted:
            wanted.append(state)
    return tuple(wanted)
