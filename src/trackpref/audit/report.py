"""``report.json``: the stable, documented form of an audit (docs/report-schema.md).

Serialisation is kept apart from the analysis so that the schema changes only
on purpose: every key written here is documented, and ``SCHEMA_VERSION``
changes when a key changes meaning or disappears (adding keys does not).

Two things are added at report time rather than audit time, because they
depend on the whole crawl: which third parties count as trackers (learned
across sites, see :mod:`.trackers`) and how each site changed since its
previous audit (:mod:`.history`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trackpref import __version__

from .analysis import StateResult
from .consent import ConsentStrings
from .declarations import (
    DNTPolicyDeclaration,
    GPCDeclaration,
    OriginDeclarations,
    SiteDeclarations,
    TSRDeclaration,
)
from .failures import Failure
from .site import SiteAudit, cloaked_with, known_tracker
from .site_parties import SiteParties, host_of, site_key
from .states import SignalState
from .text import clean_json
from .trackers import TrackerKnowledge

__all__ = [
    "SCHEMA_VERSION",
    "annotate_trackers",
    "build_report",
    "site_to_json",
    "write_atomically",
    "write_json",
]

SCHEMA_VERSION = 1
#: Items per list in one state; the counts in ``summary`` are never cut.
MAX_ITEMS = 200
#: Characters of a recorded value (an identifier, a cookie) kept in the report.
MAX_VALUE = 80

JSON = dict[str, Any]


def _cut(value: str, limit: int = MAX_VALUE) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _failure(failure: Failure | None) -> JSON | None:
    return failure.to_json() if failure is not None else None


def _tsr(d: TSRDeclaration) -> JSON:
    return {
        "url": d.url,
        "present": d.present,
        "status": d.status,
        "valid": d.valid,
        "tracking": d.tracking,
        "effective": d.effective,
        "effective_with_dnt": d.effective_with_dnt,
        "depends_on_dnt": d.depends_on_dnt,
        "same_party": list(d.same_party),
        "policy": d.policy,
        "config": d.config,
        "problems": list(d.problems),
        "error": _failure(d.failure),
    }


def _gpc(d: GPCDeclaration) -> JSON:
    return {
        "url": d.url,
        "present": d.present,
        "status": d.status,
        "valid": d.valid,
        "gpc": d.gpc,
        "last_update": d.last_update,
        "problems": list(d.problems),
        "error": _failure(d.failure),
    }


def _policy(d: DNTPolicyDeclaration) -> JSON:
    return {
        "url": d.url,
        "present": d.present,
        "status": d.status,
        "compliant": d.compliant,
        "sha1": d.sha1,
        "version": d.version,
        "problems": list(d.problems),
        "error": _failure(d.failure),
    }


def _origin(d: OriginDeclarations) -> JSON:
    return {
        "origin": d.origin,
        "tsr": _tsr(d.tsr),
        "gpc": _gpc(d.gpc),
        "dnt_policy": _policy(d.dnt_policy),
        "request_specific": [_tsr(r) for r in d.request_specific],
    }


def _declarations(d: SiteDeclarations) -> JSON:
    out: JSON = _origin(d.site) if d.site is not None else {"origin": None}
    out["partners"] = [_origin(p) for p in d.partners]
    return out


def _consent(c: ConsentStrings) -> JSON:
    gpp: JSON | None = None
    if c.gpp is not None:
        gpp = {
            "raw": _cut(c.gpp.raw, 400),
            "section_ids": list(c.gpp.section_ids),
            "gpc": c.gpp.gpc,
            "sections": [
                {
                    "id": s.id,
                    "name": s.prefix,
                    "gpc": s.gpc,
                    "opted_out": s.opted_out,
                    "fields": dict(s.fields),
                    "problem": s.problem,
                }
                for s in c.gpp.sections
            ],
        }
    return {
        "usp": None if c.usp is None else {"raw": c.usp.raw, "opted_out": c.usp.opted_out},
        "gpp": gpp,
        "onetrust_gpc": c.onetrust_gpc,
        "google_opt_out": c.google_opt_out,
        "opt_out_problems": c.opt_out_problems(),
        "problems": list(c.problems),
    }


def _counts(r: StateResult) -> JSON:
    return {
        "third_party_requests": r.traffic.third_party_requests,
        "third_party_sites": len(r.traffic.third_parties),
        "third_party_identifiers": r.third_party_identifiers,
        "third_party_identifier_cookies": len(r.identifiers.third_party_cookies),
        "cookie_syncs": len(r.identifiers.syncs),
        "referrer_leaks": len(r.referrer_leaks),
    }


def _state(r: StateResult, repeats: Sequence[StateResult], parties: SiteParties | None) -> JSON:
    obs = r.observation
    ids = r.identifiers
    identifier_cookies = {(c.site, c.name) for c in ids.cookies}
    identifier_storage = {(site, key) for site, key, _ in ids.storage}
    flows_per_party: dict[str, int] = {}
    for flow in ids.flows:
        flows_per_party[flow.recipient] = flows_per_party.get(flow.recipient, 0) + 1
    check = r.signal
    return {
        "ok": r.ok,
        "error": _failure(r.failure),
        "final_url": obs.final_url,
        "document_status": obs.document_status,
        "started_at": obs.started_at,
        "duration_ms": obs.duration_ms,
        "attempts": obs.attempts,
        "signal": {
            "dnt": check.expected_dnt,
            "gpc": check.expected_gpc,
            "verified": check.verified,
            "requests": check.requests,
            "with_dnt1": check.dnt1,
            "with_dnt0": check.dnt0,
            "with_gpc": check.gpc,
        },
        "requests": {
            "total": r.traffic.requests,
            "first_party": r.traffic.first_party_requests,
            "third_party": r.traffic.third_party_requests,
            "failed": r.traffic.failed_requests,
        },
        "summary": _counts(r),
        "third_parties": [
            {
                "site": t.site,
                "requests": t.requests,
                "hosts": list(t.hosts),
                "set_cookies": t.set_cookies,
                "identifiers": flows_per_party.get(t.site, 0),
            }
            for t in r.traffic.third_parties[:MAX_ITEMS]
        ],
        "identifiers": [
            {
                "value": _cut(f.value),
                "recipient": f.recipient,
                "via": list(f.via),
                "requests": f.requests,
                "owner": f.owner,
                "set_by_recipient": f.set_by_recipient,
            }
            for f in ids.flows[:MAX_ITEMS]
        ],
        "cookie_syncs": [
            {"value": _cut(s.value), "source": s.source, "target": s.target, "via": s.via}
            for s in ids.syncs[:MAX_ITEMS]
        ],
        "cookies": [
            {
                "domain": c.domain,
                "name": c.name,
                "value": _cut(c.value),
                "third_party": parties.is_third_party(c.host) if parties else None,
                "identifier": (
                    parties.recipient(c.host) if parties else site_key(c.host),
                    c.name,
                )
                in identifier_cookies,
                "expires": c.expires,
                "http_only": c.http_only,
                "secure": c.secure,
            }
            for c in obs.cookies[:MAX_ITEMS]
        ],
        "storage": [
            {
                "origin": s.origin,
                "kind": s.kind,
                "key": _cut(s.key),
                "value": _cut(s.value),
                "identifier": (_origin_site(s.origin, parties), s.key) in identifier_storage,
            }
            for s in obs.storage[:MAX_ITEMS]
        ],
        "set_cookie": [
            {"site": c.site, "name": c.name, "third_party": c.third_party, "responses": c.responses}
            for c in r.traffic.set_cookies[:MAX_ITEMS]
        ],
        "tk": [
            {
                "origin": t.origin,
                "value": _cut(t.value),
                "status": t.status,
                "status_id": t.status_id,
                "problem": t.problem,
                "third_party": t.third_party,
                "responses": t.responses,
            }
            for t in r.traffic.tk[:MAX_ITEMS]
        ],
        "referrer_leaks": [
            {
                "recipient": leak.recipient,
                "leaked_url": leak.leaked_url,
                "via": leak.via,
                "query_terms": list(leak.query_terms),
                "severity": leak.severity,
                "requests": leak.requests,
            }
            for leak in r.referrer_leaks[:MAX_ITEMS]
        ],
        "consent": _consent(r.consent),
        "identifier_constants_ignored": ids.constants,
        "unread": list(obs.unread),
        "repeats": [dict(_counts(x), ok=x.ok) for x in repeats],
    }


def _origin_site(origin: str, parties: SiteParties | None = None) -> str:
    """The party an origin's storage belongs to (a cloaked host's is its tracker's)."""
    host = host_of(origin)
    if host is None:
        return origin
    return parties.recipient(host) if parties is not None else site_key(host)


def site_to_json(audit: SiteAudit) -> JSON:
    """One entry of ``sites``; see docs/report-schema.md."""
    states: JSON = {}
    for state, result in audit.states.items():
        states[state.value] = _state(result, audit.repeats.get(state, ()), audit.parties)
    error: JSON | None = None
    if audit.failure is not None:
        error = dict(audit.failure.to_json(), states=[s.value for s in audit.failed_states])
    return {
        "url": audit.url,
        "final_url": audit.final_url,
        "site": audit.site,
        "audited_at": audit.audited_at,
        "duration_ms": audit.duration_ms,
        "error": error,
        "declarations": _declarations(audit.declarations),
        "cname_cloaked": [
            {"host": host, "chain": list(chain), "party": audit.parties.recipient(host)}
            for host, chain in sorted(audit.parties.cloaked.items())
        ]
        if audit.parties is not None
        else [],
        "cname_chains": {host: list(chain) for host, chain in sorted(audit.cname_chains.items())},
        "same_party_honored": list(audit.parties.same_party) if audit.parties is not None else [],
        "states": states,
        "verdicts": audit.verdicts.to_json(),
    }


def annotate_trackers(site: JSON, knowledge: TrackerKnowledge) -> JSON:
    """Mark third parties as trackers with what is known now (in place, returned)."""
    for state in site.get("states", {}).values():
        for party in state.get("third_parties", []):
            info = knowledge.classify(party["site"])
            party["tracker"] = info.tracker
            party["tracker_source"] = info.source or None
            party["entity"] = info.entity
    return site


def order_dependence(site: JSON, knowledge: TrackerKnowledge) -> JSON | None:
    """What this site's audit could have judged otherwise with ``knowledge``.

    Two decisions are taken when a site is audited, with the trackers known
    then: a TSR may not declare a known tracker same-party, and a host that is
    a CNAME to a known tracker is that tracker. A tracker learned later (on
    later sites of the crawl, by another machine sharing the store, or by a
    later crawl) came too late for the sites audited before, so their verdicts
    depend on the order. The report cannot judge them again (the visits are
    not kept), but it names them: ``same_party`` the domains honored then that
    are known trackers now, ``cname`` the hosts the stored chains would now
    cloak. None for a site stored by a version that kept neither (unknown).
    """
    if "same_party_honored" not in site:
        return None
    honored = [str(d) for d in site.get("same_party_honored") or []]
    now_trackers = [d for d in honored if known_tracker(d, knowledge) is not None]
    chains = {str(h): tuple(c) for h, c in dict(site.get("cname_chains") or {}).items()}
    cname: list[str] = []
    if chains and site.get("site"):
        still = tuple(d for d in honored if d not in now_trackers)
        was = {c.get("host") for c in site.get("cname_cloaked", [])}
        now = cloaked_with(chains, str(site["site"]), still, knowledge)
        cname = sorted(h for h in now if h not in was)
    return {"same_party": now_trackers, "cname": cname}


def names_anything(later: JSON | None) -> bool:
    """Whether an :func:`order_dependence` answer names a domain or a host."""
    return bool(later and (later["same_party"] or later["cname"]))


def build_report(
    sites: Sequence[JSON],
    *,
    knowledge: TrackerKnowledge,
    crawl: Mapping[str, Any] | None = None,
    states: Sequence[SignalState] = (),
) -> JSON:
    """The whole ``report.json`` document."""
    annotated = [annotate_trackers(dict(s), knowledge) for s in sites]
    for site in annotated:
        site["order_dependent"] = order_dependence(site, knowledge)
    seen: set[str] = set()
    for site in annotated:
        for state in site.get("states", {}).values():
            seen.update(p["site"] for p in state.get("third_parties", []))
    trackers = []
    for domain in sorted(seen):
        info = knowledge.classify(domain)
        if info.tracker:
            trackers.append(
                {
                    "domain": domain,
                    "sites": list(info.sites),
                    "source": info.source,
                    "entity": info.entity,
                }
            )
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"trackpref {__version__}",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "crawl": dict(crawl or {}),
        "states": [s.value for s in states],
        "tracker_threshold": knowledge.threshold,
        "trackers": trackers,
        #: URLs of the sites whose verdicts the crawl's final knowledge could change.
        "order_dependent": [
            site["url"] for site in annotated if names_anything(site["order_dependent"])
        ],
        "sites": annotated,
    }


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a reader (or a crash) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, document: JSON) -> None:
    """Write the report; a string UTF-8 cannot encode (a lone surrogate from a
    page) becomes U+FFFD rather than the end of the report."""
    text = json.dumps(clean_json(document), indent=2, ensure_ascii=False, allow_nan=False)
    write_atomically(path, text + "\n")
