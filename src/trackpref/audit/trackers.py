"""Which third parties are trackers, learned from what they do.

Privacy Badger's rule, without its list: a third party that sets or receives
identifiers on enough distinct first-party sites (``threshold``, 3 by default,
as in Privacy Badger) is tracking people across sites. Sightings accumulate
across audits in the results store, so a crawl learns as it goes.

A DuckDuckGo Tracker Data Set (TDS) file can be imported to recognise trackers
before they were seen three times, and to learn which domains belong to one
entity; none is bundled (the published lists are not under a free licence).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .identifiers import IdentifierReport

__all__ = [
    "DEFAULT_THRESHOLD",
    "TrackerInfo",
    "TrackerKnowledge",
    "load_tds",
    "sightings_from",
]

DEFAULT_THRESHOLD = 3
#: TDS files are a few MB; a file much larger than this is not one.
MAX_TDS_BYTES = 128 * 1024 * 1024

_EMPTY_SIGHTINGS: Mapping[str, frozenset[str]] = MappingProxyType({})
_EMPTY_ENTITIES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TrackerInfo:
    domain: str
    tracker: bool
    #: First-party sites on which this domain handled identifiers.
    sites: tuple[str, ...]
    #: ``"learned"``, ``"tds"``, ``"learned+tds"`` or ``""``.
    source: str
    entity: str | None = None


def _parents(domain: str) -> Iterable[str]:
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        yield ".".join(labels[i:])


@dataclass(frozen=True, slots=True)
class TrackerKnowledge:
    sightings: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY_SIGHTINGS)
    tds_trackers: frozenset[str] = frozenset()
    entities: Mapping[str, str] = field(default_factory=lambda: _EMPTY_ENTITIES)
    threshold: int = DEFAULT_THRESHOLD

    def entity_of(self, domain: str) -> str | None:
        return next((self.entities[d] for d in _parents(domain) if d in self.entities), None)

    def classify(self, domain: str) -> TrackerInfo:
        sites = tuple(sorted(self.sightings.get(domain, frozenset())))
        learned = len(sites) >= self.threshold
        listed = any(d in self.tds_trackers for d in _parents(domain))
        source = "+".join(s for s, on in (("learned", learned), ("tds", listed)) if on)
        return TrackerInfo(domain, learned or listed, sites, source, self.entity_of(domain))

    def with_sightings(self, pairs: Iterable[tuple[str, str]]) -> TrackerKnowledge:
        merged: dict[str, set[str]] = {k: set(v) for k, v in self.sightings.items()}
        for tracker, site in pairs:
            merged.setdefault(tracker, set()).add(site)
        return TrackerKnowledge(
            MappingProxyType({k: frozenset(v) for k, v in merged.items()}),
            self.tds_trackers,
            self.entities,
            self.threshold,
        )


def sightings_from(site: str, reports: Iterable[IdentifierReport]) -> set[tuple[str, str]]:
    """(third party, site) for every third party that set or received an
    identifier on ``site`` in any state."""
    out: set[tuple[str, str]] = set()
    for report in reports:
        out.update((flow.recipient, site) for flow in report.flows)
        out.update((cookie.site, site) for cookie in report.third_party_cookies)
    return out


def load_tds(path: str | Path) -> tuple[frozenset[str], dict[str, str]]:
    """Read a DuckDuckGo TDS file: tracker domains and domain -> entity.

    Raises :class:`ValueError` naming the file and the member that is wrong.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_TDS_BYTES:
            raise ValueError(f"{p}: {size} bytes; a TDS file is at most {MAX_TDS_BYTES}")
        data = json.loads(p.read_bytes())
    except OSError as exc:
        raise ValueError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not JSON: {exc}") from exc
    except RecursionError:
        # Nesting deeper than the parser's stack: no TDS file looks like that,
        # and a traceback would hide which option was wrong.
        raise ValueError(f"{p}: not a TDS file: JSON nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a TDS file is a JSON object")
    trackers = data.get("trackers", {})
    if not isinstance(trackers, dict):
        raise ValueError(f"{p}: 'trackers' must be an object of domain -> tracker")
    domains = data.get("domains", {})
    if not isinstance(domains, dict):
        raise ValueError(f"{p}: 'domains' must be an object of domain -> entity name")
    entities: dict[str, str] = {}
    for domain, entity in domains.items():
        if not isinstance(entity, str):
            raise ValueError(f"{p}: domains[{domain!r}] must be an entity name (a string)")
        entities[domain.lower()] = entity
    for domain, tracker in trackers.items():
        if not isinstance(tracker, dict):
            raise ValueError(f"{p}: trackers[{domain!r}] must be an object")
        owner = tracker.get("owner")
        if isinstance(owner, dict) and isinstance(owner.get("name"), str):
            entities.setdefault(domain.lower(), owner["name"])
    return frozenset(d.lower() for d in trackers), entities
