"""Tracker knowledge in DuckDuckGo's Tracker Data Set (TDS) format, and its matching rule.

A TDS file lists tracker domains, each with a default action and ordered
rules (a regular expression over the request URL, optional ``options`` that
restrict a rule to some sites and resource types, optional ``exceptions``);
``entities`` group the domains one company owns, and ``cnames`` uncloaks
first-party subdomains that are aliases of trackers. No list is bundled (the
published ones are not under a free licence): a person passes their own file
(``trackpref proxy --trackers FILE``).

Matching (:meth:`TrackerData.match`), as DuckDuckGo's reference vectors pin it:

1. Walk the request host's labels to the most specific tracker entry; if there
   is none, uncloak the host through ``cnames`` and walk again (the original
   path is kept). No entry: not a tracker.
2. A request within one party (same registrable domain, or one entity owns
   both the site and the tracker) is ``ignore``.
3. The first rule whose expression matches the URL (port removed), whose
   ``options`` (if any) match the site and type, and whose action is one this
   reader knows, decides; a rule with an unknown action is skipped. Its
   ``exceptions`` matching makes it ``ignore``; ``action: ignore`` is
   ``ignore``; otherwise ``redirect`` when a surrogate for it is available, or
   ``block``. With no matching rule, the tracker's ``default`` decides.

Only the rules of the one tracker found are ever evaluated: the host walk is
the prefilter (``docs/proxy.md``).
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..signals.errors import ValidationError
from .domains import DomainMap, DomainSet, canonical_host, host_site

__all__ = [
    "MAX_TDS_BYTES",
    "Condition",
    "Rule",
    "Surrogate",
    "Tracker",
    "TrackerAction",
    "TrackerData",
    "TrackerMatch",
    "load_tds",
    "parse_surrogates",
    "read_surrogates",
    "read_tds",
]

log = logging.getLogger(__name__)

#: The published TDS is a few MB; a file far larger than this is not one.
MAX_TDS_BYTES: Final = 64 * 1024 * 1024
_RULE_ACTIONS: Final = frozenset({"block", "ignore"})
#: A pattern not compiled yet (``None`` in the table means "does not compile").
_UNCOMPILED: Final = re.compile("")
#: Entries kept by the per-host memos before they are emptied and refilled.
_MEMO_SIZE: Final = 65536
_DEFAULTS: Final = frozenset({"block", "ignore"})


class TrackerAction(enum.StrEnum):
    BLOCK = "block"
    IGNORE = "ignore"
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A rule's ``options`` or ``exceptions``: sites (with subdomains) and types.

    A list that is absent or empty does not restrict.
    """

    domains: DomainSet | None = None
    types: frozenset[str] | None = None

    def matches(self, site: str | None, resource_type: str) -> bool:
        if self.types is not None and resource_type not in self.types:
            return False
        return self.domains is None or self.domains.covers(site)


@dataclass(frozen=True, slots=True)
class TrackerMatch:
    """What the list says about one request to a listed tracker.

    ``tracker`` is the list entry's domain; ``why`` a short account (``first
    party``, ``default block``, ``exception``, ...) and ``rule`` the expression
    that decided, if one did; ``surrogate`` names the replacement script for
    ``redirect``. There are only a few possible answers per rule, so they are
    made once, with the list (:class:`Rule`, :class:`Tracker`), not per request.
    """

    action: TrackerAction
    why: str
    tracker: str
    owner: str | None
    first_party: bool = False
    surrogate: str | None = None
    rule: str | None = None

    @property
    def reason(self) -> str:
        return self.why if self.rule is None else f"rule {self.rule!r}: {self.why}"


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One URL rule of a tracker; ``source`` is its expression, compiled on first use.

    ``hit``, ``excepted`` and ``redirect`` are the answers it gives (made here,
    once): when it matches, when its exceptions match too, and when its
    surrogate is available.
    """

    source: str
    action: str
    surrogate: str | None = None
    options: Condition | None = None
    exceptions: Condition | None = None
    tracker: str = ""
    owner: str | None = None
    hit: TrackerMatch = field(init=False)
    excepted: TrackerMatch = field(init=False)
    redirect: TrackerMatch | None = field(init=False)

    def __post_init__(self) -> None:
        action = TrackerAction.IGNORE if self.action == "ignore" else TrackerAction.BLOCK
        hit = TrackerMatch(action, action.value, self.tracker, self.owner, rule=self.source)
        excepted = TrackerMatch(
            TrackerAction.IGNORE, "exception", self.tracker, self.owner, rule=self.source
        )
        redirect = None
        if self.surrogate is not None:
            redirect = TrackerMatch(
                TrackerAction.REDIRECT,
                "surrogate",
                self.tracker,
                self.owner,
                surrogate=self.surrogate,
                rule=self.source,
            )
        object.__setattr__(self, "hit", hit)
        object.__setattr__(self, "excepted", excepted)
        object.__setattr__(self, "redirect", redirect)


@dataclass(frozen=True, slots=True, eq=False)
class Tracker:
    """One tracker entry, with its first-party and default answers made once."""

    domain: str
    owner: str | None
    default: str
    rules: tuple[Rule, ...] = ()
    first_party: TrackerMatch = field(init=False)
    by_default: TrackerMatch = field(init=False)

    def __post_init__(self) -> None:
        action = TrackerAction.BLOCK if self.default == "block" else TrackerAction.IGNORE
        first = TrackerMatch(TrackerAction.IGNORE, "first party", self.domain, self.owner, True)
        default = TrackerMatch(action, f"default {action.value}", self.domain, self.owner)
        object.__setattr__(self, "first_party", first)
        object.__setattr__(self, "by_default", default)


@dataclass(frozen=True, slots=True)
class Surrogate:
    """A harmless script served in place of a blocked one that pages call into."""

    name: str
    content_type: str
    body: bytes


#: (tracker entry, host matched, cloaked request host, its site, its entity).
_Resolved = tuple["Tracker | None", str, "str | None", str, "str | None"]
_NOT_LISTED: _Resolved = (None, "", None, "", None)


class TrackerData:
    """An immutable, indexed TDS. Build with :func:`load_tds` / :func:`read_tds`.

    ``problems`` lists entries that were skipped at load (a malformed rule or
    entry), so that a caller can show them; one bad rule in a list of thousands
    does not make the whole list unusable. Expressions are compiled when their
    tracker is first met (compiling thousands up front costs seconds of
    start-up); one that does not compile is logged and skipped then.
    """

    __slots__ = (
        "_cnames",
        "_entities",
        "_entity_memo",
        "_host_memo",
        "_patterns",
        "_trackers",
        "problems",
    )

    def __init__(
        self,
        trackers: Mapping[str, Tracker] | None = None,
        entities: Mapping[str, str] | None = None,
        cnames: Mapping[str, str] | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        self._trackers: DomainMap[Tracker] = DomainMap(trackers or {})
        self._entities: DomainMap[str] = DomainMap(entities or {})
        self._cnames: dict[str, str] = dict(cnames or {})
        self.problems = problems
        # Memos: hosts recur on every page, and a regular expression is compiled
        # only when its tracker is first met (compiling a whole list costs seconds).
        self._host_memo: dict[str, _Resolved] = {}
        self._entity_memo: dict[str, str | None] = {}
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    def __len__(self) -> int:
        return len(self._trackers)

    def __bool__(self) -> bool:
        return bool(self._trackers)

    def tracker_domains(self) -> list[str]:
        return list(self._trackers.domains())

    def find(self, host: str) -> Tracker | None:
        """The most specific tracker entry ``host`` falls under (no uncloaking)."""
        return self._trackers.get(host)

    def entity_of(self, host: str) -> str | None:
        """The entity that owns ``host`` (by its most specific listed domain)."""
        memo = self._entity_memo
        if host in memo:
            return memo[host]
        owner = self._entities.get(host)
        if owner is None:
            tracker = self._trackers.get(host)
            owner = None if tracker is None else tracker.owner
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[host] = owner
        return owner

    def same_party(self, a: str, b: str) -> bool:
        """One site, or one entity owns both (canonical hosts)."""
        if a == b or host_site(a) == host_site(b):
            return True
        ea = self.entity_of(a)
        return ea is not None and ea == self.entity_of(b)

    def uncloak(self, host: str) -> str | None:
        return self._cnames.get(host)

    def _resolve(self, host: str) -> _Resolved:
        """The tracker entry for a request host, uncloaked if need be, with the
        matched host's site and entity (memoized: hosts recur on every page)."""
        memo = self._host_memo
        found = memo.get(host)
        if found is not None:
            return found
        tracker = self._trackers.get(host)
        matched, cloaked = host, None
        if tracker is None:
            alias = self._cnames.get(host)
            real = canonical_host(alias) if alias is not None else None
            if real is not None:
                tracker = self._trackers.get(real)
                if tracker is not None:
                    matched, cloaked = real, host
        result = _NOT_LISTED
        if tracker is not None:
            result = (tracker, matched, cloaked, host_site(matched), self.entity_of(matched))
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[host] = result
        return result

    def _pattern(self, source: str) -> re.Pattern[str] | None:
        try:
            return self._patterns[source]
        except KeyError:
            pass
        try:
            compiled: re.Pattern[str] | None = re.compile(source, re.IGNORECASE)
        except re.error as exc:
            log.warning(
                "tracker rule %r does not compile (%s); the rule is skipped", source[:80], exc
            )
            compiled = None
        self._patterns[source] = compiled
        return compiled

    def match(
        self,
        scheme: str,
        host: str,
        path: str,
        site: str | None,
        resource_type: str,
        surrogates: Collection[str] = (),
    ) -> TrackerMatch | None:
        """Apply the list to one request; None when the host is not a listed tracker.

        ``host`` and ``site`` are canonical hosts (``site`` None when unknown);
        ``path`` is the path and query as sent; ``surrogates`` the names of the
        replacement scripts available.
        """
        tracker, host, _, host_base, owner = self._resolve(host)
        if tracker is None:
            return None
        if site is not None and (
            site == host
            or host_base == host_site(site)
            or (owner is not None and owner == self.entity_of(site))
        ):
            return tracker.first_party
        url = f"{scheme}://{host}{path}"
        patterns = self._patterns
        for rule in tracker.rules:
            pattern = patterns.get(rule.source, _UNCOMPILED)
            if pattern is _UNCOMPILED:
                pattern = self._pattern(rule.source)
            if pattern is None or pattern.search(url) is None:
                continue
            if rule.options is not None and not rule.options.matches(site, resource_type):
                continue
            if rule.exceptions is not None and rule.exceptions.matches(site, resource_type):
                return rule.excepted
            if (
                rule.redirect is not None
                and rule.action != "ignore"
                and rule.surrogate in surrogates
            ):
                return rule.redirect
            return rule.hit
        return tracker.by_default


# -- reading ------------------------------------------------------------------------


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _condition(raw: object, where: str, problems: list[str]) -> Condition | bool | None:
    """A parsed condition, None when absent, False when malformed (skip the rule)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with 'domains' and/or 'types'")
        return False
    domains = types = None
    if "domains" in raw:
        listed = _strings(raw["domains"])
        if listed is None:
            problems.append(f"{where}.domains: must be an array of domain strings")
            return False
        hosts = [h for h in (canonical_host(d) for d in listed) if h is not None]
        if len(hosts) != len(listed):
            problems.append(f"{where}.domains: holds a value that is not a domain")
            return False
        domains = DomainSet(hosts) if hosts else None
    if "types" in raw:
        listed = _strings(raw["types"])
        if listed is None:
            problems.append(f"{where}.types: must be an array of resource type strings")
            return False
        types = frozenset(listed) if listed else None
    return Condition(domains, types)


def _rule(
    raw: object, where: str, problems: list[str], tracker: str, owner: str | None
) -> Rule | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("rule"), str):
        problems.append(f"{where}: must be an object with a 'rule' string")
        return None
    action = raw.get("action", "block")
    if action not in _RULE_ACTIONS:
        # DuckDuckGo's vectors: a rule with an action this reader does not know
        # is ignored, so the next rule or the default decides.
        return None
    options = _condition(raw.get("options"), f"{where}.options", problems)
    exceptions = _condition(raw.get("exceptions"), f"{where}.exceptions", problems)
    if options is False or exceptions is False:
        return None
    surrogate = raw.get("surrogate")
    return Rule(
        source=raw["rule"],
        action=action,
        surrogate=surrogate if isinstance(surrogate, str) and surrogate else None,
        options=options if isinstance(options, Condition) else None,
        exceptions=exceptions if isinstance(exceptions, Condition) else None,
        tracker=tracker,
        owner=owner,
    )


def load_tds(data: object, *, source: str = "TDS") -> TrackerData:
    """Index a decoded TDS document.

    Raises:
        ValidationError: when the document is not a TDS at all (not an object,
            ``trackers`` / ``entities`` / ``domains`` / ``cnames`` of the wrong
            type). Individual malformed entries are skipped into ``problems``.
    """
    if not isinstance(data, dict):
        raise ValidationError([("document", "a TDS file is one JSON object")], source=source)
    fatal: list[tuple[str, str]] = []
    raw_trackers = data.get("trackers", {})
    raw_entities = data.get("entities", {})
    raw_domains = data.get("domains", {})
    raw_cnames = data.get("cnames", {})
    for name, value in (
        ("trackers", raw_trackers),
        ("entities", raw_entities),
        ("domains", raw_domains),
        ("cnames", raw_cnames),
    ):
        if not isinstance(value, dict):
            fatal.append((name, "must be a JSON object"))
    if fatal:
        raise ValidationError(fatal, source=source)
    problems: list[str] = []
    entities: dict[str, str] = {}
    for entity, info in raw_entities.items():
        domains = _strings(info.get("domains")) if isinstance(info, dict) else None
        if domains is None:
            problems.append(f"entities[{entity!r}]: 'domains' must be an array of strings")
            continue
        for domain in domains:
            host = canonical_host(domain)
            if host is not None:
                entities.setdefault(host, str(entity))
    for domain, entity in raw_domains.items():
        host = canonical_host(domain)
        if host is None or not isinstance(entity, str):
            problems.append(f"domains[{domain!r}]: must map a domain to an entity name")
            continue
        entities[host] = entity
    trackers: dict[str, Tracker] = {}
    for domain, info in raw_trackers.items():
        host = canonical_host(domain)
        where = f"trackers[{domain!r}]"
        if host is None or not isinstance(info, dict):
            problems.append(f"{where}: must map a domain to a tracker object")
            continue
        default = info.get("default", "ignore")
        if default not in _DEFAULTS:
            problems.append(
                f"{where}.default: {default!r} is not 'block' or 'ignore'; read as ignore"
            )
            default = "ignore"
        raw_rules = info.get("rules", [])
        if not isinstance(raw_rules, list):
            problems.append(f"{where}.rules: must be an array")
            raw_rules = []
        owner_info = info.get("owner")
        owner = owner_info.get("name") if isinstance(owner_info, dict) else None
        owner = entities.get(host) or (owner if isinstance(owner, str) else None)
        rules = tuple(
            r
            for i, raw in enumerate(raw_rules)
            if (r := _rule(raw, f"{where}.rules[{i}]", problems, host, owner)) is not None
        )
        trackers[host] = Tracker(domain=host, owner=owner, default=default, rules=rules)
    cnames: dict[str, str] = {}
    for alias, real in raw_cnames.items():
        alias_host = canonical_host(alias)
        real_host = canonical_host(real) if isinstance(real, str) else None
        if alias_host is None or real_host is None:
            problems.append(f"cnames[{alias!r}]: must map a host to a host")
            continue
        cnames[alias_host] = real_host
    return TrackerData(trackers, entities, cnames, tuple(problems))


def read_tds(path: str | Path) -> TrackerData:
    """Read a TDS file.

    Raises:
        ValidationError: naming the file, for a file that cannot be read, is not
            JSON, or is not a TDS document.
    """
    p = Path(path)
    source = str(p)
    try:
        if p.stat().st_size > MAX_TDS_BYTES:
            raise ValidationError(
                [("file", f"larger than {MAX_TDS_BYTES} bytes; not a tracker data file")],
                source=source,
            )
        data: Any = json.loads(p.read_bytes())
    except OSError as exc:
        raise ValidationError(
            [("file", f"cannot be read: {exc.strerror or exc}")], source=source
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationError([("file", f"not UTF-8 (byte {exc.start})")], source=source) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [("file", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")],
            source=source,
        ) from None
    except RecursionError:  # json.loads recurses once per level of nesting
        raise ValidationError([("file", "not JSON: nested too deeply")], source=source) from None
    except ValueError as exc:  # a number of more than 4,300 digits
        raise ValidationError([("file", f"not JSON: {str(exc)[:120]}")], source=source) from None
    return load_tds(data, source=source)


def parse_surrogates(text: str) -> dict[str, Surrogate]:
    """Read a surrogates file (DuckDuckGo's format).

    Entries are separated by blank lines; ``#`` lines are comments; an entry's
    first line is ``host/name content-type`` and the rest is the script. Rules
    refer to an entry by ``name``.
    """
    out: dict[str, Surrogate] = {}
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        lines = [line for line in block.split("\n") if not line.startswith("#")]
        if not lines or not lines[0].strip():
            continue
        head = lines[0].split()
        if not head or "/" not in head[0]:
            continue
        name = head[0].split("/", 1)[1]
        if not name:
            continue
        content_type = head[1] if len(head) > 1 else "application/javascript"
        out[name] = Surrogate(name, content_type, "\n".join(lines[1:]).encode("utf-8"))
    return out


def read_surrogates(path: str | Path) -> dict[str, Surrogate]:
    """Read a surrogates file; raises ValidationError naming the file."""
    p = Path(path)
    try:
        return parse_surrogates(p.read_text("utf-8"))
    except OSError as exc:
        raise ValidationError(
            [("file", f"cannot be read: {exc.strerror or exc}")], source=str(p)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationError([("file", f"not UTF-8 (byte {exc.start})")], source=str(p)) from None
