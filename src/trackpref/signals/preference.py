"""One three-state preference, where it came from, and how conflicts resolve.

A request can carry several signals at once (``DNT: 0`` and ``Sec-GPC: 1``, or
``DNT: 1`` plus a consent record the person granted this site). The person has
one preference, so a server must pick; this module picks by an explicit,
configurable :class:`Precedence` and records every signal it overruled as a
:class:`Conflict`. Nothing is ever dropped silently: the losing side is what a
regulator asks about.

The default precedence (``DESIGN.md``): an explicit user-granted exception for
this site and target wins over a general ``DNT: 1`` / ``Sec-GPC: 1`` (TPE makes
the agent send ``DNT: 0`` for it, and US opt-out rules let a person opt back in
for one business); then do-not-track wins over ``DNT: 0``; then the site default.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from .dnt import DNT, parse_dnt
from .errors import SignalError
from .gpc import GPC, parse_gpc

__all__ = [
    "DEFAULT_PRECEDENCE",
    "STRICT_PRECEDENCE",
    "Claim",
    "Conflict",
    "Precedence",
    "Preference",
    "PreferenceState",
    "Source",
    "resolve",
    "resolve_headers",
]


class PreferenceState(enum.StrEnum):
    """The three states TPE §3 asks an agent to offer."""

    UNSET = "unset"
    DO_NOT_TRACK = "do-not-track"
    ALLOW = "allow"


class Source(enum.StrEnum):
    """Where a claim about the preference came from."""

    DNT = "dnt"
    GPC = "gpc"
    EXCEPTION = "exception"
    SITE_DEFAULT = "site-default"


class Claim(enum.StrEnum):
    """The kinds of claim a precedence orders."""

    EXCEPTION = "exception"  # a user-granted exception covers this site and target
    DO_NOT_TRACK = "do-not-track"  # DNT: 1 or Sec-GPC: 1
    ALLOW = "allow"  # DNT: 0


_CLAIM_STATE = {
    Claim.EXCEPTION: PreferenceState.ALLOW,
    Claim.DO_NOT_TRACK: PreferenceState.DO_NOT_TRACK,
    Claim.ALLOW: PreferenceState.ALLOW,
}


@dataclass(frozen=True, slots=True)
class Precedence:
    """Which claim wins when signals disagree, and what silence means.

    ``order`` lists the three claims, strongest first. ``default`` is the state
    when no signal is present; it is ``UNSET`` unless a site's legal regime says
    otherwise, and it is recorded with :attr:`Source.SITE_DEFAULT`.
    """

    order: tuple[Claim, Claim, Claim] = (Claim.EXCEPTION, Claim.DO_NOT_TRACK, Claim.ALLOW)
    default: PreferenceState = PreferenceState.UNSET

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(Claim):
            raise SignalError(
                "precedence order must list exception, do-not-track and allow once each",
                field="precedence",
            )

    @classmethod
    def parse(cls, text: str, default: str = "unset") -> Precedence:
        """Read ``"exception > do-not-track > allow"`` (a policy file's form)."""
        expected = "a '>'-separated order of exception, do-not-track and allow, each once"
        try:
            parts = tuple(Claim(p.strip()) for p in text.split(">"))
        except ValueError:
            raise SignalError(
                f"precedence {text!r}: expected {expected}", field="precedence"
            ) from None
        # The default is checked on its own so that the message blames the right
        # part of a policy file: a bad default is not a bad order.
        try:
            state = PreferenceState(default)
        except ValueError:
            states = ", ".join(s.value for s in PreferenceState)
            raise SignalError(
                f"precedence default {default!r} is not one of {states}", field="precedence"
            ) from None
        if len(parts) != 3 or len(set(parts)) != 3:
            raise SignalError(f"precedence {text!r}: expected {expected}", field="precedence")
        return cls(order=(parts[0], parts[1], parts[2]), default=state)

    def __str__(self) -> str:
        return " > ".join(self.order)


DEFAULT_PRECEDENCE = Precedence()
#: A general do-not-track always wins, even over a stored exception.
STRICT_PRECEDENCE = Precedence(order=(Claim.DO_NOT_TRACK, Claim.EXCEPTION, Claim.ALLOW))


@dataclass(frozen=True, slots=True)
class Conflict:
    """A signal that disagreed with the winner: both sides and the rule applied."""

    winner: Source
    winner_state: PreferenceState
    loser: Source
    loser_state: PreferenceState
    rule: str

    def explain(self) -> str:
        return (
            f"{self.winner} ({self.winner_state}) overrode {self.loser} "
            f"({self.loser_state}) by the rule {self.rule}"
        )


@dataclass(frozen=True, slots=True)
class Preference:
    """The person's resolved preference for one request.

    ``source`` is the signal that decided; ``sources`` every signal that agreed
    with it. ``dnt`` and ``gpc`` keep the raw parse, so nothing the agent said is
    lost, and ``conflicts`` holds what was overruled.
    """

    state: PreferenceState = PreferenceState.UNSET
    source: Source = Source.SITE_DEFAULT
    sources: tuple[Source, ...] = (Source.SITE_DEFAULT,)
    dnt: DNT = field(default_factory=DNT)
    gpc: GPC = field(default_factory=GPC)
    exception: bool = False
    conflicts: tuple[Conflict, ...] = ()

    @property
    def do_not_track(self) -> bool:
        return self.state is PreferenceState.DO_NOT_TRACK

    @property
    def allows_tracking(self) -> bool:
        return self.state is PreferenceState.ALLOW

    @property
    def is_unset(self) -> bool:
        return self.state is PreferenceState.UNSET

    @property
    def by_consent(self) -> bool:
        """Tracking is allowed only because a consent overrode a general opt-out.

        This is the case TPE marks with ``C`` and the EFF policy with ``Tk: C``.
        """
        return (
            self.state is PreferenceState.ALLOW
            and self.source is Source.EXCEPTION
            and any(c.loser_state is PreferenceState.DO_NOT_TRACK for c in self.conflicts)
        )

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``GET /api/preference`` (``DESIGN.md``), plus detail."""
        return {
            "preference": self.state.value,
            "source": self.source.value,
            "sources": [s.value for s in self.sources],
            "dnt": self.dnt.value,
            "dnt_problem": self.dnt.problem,
            "gpc": self.gpc.enabled,
            "gpc_problem": self.gpc.problem,
            "exception": self.exception,
            "conflicts": [
                {
                    "winner": c.winner.value,
                    "winner_state": c.winner_state.value,
                    "loser": c.loser.value,
                    "loser_state": c.loser_state.value,
                    "rule": c.rule,
                }
                for c in self.conflicts
            ],
        }


def resolve(
    dnt: DNT,
    gpc: GPC,
    *,
    exception: bool = False,
    precedence: Precedence = DEFAULT_PRECEDENCE,
) -> Preference:
    """Resolve one request's signals into a :class:`Preference`.

    ``exception`` is true when a user-granted exception (or a consent record
    made through the exception API) covers this site and target.
    """
    claims: list[tuple[Claim, Source]] = []
    if exception:
        claims.append((Claim.EXCEPTION, Source.EXCEPTION))
    if dnt.choice == "1":
        claims.append((Claim.DO_NOT_TRACK, Source.DNT))
    if gpc.enabled:
        claims.append((Claim.DO_NOT_TRACK, Source.GPC))
    if dnt.choice == "0":
        claims.append((Claim.ALLOW, Source.DNT))
    if not claims:
        return Preference(
            state=precedence.default,
            source=Source.SITE_DEFAULT,
            sources=(Source.SITE_DEFAULT,),
            dnt=dnt,
            gpc=gpc,
            exception=False,
        )
    rank = {claim: i for i, claim in enumerate(precedence.order)}
    winning_claim = min((c for c, _ in claims), key=rank.__getitem__)
    state = _CLAIM_STATE[winning_claim]
    # The deciding claim's signals come first; then every other signal that asks
    # for the same state (DNT: 0 next to the exception that made the agent send
    # it), so that ``sources`` holds every signal that agreed, as documented.
    winners = tuple(s for c, s in claims if c is winning_claim) + tuple(
        s for c, s in claims if c is not winning_claim and _CLAIM_STATE[c] is state
    )
    rule = str(precedence)
    conflicts = tuple(
        Conflict(winners[0], state, s, _CLAIM_STATE[c], rule)
        for c, s in claims
        if _CLAIM_STATE[c] is not state
    )
    return Preference(
        state=state,
        source=winners[0],
        sources=winners,
        dnt=dnt,
        gpc=gpc,
        exception=exception,
        conflicts=conflicts,
    )


def resolve_headers(
    dnt: str | Iterable[str] | None,
    gpc: str | Iterable[str] | None,
    *,
    exception: bool = False,
    precedence: Precedence = DEFAULT_PRECEDENCE,
) -> Preference:
    """Parse raw header values and resolve them; the adapters' one-liner."""
    return resolve(parse_dnt(dnt), parse_gpc(gpc), exception=exception, precedence=precedence)
