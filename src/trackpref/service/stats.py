"""The numbers behind the dashboard (``GET /api/stats``), per site and period.

Everything comes from data that holds no identifier: the day tallies (which
also count do-not-track page views, the only trace those leave), the
k-anonymous daily rollups (unique visitors, computed by the ledger from the
raw rows before they expire), the purge log and the rights requests' states.
One site per answer: no figure mixes two sites.

Cost does not grow with the number of events: the tallies hold one row per
site, day, dimension and value (values beyond a cap fold into ``(other)``),
so a day is at most a few hundred rows whether the site had a thousand page
views or ten million, and closed days are folded once and kept in memory
(:class:`TallyCache`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..ledger.inventory import Inventory
from ..ledger.storage import Store
from .classify import DEVICES, SIGNALS
from .tables import ServiceTables

__all__ = ["MAX_DAYS", "TallyCache", "site_stats"]

MAX_DAYS = 400
TOP = 10


def _top(counts: dict[str, int], n: int = TOP) -> list[tuple[str, int]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= n:
        return ranked
    head, rest = ranked[: n - 1], ranked[n - 1 :]
    return [*head, ("(other)", sum(v for _, v in rest))]


def _days(since: dt.date, until: dt.date) -> list[str]:
    return [(since + dt.timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]


#: One day's tallies folded by metric: metric -> value -> count.
DayTallies = dict[str, dict[str, int]]


class TallyCache:
    """Closed days' tallies, kept folded in memory.

    A day's tallies stop changing once the day is over (events are counted
    on the day the server receives them), except for its unique-visitor
    figure, which the rollup job adds a few hours later. So a closed day is
    cached once it has that figure, or once it ended long enough ago that
    the rollup has run (it publishes nothing for a day below k). A 30-day
    dashboard then reads one or two days from the database, whatever the
    traffic. Bounded: least recently used days go first.
    """

    def __init__(self, max_days: int = 4000, settle: float = 6 * 3600.0) -> None:
        self.max_days = max_days
        self.settle = settle
        self._days: dict[tuple[str, str], DayTallies] = {}
        self._lock = threading.Lock()

    def get(self, site: str, day: str) -> DayTallies | None:
        with self._lock:
            found = self._days.pop((site, day), None)
            if found is not None:
                self._days[site, day] = found  # most recently used last
            return found

    def put(self, site: str, day: str, tallies: DayTallies, *, now: float) -> None:
        end = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() + 86400
        if now < end or ("visitors" not in tallies and now < end + self.settle):
            return
        with self._lock:
            self._days[site, day] = tallies
            while len(self._days) > self.max_days:
                del self._days[next(iter(self._days))]


def _fold(rows: Iterable[tuple[str, str, str, int]]) -> dict[str, DayTallies]:
    out: dict[str, DayTallies] = {}
    for day, metric, value, n in rows:
        per_day = out.get(day)
        if per_day is None:
            per_day = out[day] = {}
        values = per_day.get(metric)
        if values is None:
            per_day[metric] = {value: n}
        else:
            values[value] = values.get(value, 0) + n
    return out


def _tallies_by_day(
    tables: ServiceTables, site: str, span: list[str], cache: TallyCache | None
) -> dict[str, DayTallies]:
    """Every day of ``span`` folded; cached days are not read again."""
    now = time.time()
    out: dict[str, DayTallies] = {}
    missing: list[str] = []
    for day in span:
        hit = cache.get(site, day) if cache is not None else None
        if hit is None:
            missing.append(day)
        else:
            out[day] = hit
    if missing:
        read = _fold(tables.tallies(site, since=missing[0], until=missing[-1]))
        for day in missing:
            tallies = read.get(day, {})
            out[day] = tallies
            if cache is not None:
                cache.put(site, day, tallies, now=now)
    return out


def site_stats(
    tables: ServiceTables,
    store: Store,
    inventory: Inventory,
    *,
    days: int = 30,
    today: dt.date | None = None,
    jobs: Iterable[str] = (),
    cache: TallyCache | None = None,
) -> dict[str, Any]:
    """The dashboard's data for one site over the last ``days`` days."""
    days = max(1, min(days, MAX_DAYS))
    until = today or dt.datetime.now(dt.UTC).date()
    since = until - dt.timedelta(days=days - 1)
    span = _days(since, until)
    days_tallies = _tallies_by_day(tables, store.site, span, cache)

    per_day: dict[str, int] = dict.fromkeys(span, 0)
    visitors: dict[str, int] = {}
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    adoption: dict[str, dict[str, int]] = {d: dict.fromkeys(SIGNALS, 0) for d in DEVICES}
    opens_by_signal: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SIGNALS, 0))
    for day, metrics in days_tallies.items():
        for metric, values in metrics.items():
            if metric == "pageviews":
                per_day[day] = values.get("total", 0)
            elif metric == "visitors":
                visitors[day] = values.get("total", 0)
            elif metric == "adoption":
                for value, n in values.items():
                    device, _, signal = value.partition("|")
                    counts = adoption.setdefault(device, dict.fromkeys(SIGNALS, 0))
                    if signal in counts:
                        counts[signal] += n
            elif metric == "opens_signal":
                for value, n in values.items():
                    campaign, _, signal = value.rpartition("|")
                    if signal in SIGNALS:
                        opens_by_signal[campaign][signal] += n
            else:
                target = sums[metric]
                for value, n in values.items():
                    target[value] += n

    signals = {s: sums["signal"].get(s, 0) for s in SIGNALS}
    total_signals = sum(signals.values())
    purges = [
        {
            "ts": p.ts,
            "dataset": p.dataset,
            "field": p.field,
            "rows": p.rows,
            "cutoff": p.cutoff,
            "retention": p.retention,
        }
        for p in store.purges()[-50:]
    ]
    now = time.time()
    requests = store.open_requests()
    by_status: dict[str, int] = defaultdict(int)
    for r in requests:
        by_status[r.status] += 1
    last_jobs = {}
    for job in jobs:
        last = tables.last_run(job)
        last_jobs[job] = None if last is None else {"finished_at": last[1], "outcome": last[2]}
    return {
        "site": store.site,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "pageviews": {
            "total": sum(per_day.values()),
            "by_day": [{"day": d, "pageviews": per_day.get(d, 0)} for d in span],
        },
        "visitors": {
            "note": "unique visitors per day, k-anonymous, from the daily rollups of raw rows; "
            "do-not-track visits keep no visitor hash and are not in them",
            "by_day": [{"day": d, "visitors": visitors[d]} for d in span if d in visitors],
        },
        "referrers": _top(dict(sums["referrer"])),
        "paths": _top(dict(sums["path"])),
        "devices": _top(dict(sums["device"])),
        "os": _top(dict(sums["os"])),
        "regions": _top(dict(sums["region"])),
        "events": _top(dict(sums["event"])),
        "signals": {
            "counts": signals,
            "shares": {
                s: (v / total_signals if total_signals else 0.0) for s, v in signals.items()
            },
            "by_platform": {
                d: {
                    "total": sum(c.values()),
                    "counts": c,
                    "shares": {
                        s: (v / sum(c.values()) if sum(c.values()) else 0.0) for s, v in c.items()
                    },
                }
                for d, c in adoption.items()
                if sum(c.values())
            },
        },
        "kept": {k: sums["kept"].get(k, 0) for k in ("with-id", "raw", "counted-only")},
        "campaigns": [
            {"campaign": c, "opens": n, "by_signal": opens_by_signal.get(c, {})}
            for c, n in _top(dict(sums["opens"]), 20)
        ],
        "retention": {
            "datasets": [
                {"dataset": ds.name, "kind": ds.kind.value, "retention": str(ds.retention)}
                for ds in inventory.datasets.values()
            ],
            "purges": purges,
            "jobs": last_jobs,
        },
        "rights": {
            "open": len(requests),
            "overdue": sum(1 for r in requests if r.due_at < now),
            "by_status": dict(by_status),
            "requests": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "regime": r.regime,
                    "status": r.status,
                    "received_at": r.received_at,
                    "due_at": r.due_at,
                }
                for r in requests[:50]
            ],
        },
    }
