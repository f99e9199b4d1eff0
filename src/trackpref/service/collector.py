"""From a validated event and a preference to gated rows and tallies.

This is where the person's preference decides what is kept, through the
ledger's gate (the service never decides on its own what a signal permits):

* **allow** (``DNT: 0``, or an exception the person granted): the raw event,
  with the browser's pseudonymous id as its subject, so the person can later
  see and delete it through the rights portal;
* **unset**: the raw event without any persistent id, only the day's salted
  visitor hash (:mod:`trackpref.ledger.salts`), which nobody can link to
  anything once the day's salt is destroyed;
* **do-not-track** (``DNT: 1`` or ``Sec-GPC: 1``): the gate, judging as a
  third party, refuses audience measurement, so no raw event is kept; the
  event only adds one to the day's tallies, which hold no identifier.

An e-mail open follows the same rules: under do-not-track (what Thunderbird
sends when it loads remote images) no per-recipient record is kept, only the
campaign's count.

Each site's rows go to that site's store (:meth:`Store.for_site`); tallies
carry the site in their key. No query of the service joins two sites.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import itemgetter, not_

from ..ledger import Ledger
from ..ledger.gate import Gate, GatedBatch, GateError
from ..ledger.inventory import Inventory
from ..ledger.salts import SaltWindowClosed, VisitorHasher
from ..ledger.storage import Store
from ..signals.decisions import PartyRole
from ..signals.dnt import parse_dnt
from ..signals.gpc import parse_gpc
from ..signals.preference import Precedence, Preference, PreferenceState, resolve
from .classify import device_of, referrer_domain, region_of, signal_class
from .events import CollectError, EventColumns, IncomingEvent
from .ingest import Prepared, Row
from .tables import ServiceTables, Tally

__all__ = ["OTHER", "REQUIRED_FIELDS", "Collector", "KeptSummary"]

#: Datasets and fields the service writes; a replacement inventory must keep them.
REQUIRED_FIELDS = {
    "pageviews": ("type", "path", "referrer_domain", "device", "region", "props", "visitor_id"),
    "email_opens": ("campaign", "recipient", "device", "signal"),
}
#: Where values beyond a tally's cardinality cap are counted.
OTHER = "(other)"
#: Distinct values kept per site, day and metric before the rest go to OTHER.
DEFAULT_CARDINALITY = 500
_GATE_TO_EVENT = {"path": "url", "referrer_domain": "referrer", "visitor_id": "id"}
_SITE_OF = itemgetter(0)
#: Arrays this long or longer are gated column by column (see prepare_events).
COLUMNS_FROM = 16
_DNT = PreferenceState.DO_NOT_TRACK
_ALLOW = PreferenceState.ALLOW


@dataclass(frozen=True, slots=True)
class KeptSummary:
    """What one request left behind, for ``/api/explain`` and the demo."""

    raw: int
    with_id: int
    counted_only: int


def day_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


class Collector:
    """Prepares requests (on the event loop) and commits batches (in the writer)."""

    def __init__(
        self,
        inventory: Inventory,
        root: Store,
        tables: ServiceTables,
        *,
        role: PartyRole | str = PartyRole.THIRD_PARTY,
        precedence: Precedence,
        sites: Iterable[str] | None = None,
        max_sites: int = 1000,
        cardinality: int = DEFAULT_CARDINALITY,
    ) -> None:
        missing = [
            f"{ds}.{f}"
            for ds, fields in REQUIRED_FIELDS.items()
            for f in fields
            if ds not in inventory.datasets or f not in inventory.datasets[ds].fields
        ]
        if missing:
            raise ValueError(
                f"{inventory.source}: the collection service needs {', '.join(missing)}"
            )
        for ds in REQUIRED_FIELDS:
            if inventory.datasets[ds].sensitive_fields:
                raise ValueError(
                    f"{inventory.source}: {ds} declares sensitive fields; the collection "
                    "service keeps no subject keys for them"
                )
        self.inventory = inventory
        self.root = root
        self.tables = tables
        self.role = PartyRole(role)
        self.precedence = precedence
        self.gate = Gate(inventory, role=self.role, precedence=precedence)
        self.allowed_sites = frozenset(sites) if sites else None
        self.max_sites = max_sites
        self.cardinality = cardinality
        self._known_sites: set[str] = set(tables.sites())
        self._ledgers: dict[str, Ledger] = {}
        self._hashers: dict[str, VisitorHasher] = {}
        self._tight: dict[tuple[int, str | None, bool], tuple[Preference, Preference]] = {}
        self._seen: dict[tuple[str, str, str], set[str]] = {}
        self._lock = threading.RLock()
        self._day_cache: tuple[int, str] = (-1, "")
        self._vh_memo: dict[tuple[str, str, str], str] = {}
        self._vh_day = ""

    # -- sites -------------------------------------------------------------------
    def admit_site(self, site: str, field: str) -> str:
        if self.allowed_sites is not None:
            if site not in self.allowed_sites:
                raise CollectError(
                    f"{field}: {site} is not a site this service collects for", field=field
                )
            return site
        if site not in self._known_sites:
            with self._lock:
                if site not in self._known_sites and len(self._known_sites) >= self.max_sites:
                    raise CollectError(
                        f"{field}: this service already collects for {self.max_sites} sites",
                        field=field,
                    )
                self._known_sites.add(site)
        return site

    def known_sites(self) -> list[str]:
        return sorted(self._known_sites | set(self.allowed_sites or ()))

    def store_for(self, site: str) -> Store:
        return self.ledger(site).store

    def ledger(self, site: str) -> Ledger:
        led = self._ledgers.get(site)
        if led is None:
            with self._lock:
                led = self._ledgers.get(site)
                if led is None:
                    led = Ledger(
                        self.inventory,
                        self.root.for_site(site),
                        role=self.role,
                        precedence=self.precedence,
                    )
                    self._ledgers[site] = led
        return led

    def hasher(self, site: str) -> VisitorHasher:
        h = self._hashers.get(site)
        if h is None:
            with self._lock:
                h = self._hashers.get(site)
                if h is None:
                    h = VisitorHasher(self.store_for(site))
                    self._hashers[site] = h
        return h

    # -- preference ----------------------------------------------------------------
    def tighten(self, pref: Preference, dnt: str | None, gpc: bool) -> Preference:
        """The request's preference, made stricter by what the page's script read.

        ``navigator.doNotTrack`` / ``globalPrivacyControl`` can only add a
        do-not-track claim (a page could not use them to loosen anything: an
        absent header is never replaced by a body's ``DNT: 0``).
        """
        add_dnt = dnt == "1" and pref.dnt.choice != "1"
        add_gpc = gpc and not pref.gpc.enabled
        if not (add_dnt or add_gpc):
            return pref
        key = (id(pref), "1" if add_dnt else None, add_gpc)
        hit = self._tight.get(key)
        if hit is not None and hit[0] is pref:
            return hit[1]
        out = resolve(
            parse_dnt("1") if add_dnt else pref.dnt,
            parse_gpc("1") if add_gpc else pref.gpc,
            exception=pref.exception,
            precedence=self.precedence,
        )
        if len(self._tight) > 256:
            self._tight.clear()
        self._tight[key] = (pref, out)
        return out

    # -- tallies -------------------------------------------------------------------
    def _day(self, now: float) -> str:
        whole = int(now // 86400)
        cached = self._day_cache
        if cached[0] != whole:
            cached = (whole, day_of(now))
            self._day_cache = cached
        return cached[1]

    def _seen_set(self, site: str, day: str, metric: str) -> set[str]:
        """The values already counted for a site, day and metric (this process)."""
        key = (site, day, metric)
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) > 4 * self.max_sites * 8:
                self._seen.clear()
            seen = self._seen[key] = set()
        return seen

    def _add_capped(
        self, tallies: dict[Tally, int], site: str, day: str, metric: str, counted: Counter[str]
    ) -> None:
        """Add one metric's counts (values in first-seen order) to ``tallies``,
        which holds none of this metric yet; as :meth:`_capped` value by value.

        Order matters only to the batch that crosses the cap. Before it, every
        value is kept; after it, exactly the values already seen are, so set
        operations and C-level ``zip`` and ``map`` do the work.
        """
        seen = self._seen_set(site, day, metric)
        new = counted.keys() - seen
        room = self.cardinality - len(seen)
        if new and 0 < room < len(new):
            capped = self._capped
            for value, n in counted.items():
                key = (site, day, metric, capped(site, day, metric, value))
                tallies[key] = tallies.get(key, 0) + n
            return
        values: Iterable[str] = counted
        other = 0
        if new and room > 0:
            seen.update(new)
        elif new:
            other = sum(map(counted.__getitem__, new))
            values = [v for v in counted if v not in new]
        keys = zip(repeat(site), repeat(day), repeat(metric), values)
        tallies.update(zip(keys, map(counted.__getitem__, values), strict=True))
        if other:
            key = (site, day, metric, OTHER)
            tallies[key] = tallies.get(key, 0) + other

    def _capped(self, site: str, day: str, metric: str, value: str) -> str:
        """``value``, or :data:`OTHER` once the metric has ``cardinality`` values."""
        seen = self._seen_set(site, day, metric)
        if value in seen:
            return value
        if len(seen) >= self.cardinality:
            return OTHER
        seen.add(value)
        return value

    # -- preparing -----------------------------------------------------------------
    def _visitor_hash(self, site: str, ip: str, ua: str, day: str) -> str | None:
        """The day's visitor hash, remembered for the rest of that day only.

        The memo is emptied when the day changes, so it never holds a hash
        whose salt is (about to be) destroyed; it saves recomputing the same
        keyed hash for every page view of a visit.
        """
        if self._vh_day != day:
            self._vh_memo.clear()
            self._vh_day = day
        key = (site, ip, ua)
        hit = self._vh_memo.get(key)
        if hit is not None:
            return hit
        try:
            value = self.hasher(site).visitor_hash(site, ip, ua)
        except SaltWindowClosed:
            return None
        if len(self._vh_memo) >= 100_000:
            self._vh_memo.clear()
        self._vh_memo[key] = value
        return value

    def prepare_events(
        self,
        events: Sequence[IncomingEvent],
        pref: Preference,
        *,
        user_agent: str,
        accept_language: str | None,
        ip: str,
        array: bool,
    ) -> Prepared:
        """Gate every event of one request; :class:`CollectError` names a refused one.

        The hot path of the service: the headers' dimensions (device, OS,
        region) are worked out once per request, and the per-event tallies
        are grouped before they are spread over their metrics. One event (the
        common request) takes the straight line of :meth:`_prepare_one`;
        arrays of :data:`COLUMNS_FROM` events or more take
        :meth:`_prepare_columns`, which gates them in one
        :meth:`Gate.check_json_many` pass. All ways give the same answer (a
        property test holds them to it).
        """
        if len(events) == 1:
            return self._prepare_one(
                events[0],
                pref,
                user_agent=user_agent,
                accept_language=accept_language,
                ip=ip,
                array=array,
            )
        if len(events) >= COLUMNS_FROM:
            return self._prepare_columns(
                events,
                pref,
                user_agent=user_agent,
                accept_language=accept_language,
                ip=ip,
                array=array,
            )
        now = time.time()
        day = self._day(now)
        device, os_family = device_of(user_agent or None)
        region = region_of(accept_language)
        rows: list[Row] = []
        tallies: dict[Tally, int] = {}
        #: (site, signal, kept, is a page view) -> events
        groups: dict[tuple[str, str, str, bool], int] = {}
        hashes: dict[str, str | None] = {}
        check = self.gate.check_json
        capped = self._capped
        header_dnt = pref.dnt.choice
        header_gpc = pref.gpc.enabled
        plain_signal = signal_class(header_dnt, header_gpc)
        plain_state = pref.state
        known = self._known_sites
        check_sites = self.allowed_sites is not None
        seen: dict[tuple[str, str], set[str]] = {}
        for i, ev in enumerate(events):
            site = ev.site
            if check_sites or site not in known:
                site = self.admit_site(site, f"events[{i}].site" if array else "site")
            if ev.dnt is None and not ev.gpc:
                p, state, signal = pref, plain_state, plain_signal
            else:
                p = self.tighten(pref, ev.dnt, ev.gpc)
                state = p.state
                said = "1" if "1" in (header_dnt, ev.dnt) else header_dnt or ev.dnt
                signal = signal_class(said, header_gpc or ev.gpc)
            vid = ev.visitor_id if state is _ALLOW else None
            if state is _DNT:
                vh = None
            elif site in hashes:
                vh = hashes[site]
            else:
                vh = hashes[site] = self._visitor_hash(site, ip, user_agent, day)
            ref = referrer_domain(ev.referrer_host, ev.host)
            # The raw row keeps only what the rollups and the person's export
            # need; the OS family and the signal class exist only as counts.
            fields: dict[str, object] = {
                "type": ev.type,
                "path": ev.path,
                "referrer_domain": ref,
                "device": device,
                "region": region,
            }
            if ev.props is not None:
                fields["props"] = ev.props
            if vid is not None:
                fields["visitor_id"] = vid
            try:
                enc = check("pageviews", fields, p, vid, vh)
            except GateError as exc:
                name = (exc.field or "").rpartition(".")[2]
                where = f"events[{i}]." if array else ""
                field = where + _GATE_TO_EVENT.get(name, name or "event")
                raise CollectError(f"{field}: {exc.message}", field=field) from None
            if enc is not None:
                rows.append((site, "pageviews", enc))
                kept = "with-id" if enc[1] is not None else "raw"
            else:
                kept = "counted-only"
            pageview = ev.type == "pageview"
            key = (site, signal, kept, pageview)
            groups[key] = groups.get(key, 0) + 1
            if pageview:
                paths = seen.get((site, "path"))
                if paths is None:
                    paths = seen[site, "path"] = self._seen_set(site, day, "path")
                    seen[site, "referrer"] = self._seen_set(site, day, "referrer")
                path = ev.path
                if path not in paths:
                    path = capped(site, day, "path", path)
                t: Tally = (site, day, "path", path)
                tallies[t] = tallies.get(t, 0) + 1
                if ref not in seen[site, "referrer"]:
                    ref = capped(site, day, "referrer", ref)
                t = (site, day, "referrer", ref)
                tallies[t] = tallies.get(t, 0) + 1
            else:
                t = (site, day, "event", capped(site, day, "event", ev.type))
                tallies[t] = tallies.get(t, 0) + 1
        kept_counts = self._count_groups(groups, tallies, day, device, os_family, region)
        return Prepared(rows, tallies, len(events), kept_counts)

    def _prepare_one(
        self,
        event: IncomingEvent,
        pref: Preference,
        *,
        user_agent: str,
        accept_language: str | None,
        ip: str,
        array: bool,
    ) -> Prepared:
        """:meth:`prepare_events` for one event: no loops, no grouping. Each of
        its counts is one, under a key of its own metric."""
        day = self._day(time.time())
        device, os_family = device_of(user_agent or None)
        region = region_of(accept_language)
        site, kind, path, host, ref_host, props, vid, dnt, gpc = event
        if self.allowed_sites is not None or site not in self._known_sites:
            site = self.admit_site(site, "events[0].site" if array else "site")
        header_dnt = pref.dnt.choice
        if dnt is None and not gpc:
            p = pref
            signal = signal_class(header_dnt, pref.gpc.enabled)
        else:
            p = self.tighten(pref, dnt, gpc)
            said = "1" if "1" in (header_dnt, dnt) else header_dnt or dnt
            signal = signal_class(said, pref.gpc.enabled or gpc)
        state = p.state
        if state is not _ALLOW:
            vid = None
        vh = None if state is _DNT else self._visitor_hash(site, ip, user_agent, day)
        ref = referrer_domain(ref_host, host)
        fields: dict[str, object] = {
            "type": kind,
            "path": path,
            "referrer_domain": ref,
            "device": device,
            "region": region,
        }
        if props is not None:
            fields["props"] = props
        if vid is not None:
            fields["visitor_id"] = vid
        try:
            enc = self.gate.check_json("pageviews", fields, p, vid, vh)
        except GateError as exc:
            name = (exc.field or "").rpartition(".")[2]
            field = ("events[0]." if array else "") + _GATE_TO_EVENT.get(name, name or "event")
            raise CollectError(f"{field}: {exc.message}", field=field) from None
        if enc is None:
            rows: list[Row] = []
            kept = "counted-only"
        else:
            rows = [(site, "pageviews", enc)]
            kept = "raw" if enc[1] is None else "with-id"
        capped = self._capped
        keys: list[Tally]
        if kind == "pageview":
            keys = [
                (site, day, "path", capped(site, day, "path", path)),
                (site, day, "referrer", capped(site, day, "referrer", ref)),
                (site, day, "kept", kept),
                (site, day, "pageviews", "total"),
                (site, day, "device", device),
                (site, day, "os", os_family),
                (site, day, "region", capped(site, day, "region", region)),
                (site, day, "signal", signal),
                (site, day, "adoption", f"{device}|{signal}"),
            ]
        else:
            keys = [
                (site, day, "event", capped(site, day, "event", kind)),
                (site, day, "kept", kept),
            ]
        return Prepared(rows, dict.fromkeys(keys, 1), 1, {kept: 1})

    def _prepare_columns(
        self,
        events: Sequence[IncomingEvent],
        pref: Preference,
        *,
        user_agent: str,
        accept_language: str | None,
        ip: str,
        array: bool,
    ) -> Prepared:
        """:meth:`prepare_events` for a batch: one loop that only sorts events
        into columns, the gate over the whole batch at once, and counting done
        by ``Counter`` over the columns (C loops, not Python ones)."""
        now = time.time()
        day = self._day(now)
        device, os_family = device_of(user_agent or None)
        region = region_of(accept_language)
        header_dnt = pref.dnt.choice
        header_gpc = pref.gpc.enabled
        plain_signal = signal_class(header_dnt, header_gpc)
        plain_state = pref.state
        known = self._known_sites
        check_sites = self.allowed_sites is not None
        hashes: dict[str, str | None] = {}
        batch: list[tuple[str, dict[str, object], Preference, str | None, str | None, None, None]]
        batch = []
        sites: list[str] = []
        signals: list[str] = []
        refs: list[str] = []
        gated: GatedBatch | None = None
        columns = (
            events.columns if type(events) is EventColumns else tuple(zip(*events, strict=True))
        )
        site_c, kind_c, path_c, host_c, refhost_c, props_c, vid_c, dnt_c, gpc_c = columns
        if set(dnt_c) == {None} and not any(gpc_c) and set(props_c) == {None}:
            # The common batch: the page's script said nothing the headers did
            # not, and no custom properties. Everything is decided once.
            for site in dict.fromkeys(site_c):  # first-seen order, as the loop
                if check_sites or site not in known:
                    where = f"events[{site_c.index(site)}].site" if array else "site"
                    self.admit_site(site, where)
            sites = list(site_c)
            signals = [plain_signal] * len(events)
            refs = list(map(referrer_domain, refhost_c, host_c))
            vh_of = {
                site: None if plain_state is _DNT else self._visitor_hash(site, ip, user_agent, day)
                for site in dict.fromkeys(site_c)
            }
            hashes_c = list(map(vh_of.__getitem__, site_c))
            if plain_state is _ALLOW and set(vid_c) != {None}:
                rows_in = [
                    {
                        "type": kind,
                        "path": path,
                        "referrer_domain": ref,
                        "device": device,
                        "region": region,
                        **({} if vid is None else {"visitor_id": vid}),
                    }
                    for kind, path, ref, vid in zip(kind_c, path_c, refs, vid_c, strict=True)
                ]
                batch = list(
                    zip(
                        repeat("pageviews"),
                        rows_in,
                        repeat(pref),
                        vid_c,
                        hashes_c,
                        repeat(None),
                        repeat(None),
                    )
                )
            else:
                # The gate takes the columns as they are: no dict per event.
                n = len(events)
                gated = self.gate.check_json_columns(
                    "pageviews",
                    {
                        "type": kind_c,
                        "path": path_c,
                        "referrer_domain": refs,
                        "device": [device] * n,
                        "region": [region] * n,
                    },
                    pref,
                    hashes_c,
                )
        else:
            add_event = batch.append
            add_site = sites.append
            add_signal = signals.append
            add_ref = refs.append
            for i, (site, kind, path, host, ref_host, props, vid, dnt, gpc) in enumerate(events):
                if check_sites or site not in known:
                    site = self.admit_site(site, f"events[{i}].site" if array else "site")
                if dnt is None and not gpc:
                    p, state, signal = pref, plain_state, plain_signal
                else:
                    p = self.tighten(pref, dnt, gpc)
                    state = p.state
                    said = "1" if "1" in (header_dnt, dnt) else header_dnt or dnt
                    signal = signal_class(said, header_gpc or gpc)
                if state is not _ALLOW:
                    vid = None
                if state is _DNT:
                    vh = None
                elif site in hashes:
                    vh = hashes[site]
                else:
                    vh = hashes[site] = self._visitor_hash(site, ip, user_agent, day)
                ref = referrer_domain(ref_host, host)
                fields: dict[str, object] = {
                    "type": kind,
                    "path": path,
                    "referrer_domain": ref,
                    "device": device,
                    "region": region,
                }
                if props is not None:
                    fields["props"] = props
                if vid is not None:
                    fields["visitor_id"] = vid
                add_event(("pageviews", fields, p, vid, vh, None, None))
                add_site(site)
                add_signal(signal)
                add_ref(ref)
        if gated is None:
            gated = self.gate.check_json_many(batch)
        if gated.refused:
            i, exc = gated.refused[0]
            name = (exc.field or "").rpartition(".")[2]
            where = f"events[{i}]." if array else ""
            field = where + _GATE_TO_EVENT.get(name, name or "event")
            raise CollectError(f"{field}: {exc.message}", field=field) from None
        rows: list[Row] = []
        kept = ["counted-only"] * len(events)
        for k, i in enumerate(gated.index):
            subject = gated.subjects[k]
            kept[i] = "raw" if subject is None else "with-id"
            enc = (gated.ts[k], subject, gated.visitor_hashes[k], gated.fields[k], gated.plans[k])
            rows.append((sites[i], "pageviews", enc))
        pageview = [kind == "pageview" for kind in kind_c]
        all_views = all(pageview)
        tallies: dict[Tally, int] = {}
        capped = self._capped
        one_site = len(set(sites)) == 1
        if one_site:
            # The common batch: one site's. Counting bare strings spares
            # building and hashing a tuple per event, and the caps are met by
            # set operations (see _add_capped).
            site = sites[0]
            viewed_paths = path_c if all_views else list(compress(path_c, pageview))
            viewed_refs = refs if all_views else list(compress(refs, pageview))
            self._add_capped(tallies, site, day, "path", Counter(viewed_paths))
            self._add_capped(tallies, site, day, "referrer", Counter(viewed_refs))
            if not all_views:
                kinds = Counter(compress(kind_c, map(not_, pageview)))
                for kind, n in kinds.items():
                    t: Tally = (site, day, "event", capped(site, day, "event", kind))
                    tallies[t] = tallies.get(t, 0) + n
        else:
            if all_views:
                paths = Counter(zip(sites, path_c, strict=True))
                from_refs = Counter(zip(sites, refs, strict=True))
            else:
                viewed = list(compress(sites, pageview))
                paths = Counter(zip(viewed, compress(path_c, pageview), strict=True))
                from_refs = Counter(zip(viewed, compress(refs, pageview), strict=True))
                other = list(map(not_, pageview))
                others = Counter(zip(compress(sites, other), compress(kind_c, other), strict=True))
                for (site, kind), n in others.items():
                    t = (site, day, "event", capped(site, day, "event", kind))
                    tallies[t] = tallies.get(t, 0) + n
            # Values meet the cardinality cap in the order the events came: a
            # Counter keeps the order keys were first seen, so this is that order.
            for metric, counted in (("path", paths), ("referrer", from_refs)):
                for (site, value), n in counted.items():
                    t = (site, day, metric, capped(site, day, metric, value))
                    tallies[t] = tallies.get(t, 0) + n
        if one_site and len(set(signals)) == 1:
            site, signal = sites[0], signals[0]
            by_kept = Counter(zip(kept, pageview, strict=True))
            groups = Counter({(site, signal, k, v): n for (k, v), n in by_kept.items()})
        else:
            groups = Counter(zip(sites, signals, kept, pageview, strict=True))
        kept_counts = self._count_groups(groups, tallies, day, device, os_family, region)
        return Prepared(rows, tallies, len(events), kept_counts)

    def _count_groups(
        self,
        groups: Mapping[tuple[str, str, str, bool], int],
        tallies: dict[Tally, int],
        day: str,
        device: str,
        os_family: str,
        region: str,
    ) -> dict[str, int]:
        """Spread the events grouped by (site, signal, what was kept, page view?)
        over their metrics; the events by what was kept, for the metrics."""
        capped = self._capped
        kept_counts: dict[str, int] = {}
        for (site, signal, kept, pageview), n in groups.items():
            kept_counts[kept] = kept_counts.get(kept, 0) + n
            keys: list[Tally] = [(site, day, "kept", kept)]
            if pageview:
                keys += [
                    (site, day, "pageviews", "total"),
                    (site, day, "device", device),
                    (site, day, "os", os_family),
                    (site, day, "region", capped(site, day, "region", region)),
                    (site, day, "signal", signal),
                    (site, day, "adoption", f"{device}|{signal}"),
                ]
            for t in keys:
                tallies[t] = tallies.get(t, 0) + n
        return kept_counts

    def prepare_open(
        self,
        site: str,
        campaign: str,
        token: str,
        pref: Preference,
        *,
        user_agent: str,
    ) -> Prepared:
        """One e-mail open; under do-not-track only the campaign's count."""
        now = time.time()
        day = self._day(now)
        device, _ = device_of(user_agent or None)
        signal = signal_class(pref.dnt.choice, pref.gpc.enabled)
        fields: dict[str, object] = {
            "campaign": campaign,
            "recipient": token,
            "device": device,
            "signal": signal,
        }
        try:
            enc = self.gate.check_json("email_opens", fields, pref)
        except GateError as exc:
            name = (exc.field or "").rpartition(".")[2] or "campaign"
            raise CollectError(f"{name}: {exc.message}", field=name) from None
        rows: list[Row] = [] if enc is None else [(site, "email_opens", enc)]
        tallies: dict[Tally, int] = {}
        capped = self._capped(site, day, "opens", campaign)
        _add(tallies, (site, day, "opens", capped))
        _add(tallies, (site, day, "opens_signal", f"{capped}|{signal}"))
        kept = "raw" if enc is not None else "counted-only"
        _add(tallies, (site, day, "kept", kept))
        return Prepared(rows, tallies, 1, {kept: 1})

    # -- the writer's side -------------------------------------------------------------
    def commit(self, batch: list[Prepared]) -> None:
        """Write one batch in one transaction: raw rows per site, then the tallies.

        Rows go in as columns (:meth:`Store.insert_columns`), turned from rows
        by ``zip`` (C, not a Python loop), and a plan's decision id is looked
        up once per batch, not once per row: the writer shares the core with
        the event loop.
        """
        by_site: dict[str, list[Row]] = {}
        tallies: dict[Tally, int] = {}
        for p in batch:
            if p.rows:
                site = p.rows[0][0]
                rows = by_site.get(site)
                if rows is None:
                    rows = by_site[site] = []
                if len(set(map(_SITE_OF, p.rows))) == 1:
                    rows.extend(p.rows)
                else:
                    for r in p.rows:
                        by_site.setdefault(r[0], []).append(r)
            if not tallies:
                tallies = dict(p.tallies)
            else:
                for key, n in p.tallies.items():
                    tallies[key] = tallies.get(key, 0) + n
        with self.root.transaction():
            for site, rows in by_site.items():
                if not rows:
                    continue
                led = self.ledger(site)
                _, datasets, encoded = zip(*rows, strict=True)
                ts, subjects, hashes, fields, plans = zip(*encoded, strict=True)
                plan_ids = list(map(id, plans))
                # Plans are shared by the rows one preference produced.
                distinct = dict(zip(plan_ids, plans, strict=True))
                ids = {k: led.decision_id(plan.explanation) for k, plan in distinct.items()}
                decisions = list(map(ids.__getitem__, plan_ids))
                led.store.insert_columns(datasets, ts, subjects, hashes, decisions, fields)
            self.tables.add_tallies(tallies)


def _add(tallies: dict[Tally, int], key: Tally) -> None:
    tallies[key] = tallies.get(key, 0) + 1
