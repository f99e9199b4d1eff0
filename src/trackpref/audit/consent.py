"""The opt-out strings sites keep for the ad supply chain: US Privacy, GPP and
OneTrust's cookies, read from a page and parsed.

The GPC web crawler judges compliance from these alone (peers.md §4); here they
are one part of the evidence beside network behaviour. What the browser read is
kept raw in :class:`ConsentSnapshot`; :func:`parse_consent` turns it into
:class:`ConsentStrings`, whose :meth:`~ConsentStrings.opt_out_problems` says
which of them failed to record an opt-out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from trackpref.signals.errors import SignalError

from .gpp import GppString, decode_gpp

__all__ = [
    "CONSENT_COOKIES",
    "ConsentSnapshot",
    "ConsentStrings",
    "UspString",
    "parse_consent",
    "parse_onetrust",
    "parse_usp",
]

#: Cookie names read for consent strings (first-party, any path).
CONSENT_COOKIES = (
    "usprivacy",
    "OptanonConsent",
    "OTGPPConsent",
    "OneTrustWPCCPAGoogleOptOut",
)

_USP = re.compile(r"^1[YN-][YN-][YN-]$")


@dataclass(frozen=True, slots=True)
class UspString:
    raw: str
    notice: str
    opt_out_sale: str
    lspa: str

    @property
    def opted_out(self) -> bool | None:
        return {"Y": True, "N": False}.get(self.opt_out_sale)


def parse_usp(text: str) -> UspString:
    """``1YNN`` -> :class:`UspString`; raises :class:`SignalError` otherwise."""
    value = text.strip()
    if not _USP.match(value):
        raise SignalError(
            f"US Privacy string {value[:16]!r} does not match 1[YN-]{{3}}", field="usp"
        )
    return UspString(value, value[1], value[2], value[3])


def parse_onetrust(cookie_value: str) -> bool | None:
    """``isGpcEnabled`` from an ``OptanonConsent`` cookie: True, False or unknown."""
    for name, value in parse_qsl(unquote(cookie_value), keep_blank_values=True):
        if name == "isGpcEnabled":
            return {"1": True, "0": False}.get(value.strip())
    return None


@dataclass(frozen=True, slots=True)
class ConsentSnapshot:
    """What the page exposed, raw. Every member is ``None`` when absent."""

    usp_api: str | None = None
    usp_cookie: str | None = None
    gpp_api: str | None = None
    gpp_sid: str | None = None
    onetrust: str | None = None
    onetrust_gpp: str | None = None
    google_opt_out: str | None = None

    @property
    def empty(self) -> bool:
        return all(
            v is None
            for v in (
                self.usp_api,
                self.usp_cookie,
                self.gpp_api,
                self.onetrust,
                self.onetrust_gpp,
                self.google_opt_out,
            )
        )


@dataclass(frozen=True, slots=True)
class ConsentStrings:
    usp: UspString | None = None
    gpp: GppString | None = None
    onetrust_gpc: bool | None = None
    google_opt_out: bool | None = None
    problems: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return (
            self.usp is not None
            or self.gpp is not None
            or self.onetrust_gpc is not None
            or self.google_opt_out is not None
        )

    def opt_out_problems(self) -> list[str]:
        """Why these strings do not record an opt-out; empty when they all do.

        The rules are the GPC crawler's: USP third character ``Y``; every GPP
        section with a GPC subsection says ``Gpc`` 1; usnat/usca opt-out fields
        say "opted out"; OneTrust ``isGpcEnabled=1``; Google opt-out ``true``.
        """
        out: list[str] = []
        if self.usp is not None and self.usp.opted_out is not True:
            out.append(f"US Privacy string {self.usp.raw} does not opt out of sale (3rd char)")
        if self.gpp is not None:
            for section in self.gpp.sections:
                name = section.prefix or str(section.id)
                if section.gpc is False:
                    out.append(f"GPP {name} section has Gpc=0")
                if section.opted_out is False:
                    out.append(f"GPP {name} section says the user did not opt out")
        if self.onetrust_gpc is False:
            out.append("OneTrust OptanonConsent has isGpcEnabled=0")
        if self.google_opt_out is False:
            out.append("OneTrustWPCCPAGoogleOptOut is false")
        return out


def parse_consent(snapshot: ConsentSnapshot) -> ConsentStrings:
    """Parse what the page exposed; unparseable strings become ``problems``.

    The JS APIs win over cookies when both exist: they are what the CMP hands
    to vendors.
    """
    problems: list[str] = []
    usp: UspString | None = None
    for source, raw in (("__uspapi", snapshot.usp_api), ("usprivacy cookie", snapshot.usp_cookie)):
        if raw is None or usp is not None:
            continue
        try:
            usp = parse_usp(unquote(raw))
        except SignalError as exc:
            problems.append(f"{source}: {exc.message}")
    gpp: GppString | None = None
    for source, raw in (
        ("__gpp", snapshot.gpp_api),
        ("OTGPPConsent cookie", snapshot.onetrust_gpp),
    ):
        if raw is None or gpp is not None:
            continue
        try:
            gpp = decode_gpp(unquote(raw))
        except SignalError as exc:
            problems.append(f"{source}: {exc.message}")
    onetrust = parse_onetrust(snapshot.onetrust) if snapshot.onetrust is not None else None
    google: bool | None = None
    if snapshot.google_opt_out is not None:
        google = {"true": True, "false": False}.get(snapshot.google_opt_out.strip().lower())
    return ConsentStrings(usp, gpp, onetrust, google, tuple(problems))
