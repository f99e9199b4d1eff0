"""What a site declares about tracking, judged by the core's checkers.

Three well-known resources make claims an audit can hold a site to: the TPE
tracking status resource (``/.well-known/dnt/``), the GPC support resource
(``/.well-known/gpc.json``) and the EFF policy (``/.well-known/dnt-policy.txt``).
This module turns fetched responses (:class:`Fetched`, filled by
:mod:`.fetch`) into verdicts with reasons; it does no I/O and re-implements no
rule: the TSR, ``gpc.json`` and policy rules live in ``trackpref.signals``.

"Absent" and "broken" are kept apart. A 404 means the site makes no claim; a
200 with a bad body is a claim made badly, and only that counts against
``declarations_valid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trackpref.signals.dnt_policy import check_dnt_policy, dnt_policy_location_problems
from trackpref.signals.gpc_support import parse_gpc_json
from trackpref.signals.tsr import (
    TrackingStatusResource,
    check_tsr_redirect,
    check_tsr_response,
    effective_tracking,
)

from .failures import Failure, FailureKind
from .site_parties import host_of
from .site_parties import site_key as key_of

__all__ = [
    "DNTPolicyDeclaration",
    "Fetched",
    "GPCDeclaration",
    "Hop",
    "OriginDeclarations",
    "SiteDeclarations",
    "TSRDeclaration",
    "evaluate_dnt_policy",
    "evaluate_gpc_json",
    "evaluate_tsr",
]

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Hop:
    url: str
    status: int
    headers: Headers


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch of a well-known resource, redirects followed."""

    url: str
    final_url: str
    status: int | None = None
    headers: Headers = ()
    body: bytes = b""
    redirects: tuple[Hop, ...] = ()
    failure: Failure | None = None
    #: The body was longer than the limit; ``body`` holds only the limit.
    too_large: bool = False
    limit: int = 0

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for n, v in self.headers if n.lower() == lname), None)

    @property
    def found(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _base_problems(fetched: Fetched, what: str) -> list[str]:
    if fetched.too_large:
        return [f"{what}: larger than {fetched.limit} bytes; not read (a real one is tiny)"]
    return []


def _presence(fetched: Fetched) -> bool | None:
    """True when the resource answered 2xx, False on another status, None when
    the fetch failed in a way that says nothing (timeout, TLS, loop)."""
    if fetched.too_large:
        return True
    if fetched.failure is not None:
        return None
    return fetched.found


@dataclass(frozen=True, slots=True)
class TSRDeclaration:
    url: str
    present: bool | None
    status: int | None = None
    valid: bool | None = None
    tracking: str | None = None
    #: ``tracking`` as a recipient must read it (an unknown extension is ``P``).
    effective: str | None = None
    #: The status the TSR gives a request carrying ``DNT: 1`` (it may vary).
    effective_with_dnt: str | None = None
    same_party: tuple[str, ...] = ()
    policy: str | None = None
    config: str | None = None
    depends_on_dnt: bool | None = None
    problems: tuple[str, ...] = ()
    failure: Failure | None = None


def _effective(tsr: TrackingStatusResource | None) -> str | None:
    if tsr is None:
        return None
    try:
        return effective_tracking(tsr)
    except ValueError:
        return None


def evaluate_tsr(
    fetched: Fetched,
    *,
    request_specific: bool = False,
    with_dnt: Fetched | None = None,
) -> TSRDeclaration:
    """Judge a fetched TSR. ``with_dnt`` is the same resource fetched with
    ``DNT: 1``: if it differs, the status depends on DNT, and the caching rule
    for such resources applies."""
    present = _presence(fetched)
    if not present:
        return TSRDeclaration(fetched.url, present, fetched.status, failure=fetched.failure)
    problems = _base_problems(fetched, "TSR")
    for hop in fetched.redirects:
        problems.extend(
            f"redirect {hop.url}: {p}" for p in check_tsr_redirect(hop.status, hop.headers)
        )
    if fetched.too_large:
        return TSRDeclaration(fetched.url, True, fetched.status, False, problems=tuple(problems))
    depends: bool | None = None
    dnt_check = None
    if with_dnt is not None and with_dnt.failure is None and not with_dnt.too_large:
        depends = (with_dnt.status, with_dnt.body) != (fetched.status, fetched.body)
        if depends and with_dnt.status is not None:
            dnt_check = check_tsr_response(
                with_dnt.status,
                with_dnt.headers,
                with_dnt.body,
                request_specific=request_specific,
                depends_on_dnt=True,
            )
    assert fetched.status is not None
    check = check_tsr_response(
        fetched.status,
        fetched.headers,
        fetched.body,
        request_specific=request_specific,
        depends_on_dnt=depends,
    )
    problems.extend(check.problems)
    if dnt_check is not None:
        problems.extend(f"with DNT: 1: {p}" for p in dnt_check.problems if p not in problems)
    tsr = check.tsr
    effective = _effective(tsr)
    effective_dnt = _effective(dnt_check.tsr) if dnt_check is not None else effective
    return TSRDeclaration(
        url=fetched.url,
        present=True,
        status=fetched.status,
        valid=not problems,
        tracking=tsr.tracking if tsr else None,
        effective=effective,
        effective_with_dnt=effective_dnt,
        same_party=tuple(tsr.same_party or ()) if tsr else (),
        policy=tsr.policy if tsr else None,
        config=tsr.config if tsr else None,
        depends_on_dnt=depends,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class GPCDeclaration:
    url: str
    present: bool | None
    status: int | None = None
    gpc: bool | None = None
    last_update: str | None = None
    valid: bool | None = None
    problems: tuple[str, ...] = ()
    failure: Failure | None = None


def evaluate_gpc_json(fetched: Fetched) -> GPCDeclaration:
    present = _presence(fetched)
    if not present:
        return GPCDeclaration(fetched.url, present, fetched.status, failure=fetched.failure)
    if fetched.too_large:
        return GPCDeclaration(
            fetched.url,
            True,
            fetched.status,
            valid=False,
            problems=tuple(_base_problems(fetched, "gpc.json")),
        )
    support = parse_gpc_json(fetched.body, fetched.header("content-type"))
    last = support.last_update.isoformat() if support.last_update is not None else None
    # A lastUpdate problem makes only the date unknown (GPC §3.4), but the
    # document is still not what the spec asks for, so it is reported as invalid.
    return GPCDeclaration(
        url=fetched.url,
        present=True,
        status=fetched.status,
        gpc=support.gpc,
        last_update=last,
        valid=not support.problems,
        problems=support.problems,
    )


@dataclass(frozen=True, slots=True)
class DNTPolicyDeclaration:
    url: str
    present: bool | None
    status: int | None = None
    compliant: bool | None = None
    sha1: str | None = None
    version: str | None = None
    problems: tuple[str, ...] = ()
    failure: Failure | None = None


def evaluate_dnt_policy(
    fetched: Fetched, *, accepted: Mapping[str, str] | None = None
) -> DNTPolicyDeclaration:
    present = _presence(fetched)
    if not present:
        return DNTPolicyDeclaration(fetched.url, present, fetched.status, failure=fetched.failure)
    if fetched.too_large:
        return DNTPolicyDeclaration(
            fetched.url,
            True,
            fetched.status,
            compliant=False,
            problems=tuple(_base_problems(fetched, "dnt-policy.txt")),
        )
    check = check_dnt_policy(fetched.body, accepted=accepted)
    problems: list[str] = []
    if not check.compliant:
        problems.append(
            f"dnt-policy.txt: SHA-1 {check.sha1} is not an accepted EFF policy text "
            "(the text must be posted unmodified)"
        )
    located = dnt_policy_location_problems(fetched.url, fetched.final_url)
    problems.extend(located)
    return DNTPolicyDeclaration(
        url=fetched.url,
        present=True,
        status=fetched.status,
        compliant=check.compliant and not located,
        sha1=check.sha1,
        version=check.version,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class OriginDeclarations:
    origin: str
    tsr: TSRDeclaration
    gpc: GPCDeclaration
    dnt_policy: DNTPolicyDeclaration
    #: TSRs named by ``Tk: X;status-id`` headers seen in the traffic.
    request_specific: tuple[TSRDeclaration, ...] = field(default=())

    @property
    def any_present(self) -> bool:
        return bool(
            self.tsr.present
            or self.gpc.present
            or self.dnt_policy.present
            or any(r.present for r in self.request_specific)
        )

    def problems(self) -> list[str]:
        """Every problem of every declaration that is present, labelled."""
        out: list[str] = []
        for label, decl in (("TSR", self.tsr), *(("TSR", r) for r in self.request_specific)):
            if decl.present and decl.problems:
                out.extend(f"{label} {decl.url}: {p}" for p in decl.problems)
        if self.gpc.present and self.gpc.problems:
            out.extend(f"gpc.json {self.gpc.url}: {p}" for p in self.gpc.problems)
        if self.dnt_policy.present and self.dnt_policy.problems:
            # Plain HTTP is a note for Privacy Badger users, not a broken claim.
            out.extend(
                f"{self.dnt_policy.url}: {p}"
                for p in self.dnt_policy.problems
                if "plain HTTP" not in p
            )
        return out

    def failures(self) -> list[Failure]:
        found = [self.tsr.failure, self.gpc.failure, self.dnt_policy.failure]
        found.extend(r.failure for r in self.request_specific)
        return [f for f in found if f is not None]

    @property
    def unreadable(self) -> bool:
        """Every fetch failed for a reason that says nothing about the site's claims."""
        return all(
            f is not None and f.kind is not FailureKind.HTTP_STATUS
            for f in (self.tsr.failure, self.gpc.failure, self.dnt_policy.failure)
        )


@dataclass(frozen=True, slots=True)
class SiteDeclarations:
    """The audited site's declarations and those of the partners that handled
    identifiers on it (bounded, fetched after the visits)."""

    site: OriginDeclarations | None = None
    partners: tuple[OriginDeclarations, ...] = ()

    def partner(self, site_key: str) -> list[OriginDeclarations]:
        out = []
        for decl in self.partners:
            host = host_of(decl.origin)
            if host is not None and key_of(host) == site_key:
                out.append(decl)
        return out
