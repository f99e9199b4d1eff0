"""May this party use this data for this purpose, and which status says so?

The rules follow the Tracking Compliance and Scope drafts and the GPC spec:

* A **first party** may collect and use data in its own context whatever the
  preference, but under do-not-track it must not share it with third parties
  (other than its service providers) and must not use it for cross-context
  purposes (targeted advertising, sale, profiling across sites).
* A **third party** under do-not-track may collect and use data only for the
  *permitted uses*: security and fraud prevention, frequency capping, financial
  logging and auditing, debugging, legal compliance, and short-term collection
  and use; and never to build a profile or personalize.
* A **service provider** counts as the party it serves.
* Under **allow** (``DNT: 0`` or a user-granted exception) every purpose the
  party declares is open. Under **unset** the law of the place and the site's
  own policy decide; by default the same as allow, because absence is not a
  refusal (TPE §4), unless GPC semantics apply, which they do not when unset.

A :class:`Decision` is what an adapter attaches to a request and what the
ledger gate and the dashboard explain: every verdict carries its reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import SignalError
from .preference import Preference, PreferenceState, Source
from .tracking_status import TSV

__all__ = [
    "CROSS_CONTEXT_USES",
    "PERMITTED_USES",
    "Decision",
    "PartyRole",
    "Purpose",
    "Verdict",
    "decide",
]


class PartyRole(enum.StrEnum):
    FIRST_PARTY = "first-party"
    THIRD_PARTY = "third-party"
    #: A processor acting for a first party; treated as that first party.
    SERVICE_PROVIDER = "service-provider"


class Purpose(enum.StrEnum):
    """Purposes a party may declare. The first six are TCS's permitted uses."""

    SECURITY = "security"  # security and fraud prevention
    FREQUENCY_CAPPING = "frequency-capping"
    FINANCIAL_LOGGING = "financial-logging"  # financial logging and auditing
    DEBUGGING = "debugging"
    LEGAL_COMPLIANCE = "legal-compliance"
    SHORT_TERM = "short-term"  # short-term collection and use, no profile
    # First-party uses within the context where the data arose.
    CORE_SERVICE = "core-service"  # providing what the person asked for
    FIRST_PARTY_ANALYTICS = "first-party-analytics"
    CONTEXTUAL_ADVERTISING = "contextual-advertising"
    # Uses that cross contexts; what DNT:1 and GPC refuse.
    MEASUREMENT = "measurement"  # audience measurement by or for a third party
    PERSONALIZATION = "personalization"
    TARGETED_ADVERTISING = "targeted-advertising"
    PROFILING = "profiling"
    SHARING = "sharing"  # sharing or sale to another party
    AI_TRAINING = "ai-training"

    @property
    def label(self) -> str:
        """A phrase for people: transparency pages show this, not the code."""
        return _LABELS[self]


_LABELS = {
    Purpose.SECURITY: "Security and fraud prevention",
    Purpose.FREQUENCY_CAPPING: "Frequency capping",
    Purpose.FINANCIAL_LOGGING: "Financial logging and auditing",
    Purpose.DEBUGGING: "Debugging",
    Purpose.LEGAL_COMPLIANCE: "Legal compliance",
    Purpose.SHORT_TERM: "Short-term collection and use",
    Purpose.CORE_SERVICE: "Providing what you asked for",
    Purpose.FIRST_PARTY_ANALYTICS: "Measuring this site, by this site",
    Purpose.CONTEXTUAL_ADVERTISING: "Ads based on this page only",
    Purpose.MEASUREMENT: "Audience measurement by other parties",
    Purpose.PERSONALIZATION: "Personalization across sites",
    Purpose.TARGETED_ADVERTISING: "Targeted advertising",
    Purpose.PROFILING: "Profiling",
    Purpose.SHARING: "Sharing or selling your data",
    Purpose.AI_TRAINING: "Training AI models",
}


#: TCS's permitted uses: open to any party under do-not-track, within their limits.
PERMITTED_USES = frozenset(
    {
        Purpose.SECURITY,
        Purpose.FREQUENCY_CAPPING,
        Purpose.FINANCIAL_LOGGING,
        Purpose.DEBUGGING,
        Purpose.LEGAL_COMPLIANCE,
        Purpose.SHORT_TERM,
    }
)

#: Uses confined to the context the data came from (first party only).
FIRST_PARTY_USES = frozenset(
    {Purpose.CORE_SERVICE, Purpose.FIRST_PARTY_ANALYTICS, Purpose.CONTEXTUAL_ADVERTISING}
)

#: Uses that carry data across contexts or parties.
CROSS_CONTEXT_USES = frozenset(
    {
        Purpose.MEASUREMENT,
        Purpose.PERSONALIZATION,
        Purpose.TARGETED_ADVERTISING,
        Purpose.PROFILING,
        Purpose.SHARING,
        Purpose.AI_TRAINING,
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one preference and one party role."""

    preference: Preference
    role: PartyRole = PartyRole.FIRST_PARTY

    def __post_init__(self) -> None:
        # A role passed as a plain string would fail every ``is`` comparison below
        # and silently be judged as a third party; coerce it, or name the fault.
        object.__setattr__(self, "role", _party_role(self.role))

    @property
    def effective_role(self) -> PartyRole:
        return PartyRole.FIRST_PARTY if self.role is PartyRole.SERVICE_PROVIDER else self.role

    def may(self, purpose: Purpose | str) -> Verdict:
        """May data from this request be used for ``purpose``?"""
        try:
            p = Purpose(purpose)
        except ValueError:
            return Verdict(False, f"unknown purpose {purpose!r}: refused until it is declared")
        pref = self.preference
        role = self.effective_role
        if pref.state is PreferenceState.ALLOW:
            how = "a user-granted exception" if pref.source is Source.EXCEPTION else "DNT: 0"
            return Verdict(True, f"{p}: allowed by {how}")
        if pref.state is PreferenceState.UNSET:
            return Verdict(True, f"{p}: no preference expressed; the site's policy applies")
        signal = " and ".join(str(s).upper() for s in pref.sources)
        if p in PERMITTED_USES:
            return Verdict(True, f"{p}: a permitted use under {signal}, within its limits")
        if p in FIRST_PARTY_USES:
            if role is PartyRole.FIRST_PARTY:
                return Verdict(True, f"{p}: a first party's use in its own context under {signal}")
            return Verdict(False, f"{p}: a third party may not use it under {signal}")
        return Verdict(False, f"{p}: crosses contexts; refused under {signal}")

    @property
    def may_track(self) -> bool:
        """May identifiers be kept that link this person across contexts?"""
        return self.preference.state is not PreferenceState.DO_NOT_TRACK

    @property
    def may_share(self) -> bool:
        """May data be shared with or sold to third parties?"""
        return self.may(Purpose.SHARING).allowed

    @property
    def may_set_tracking_cookies(self) -> bool:
        return self.may_track

    @property
    def tracking_status(self) -> str:
        """The TSV that truthfully describes what this party does here.

        ``N`` when do-not-track is honored; ``C`` when a consent overrode a
        general opt-out; otherwise ``T`` (the party may track).
        """
        pref = self.preference
        if pref.state is PreferenceState.DO_NOT_TRACK:
            return TSV.NOT_TRACKING.value
        if pref.by_consent:
            return TSV.CONSENT.value
        return TSV.TRACKING.value

    def explain(self) -> dict[str, object]:
        """Which rule and which signal, for dashboards and audit logs."""
        return {
            "role": self.role.value,
            "preference": self.preference.state.value,
            "source": self.preference.source.value,
            "tracking_status": self.tracking_status,
            "uses": {p.value: self.may(p).reason for p in Purpose},
            "conflicts": [c.explain() for c in self.preference.conflicts],
        }


def decide(preference: Preference, role: PartyRole | str = PartyRole.FIRST_PARTY) -> Decision:
    return Decision(preference, _party_role(role))


def _party_role(value: PartyRole | str) -> PartyRole:
    try:
        return PartyRole(value)
    except ValueError:
        choices = ", ".join(r.value for r in PartyRole)
        raise SignalError(f"party role {value!r} is not one of {choices}", field="role") from None
