"""Raw events rolled up into k-anonymous daily aggregates, so the raw rows can go.

"Aggregate whenever possible": a site needs page views and unique visitors
per day, by referrer, device, region and signal state; it does not need to
keep who did what. :func:`rollup` turns raw event rows into exactly those
counts, per site and day, and passes every breakdown through
:mod:`.kanon` so that each published cell counts at least k people. The
storage layer calls it, stores the result and then drops the raw rows.

The unit k counts is the *visitor-day*: one daily visitor hash (see
:mod:`.salts`) on one site on one day. Events without a visitor hash (the
gate drops it under do-not-track) cannot be linked to one another. With
``hashless="one"`` (the default) all hashless events of a cell count as a
single unit: one do-not-track reader's ten page views must not pass for ten
people. ``hashless="event"`` makes each such event its own unit, which is
right only where one event per person is known (a form submitted once).

What is published, per site and day:

* ``total``: page views and unique visitors. A site-day with fewer than k
  units publishes nothing at all (``Rollup.withheld``).
* one breakdown per dimension. Small cells are generalized along the
  dimension's hierarchy (regions ``US-CA`` -> ``US`` -> ``other``) or merged
  into ``other``, so every unit of the site-day sits in exactly one published
  cell of at least k units: a breakdown's page views add up to the total, and
  no difference of published figures isolates fewer than k people.

Cells that include do-not-track users need ``required_k(k, eff_policy=...,
includes_dnt_users=True)``: 5000 on a site that posts the EFF policy.

Each breakdown is published on its own; cross-tabulations (referrer by region)
are not, since intersecting marginals is how small groups are usually
recovered.

Everything is NumPy grouping: one sort of ``(cell, visitor)`` keys per
dimension for the unique counts, bincounts for the rest. The generalization
applies :func:`.kanon.anonymize_partition`'s rules to every site-day at once
(one pass per hierarchy level); the tests check that both publish exactly the
same cells. Only a top cell still below k after climbing is handled cell by
cell, as it is rare.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from trackpref.signals.preference import PreferenceState

from .kanon import DEFAULT_K, Hierarchy, required_k

__all__ = [
    "DEFAULT_DIMENSIONS",
    "DEFAULT_HIERARCHIES",
    "MISSING",
    "TOTAL",
    "AggregateRow",
    "Categorical",
    "EventBatch",
    "Rollup",
    "RollupError",
    "RollupSpec",
    "rollup",
]

IntArray = npt.NDArray[np.int64]

#: Breakdowns published by default; "preference" is the resolved signal state.
DEFAULT_DIMENSIONS = ("referrer_domain", "device", "region", "preference")
#: Regions are ISO 3166-2 codes: "US-CA" generalizes to "US", then "other".
DEFAULT_HIERARCHIES: Mapping[str, Hierarchy] = MappingProxyType(
    {"region": Hierarchy(separator="-")}
)
#: The dimension name of the per-site-day totals.
TOTAL = "total"
#: The value of a dimension an event does not carry.
MISSING = "(none)"
_STATES = frozenset(s.value for s in PreferenceState)
_DNT = PreferenceState.DO_NOT_TRACK.value
_ROW_KEYS = ("site", "day", "visitor_hash", "preference")
_DENSE_LIMIT = 1 << 26


class RollupError(ValueError):
    """Bad input: names the row, the column and the value."""


@dataclass(frozen=True, slots=True)
class Categorical:
    """A factorized column: integer codes into ``categories``."""

    codes: IntArray
    categories: tuple[str, ...]

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes, dtype=np.int64)
        object.__setattr__(self, "codes", codes)
        if len(codes) and (codes.min() < 0 or codes.max() >= len(self.categories)):
            raise RollupError(f"codes out of range for {len(self.categories)} categories")

    @classmethod
    def from_values(cls, values: Iterable[object], *, name: str = "column") -> Categorical:
        index: dict[str, int] = {}
        codes: list[int] = []
        for i, v in enumerate(values):
            if v is None:
                v = MISSING
            elif not isinstance(v, str):
                raise RollupError(f"row {i}: {name}: must be a string, got {type(v).__name__}")
            codes.append(index.setdefault(str(v), len(index)))
        return cls(np.asarray(codes, dtype=np.int64), tuple(index))

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Raw events as columns: what the storage reads before dropping the rows.

    ``visitor`` holds one integer per distinct visitor hash (any numbering),
    ``-1`` for an event without one.
    """

    site: Categorical
    day: Categorical
    preference: Categorical
    visitor: IntArray
    dimensions: Mapping[str, Categorical] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.site)
        visitor = np.asarray(self.visitor, dtype=np.int64)
        object.__setattr__(self, "visitor", visitor)
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))
        lengths = {"day": len(self.day), "preference": len(self.preference)}
        lengths["visitor"] = len(visitor)
        lengths.update((name, len(col)) for name, col in self.dimensions.items())
        for name, size in lengths.items():
            if size != n:
                raise RollupError(f"{name}: {size} values for {n} events")
        if n and visitor.min() < -1:
            raise RollupError("visitor: codes must be >= 0, or -1 for no visitor hash")
        bad = [c for c in self.preference.categories if c not in _STATES]
        if bad:
            raise RollupError(f"preference: {bad[0]!r} is not one of {sorted(_STATES)}")
        for d in self.day.categories:
            try:
                dt.date.fromisoformat(d)
            except ValueError:
                raise RollupError(f"day: {d!r} is not an ISO date (YYYY-MM-DD)") from None

    def __len__(self) -> int:
        return len(self.site)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, object] | Sequence[object]],
        dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
    ) -> EventBatch:
        """From dicts (``site``, ``day`` or ``ts``, ``visitor_hash``, ``preference``
        and one key per dimension) or tuples in that order
        (``site, day, visitor_hash, preference, *dimensions``)."""
        dims = [d for d in dimensions if d != "preference"]
        names = (*_ROW_KEYS, *dims)
        columns: list[list[object]] = [[] for _ in names]
        for i, row in enumerate(rows):
            if isinstance(row, Mapping):
                if "day" not in row and "ts" in row:
                    row = {**row, "day": _day_of(row["ts"], i)}
                missing = [k for k in ("site", "day", "preference") if k not in row]
                if missing:
                    raise RollupError(f"row {i}: missing {', '.join(missing)}")
                for col, name in zip(columns, names, strict=True):
                    col.append(row.get(name))
            else:
                if len(row) != len(names):
                    raise RollupError(f"row {i}: {len(row)} values, expected {names!r}")
                for col, value in zip(columns, row, strict=True):
                    col.append(value)
        site, day, vh, pref, *rest = columns
        for i, s in enumerate(site):
            if type(s) is not str or not s:
                raise RollupError(f"row {i}: site: must be a non-empty string, got {s!r}")
        visitors: dict[str, int] = {}
        codes = np.empty(len(vh), dtype=np.int64)
        for i, h in enumerate(vh):
            if h is None:
                codes[i] = -1
            elif isinstance(h, str):
                codes[i] = visitors.setdefault(h, len(visitors))
            else:
                raise RollupError(f"row {i}: visitor_hash: must be a string or None")
        return cls(
            Categorical.from_values(site, name="site"),
            Categorical.from_values(day, name="day"),
            Categorical.from_values(pref, name="preference"),
            codes,
            {d: Categorical.from_values(c, name=d) for d, c in zip(dims, rest, strict=True)},
        )


def _day_of(ts: object, i: int) -> str:
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise RollupError(f"row {i}: ts: must be a number, got {ts!r}")
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class RollupSpec:
    """What to publish and how safely."""

    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    k: int = DEFAULT_K
    #: k for cells that include do-not-track users (raised to 5000 under the EFF policy).
    k_dnt: int | None = None
    eff_policy: bool = False
    hierarchies: Mapping[str, Hierarchy] = field(default_factory=lambda: DEFAULT_HIERARCHIES)
    hashless: Literal["event", "one"] = "one"

    def __post_init__(self) -> None:
        required_k(self.k, eff_policy=False, includes_dnt_users=False)
        if self.k_dnt is not None and self.k_dnt < self.k:
            raise RollupError(f"k_dnt: {self.k_dnt} is below k = {self.k}")
        if self.hashless not in ("event", "one"):
            raise RollupError(f"hashless: {self.hashless!r} is not 'event' or 'one'")
        if TOTAL in self.dimensions or len(set(self.dimensions)) != len(self.dimensions):
            raise RollupError(f"dimensions: {self.dimensions!r} repeat a name or use {TOTAL!r}")

    def k_for(self, *, includes_dnt: bool) -> int:
        base = max(self.k, self.k_dnt or self.k) if includes_dnt else self.k
        return required_k(base, eff_policy=self.eff_policy, includes_dnt_users=includes_dnt)


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One published cell."""

    site: str
    day: str
    #: ``"total"`` or a dimension name.
    dimension: str
    value: str
    pageviews: int
    #: Distinct visitor hashes.
    visitors: int
    #: What k was checked against: visitor-days plus hashless units.
    units: int
    k: int
    #: Whether the cell holds other values than its own (merged or coarsened).
    generalized: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "site": self.site,
            "day": self.day,
            "dimension": self.dimension,
            "value": self.value,
            "pageviews": self.pageviews,
            "visitors": self.visitors,
            "units": self.units,
            "k": self.k,
            "generalized": self.generalized,
        }


@dataclass(frozen=True, slots=True)
class _Recoding:
    """Where each original cell of one breakdown went, kept as arrays."""

    site: npt.NDArray[np.object_]
    day: npt.NDArray[np.object_]
    value: npt.NDArray[np.object_]
    published: npt.NDArray[np.object_]


class Rollup:
    """The published aggregates (``rows``) and what was held back."""

    __slots__ = ("_recodings", "events", "rows", "withheld")

    def __init__(
        self,
        rows: tuple[AggregateRow, ...],
        withheld: tuple[tuple[str, str], ...],
        events: int,
        recodings: Mapping[str, _Recoding],
    ) -> None:
        self.rows = rows
        #: Site-days with fewer than k units: nothing of them is published.
        self.withheld = withheld
        self.events = events
        self._recodings = recodings

    def table(self, dimension: str) -> list[AggregateRow]:
        return [r for r in self.rows if r.dimension == dimension]

    def mapping(self, dimension: str) -> dict[tuple[str, str, str], str]:
        """(site, day, original value) -> the published value it is counted under.

        Built on demand (it has one entry per original cell); site-days that
        were withheld have no entry.
        """
        try:
            rec = self._recodings[dimension]
        except KeyError:
            raise RollupError(f"dimension: no breakdown {dimension!r}") from None
        keys = zip(rec.site.tolist(), rec.day.tolist(), rec.value.tolist(), strict=True)
        return dict(zip(keys, rec.published.tolist(), strict=True))

    def __repr__(self) -> str:
        return (
            f"Rollup({self.events} events, {len(self.rows)} cells, "
            f"{len(self.withheld)} site-days withheld)"
        )


def _sorted_unique(values: IntArray, *, nearly_sorted: bool = False) -> IntArray:
    """``np.unique`` for large integer arrays: one sort and a mask.

    NumPy 2's ``np.unique`` takes a hash-table path that is several times
    slower on millions of integers; a stable sort is near-linear on input
    that is already sorted up to short runs.
    """
    out = np.sort(values, kind="stable" if nearly_sorted else None)
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def _dense_ids(raw: IntArray, space: int) -> tuple[IntArray, IntArray]:
    """Compact ids for ``raw`` values (< ``space``): (ids per element, sorted distinct raw)."""
    ids, distinct, _ = _dense(raw, space)
    return ids, distinct


def _dense(raw: IntArray, space: int) -> tuple[IntArray, IntArray, Callable[[IntArray], IntArray]]:
    """:func:`_dense_ids` plus the function mapping other raw values to their ids."""
    if space <= _DENSE_LIMIT:
        present = np.bincount(raw, minlength=space) > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        lookup = np.cumsum(present, dtype=np.int64) - 1

        def dense_lookup(values: IntArray) -> IntArray:
            return lookup[values]

        return lookup[raw], distinct, dense_lookup
    distinct = _sorted_unique(raw)

    def sparse_lookup(values: IntArray) -> IntArray:
        return np.searchsorted(distinct, values).astype(np.int64)

    return sparse_lookup(raw), distinct, sparse_lookup


class _VisitorDays:
    """Every hashed event's visitor-day, from one sort of the whole batch.

    ``order`` lists the hashed events sorted by (site-day, visitor); ``u`` is
    the dense visitor-day of each of them, so ``u`` is sorted. Keys built as
    ``u * width + x`` are then sorted up to short runs (one visitor's page
    views), which a stable sort finishes in near-linear time: one full sort
    serves every breakdown.
    """

    def __init__(self, group: IntArray, visitor: IntArray, hashed: npt.NDArray[np.bool_]) -> None:
        idx = np.flatnonzero(hashed)
        v = int(visitor[idx].max()) + 1 if len(idx) else 1
        key = group[idx] * v + visitor[idx]
        order = np.argsort(key)
        key = key[order]
        new = np.empty(len(key), dtype=bool)
        new[:1] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        self.order = idx[order]
        self.u = np.cumsum(new, dtype=np.int64) - 1
        self.n = int(self.u[-1]) + 1 if len(self.u) else 0
        self.group_of_u = group[self.order[new]]


class _Units:
    """Distinct visitors per cell, and unions of cells, from unique (visitor-day, cell) pairs."""

    def __init__(
        self,
        days: _VisitorDays,
        codes: IntArray | None,
        width: int,
        cell_of: Callable[[IntArray], IntArray],
        cell: IntArray,
        n_cells: int,
        hashed: npt.NDArray[np.bool_],
        hashless: str,
    ) -> None:
        if codes is None:  # the totals: one cell per site-day
            owner_u = np.arange(days.n, dtype=np.int64)
            owner = cell_of(days.group_of_u)
        else:
            key = days.u * width + codes[days.order]
            pairs = _sorted_unique(key, nearly_sorted=True)
            owner_u = pairs // width
            owner = cell_of(days.group_of_u[owner_u] * width + (pairs - owner_u * width))
        self.owner = owner
        self.visitor_of_pair = owner_u  # pairs are sorted by visitor-day
        self.visitors = np.bincount(owner, minlength=n_cells).astype(np.int64)
        self.hashless = np.bincount(cell[~hashed], minlength=n_cells).astype(np.int64)
        self.one = hashless == "one"
        extra = (self.hashless > 0).astype(np.int64) if self.one else self.hashless
        self.units = self.visitors + extra
        self._by_owner: tuple[IntArray, IntArray] | None = None
        self._cache: dict[tuple[int, ...], int] = {}

    def _visitors_of(self, c: int) -> IntArray:
        if self._by_owner is None:  # only the rare complementary merges need it
            order = np.argsort(self.owner, kind="stable")
            ptr = np.concatenate(([0], np.cumsum(self.visitors))).astype(np.int64)
            self._by_owner = (self.visitor_of_pair[order], ptr)
        values, ptr = self._by_owner
        return values[ptr[c] : ptr[c + 1]]

    def distinct_visitors(self, cells: Sequence[int]) -> int:
        if len(cells) == 1:
            return int(self.visitors[cells[0]])
        key = tuple(cells)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        parts = [self._visitors_of(c) for c in cells]
        count = len(_sorted_unique(np.concatenate(parts)))
        self._cache[key] = count
        return count

    def union(self, cells: Sequence[int]) -> int:
        if len(cells) == 1:
            return int(self.units[cells[0]])
        hl = [int(self.hashless[c]) for c in cells]
        extra = int(any(hl)) if self.one else sum(hl)
        return self.distinct_visitors(cells) + extra


@dataclass(frozen=True, slots=True)
class _Vocab:
    """Every label a breakdown's values can be published under, with parent links."""

    labels: tuple[str, ...]
    parent: IntArray  # -1 at the top
    height: IntArray  # steps left to the top
    of_category: IntArray

    @property
    def size(self) -> int:
        return len(self.labels)

    @classmethod
    def build(cls, categories: Sequence[str], hierarchy: Hierarchy | None) -> _Vocab:
        h = hierarchy or Hierarchy()
        index: dict[str, int] = {}
        parent: list[int] = []
        height: list[int] = []
        of_category = []
        for cat in categories:
            chain = h.chain(cat)
            for i in range(len(chain) - 1, -1, -1):  # top first, so parents exist
                label = chain[i]
                if label not in index:
                    index[label] = len(parent)
                    parent.append(index[chain[i + 1]] if i + 1 < len(chain) else -1)
                    height.append(len(chain) - 1 - i)
            of_category.append(index[cat])
        return cls(
            tuple(index),
            np.asarray(parent, dtype=np.int64),
            np.asarray(height, dtype=np.int64),
            np.asarray(of_category, dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class _GroupStats:
    gid: IntArray  # group of each selected cell
    keys: IntArray  # partition * vocab size + label, per group (sorted)
    members: IntArray
    visitors: IntArray
    units: IntArray
    k: IntArray

    @property
    def n(self) -> int:
        return len(self.keys)


class _Generalizer:
    """:func:`.kanon.anonymize_partition` (``generalize``, one dimension), vectorized.

    Same rules, all partitions at once: small cells climb the hierarchy level
    by level, deepest first; a small top cell takes the smallest published
    cells of its partition (the one step done cell by cell, as it is rare).
    """

    def __init__(
        self,
        units: _Units,
        cells: IntArray,
        cell_group: IntArray,
        cell_k: IntArray,
        vocab: _Vocab,
    ) -> None:
        self.units = units
        self.cells = cells
        self.part = cell_group[cells]
        self.k = cell_k[cells]
        self.vocab = vocab
        n_all = len(cell_group)
        self.local = np.full(n_all, -1, dtype=np.int64)
        self.local[cells] = np.arange(len(cells), dtype=np.int64)
        self.n_parts = int(cell_group.max()) + 1 if len(cell_group) else 0
        self.hashless = units.hashless[cells]

    def stats(self, label: IntArray) -> _GroupStats:
        size = self.vocab.size
        gid, keys = _dense_ids(self.part * size + label, max(self.n_parts, 1) * size)
        n = len(keys)
        members = np.bincount(gid, minlength=n)
        k = np.zeros(n, dtype=np.int64)
        np.maximum.at(k, gid, self.k)
        units = self.units
        visitors = np.zeros(n, dtype=np.int64)
        single = members[gid] == 1
        visitors[gid[single]] = units.visitors[self.cells[single]]
        multi = np.zeros(len(self.local), dtype=bool)
        multi[self.cells[~single]] = True
        if multi.any():
            owners = units.owner
            mask = multi[owners]
            # Pairs are sorted by visitor-day, so (visitor-day, group) keys nearly are.
            keyed = units.visitor_of_pair[mask] * n + gid[self.local[owners[mask]]]
            pairs = _sorted_unique(keyed, nearly_sorted=True)
            counted = np.bincount(pairs % n, minlength=n)
            multi_g = members > 1
            visitors[multi_g] = counted[multi_g]
        if units.one:
            hl = np.bincount(gid, weights=self.hashless > 0, minlength=n) > 0
            extra = hl.astype(np.int64)
        else:
            extra = np.bincount(gid, weights=self.hashless, minlength=n).astype(np.int64)
        return _GroupStats(gid, keys, members, visitors, visitors + extra, k)

    def run(self, cell_cat: IntArray) -> IntArray:
        vocab = self.vocab
        label = vocab.of_category[cell_cat[self.cells]].copy()
        if not len(label):
            return label
        for level in range(int(vocab.height.max()), 0, -1):
            st = self.stats(label)
            g_label = st.keys % vocab.size
            mover = (st.units < st.k) & (vocab.height[g_label] == level)
            if mover.any():
                moving = mover[st.gid]
                label[moving] = vocab.parent[label[moving]]
        st = self.stats(label)
        small = np.flatnonzero(st.units < st.k)
        if len(small):
            self._complete(label, st, small)
        return label

    def _complete(self, label: IntArray, st: _GroupStats, small: IntArray) -> None:
        """Merge the smallest cells of a partition into its top cell until it reaches k."""
        vocab = self.vocab
        size = vocab.size
        order = np.argsort(st.gid, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(st.members)))
        part_of_group = st.keys // size
        first = np.searchsorted(part_of_group, np.arange(self.n_parts + 1))
        for g in small.tolist():
            if vocab.height[st.keys[g] % size] != 0:
                raise RollupError("internal: a small cell below the top was left")
            p = int(part_of_group[g])
            top_cells = order[bounds[g] : bounds[g + 1]].tolist()
            need = int(st.k[g])
            rest = [
                (int(st.units[o]), vocab.labels[int(st.keys[o] % size)], o)
                for o in range(int(first[p]), int(first[p + 1]))
                if o != g
            ]
            rest.sort()
            count = int(st.units[g])
            for _, _, o in rest:
                if count >= need:
                    break
                top_cells.extend(order[bounds[o] : bounds[o + 1]].tolist())
                need = max(need, int(st.k[o]))
                count = self.units.union(self.cells[top_cells].tolist())
            label[top_cells] = st.keys[g] % size


def rollup(
    events: EventBatch | Iterable[Mapping[str, object] | Sequence[object]],
    spec: RollupSpec | None = None,
) -> Rollup:
    """Per-site daily aggregates of ``events``, every published cell k-anonymous."""
    spec = spec or RollupSpec()
    dims_wanted = spec.dimensions
    batch = events if isinstance(events, EventBatch) else EventBatch.from_rows(events, dims_wanted)
    n = len(batch)
    columns: dict[str, Categorical] = {}
    for d in dims_wanted:
        if d == "preference":
            columns[d] = batch.preference
        elif d in batch.dimensions:
            columns[d] = batch.dimensions[d]
        else:
            raise RollupError(f"dimensions: the events carry no {d!r} column")
    if n == 0:
        return Rollup(
            (),
            (),
            0,
            MappingProxyType({d: _Recoding(*[np.empty(0, dtype=object)] * 4) for d in dims_wanted}),
        )

    n_days = len(batch.day.categories)
    group_raw = batch.site.codes * n_days + batch.day.codes
    group, group_keys = _dense_ids(group_raw, len(batch.site.categories) * n_days)
    n_groups = len(group_keys)
    sites = [batch.site.categories[int(g) // n_days] for g in group_keys]
    days = [batch.day.categories[int(g) % n_days] for g in group_keys]

    visitor = batch.visitor
    hashed = visitor >= 0
    days_of = _VisitorDays(group, visitor, hashed)
    dnt_codes = [i for i, c in enumerate(batch.preference.categories) if c == _DNT]
    is_dnt = batch.preference.codes == dnt_codes[0] if dnt_codes else np.zeros(n, dtype=bool)

    totals = _Units(days_of, None, 1, lambda g: g, group, n_groups, hashed, spec.hashless)
    pageviews = np.bincount(group, minlength=n_groups)
    group_dnt = np.bincount(group[is_dnt], minlength=n_groups) > 0
    k_dnt = spec.k_for(includes_dnt=True)
    k_plain = spec.k_for(includes_dnt=False)
    group_k = np.where(group_dnt, k_dnt, k_plain)
    open_group = totals.units >= group_k

    rows: list[AggregateRow] = []
    withheld = [(sites[g], days[g]) for g in np.flatnonzero(~open_group).tolist()]
    for g in np.flatnonzero(open_group).tolist():
        rows.append(
            AggregateRow(
                sites[g],
                days[g],
                TOTAL,
                TOTAL,
                int(pageviews[g]),
                int(totals.visitors[g]),
                int(totals.units[g]),
                int(group_k[g]),
                False,
            )
        )

    recodings: dict[str, _Recoding] = {}
    site_arr = np.asarray(sites, dtype=object)
    day_arr = np.asarray(days, dtype=object)
    for d in dims_wanted:
        col = columns[d]
        n_cat = len(col.categories)
        cell, cell_keys, cell_of = _dense(group * n_cat + col.codes, n_groups * n_cat)
        n_cells = len(cell_keys)
        units = _Units(days_of, col.codes, n_cat, cell_of, cell, n_cells, hashed, spec.hashless)
        cell_pv = np.bincount(cell, minlength=n_cells)
        cell_k = np.where(np.bincount(cell[is_dnt], minlength=n_cells) > 0, k_dnt, k_plain)
        cell_group = cell_keys // n_cat
        cell_cat = cell_keys % n_cat
        vocab = _Vocab.build(col.categories, spec.hierarchies.get(d))
        gen = _Generalizer(units, np.flatnonzero(open_group[cell_group]), cell_group, cell_k, vocab)
        label = gen.run(cell_cat)
        stats = gen.stats(label)
        if (stats.units < stats.k).any():  # defence in depth: never publish below k
            raise RollupError(f"{d}: internal error, a cell below k survived generalization")
        cells = gen.cells
        pageviews_g = np.bincount(stats.gid, weights=cell_pv[cells], minlength=stats.n)
        moved = label != vocab.of_category[cell_cat[cells]]
        moved_g = np.bincount(stats.gid, weights=moved, minlength=stats.n) > 0
        generalized_g = moved_g | (stats.members > 1)
        g_part = (stats.keys // vocab.size).tolist()
        g_label = (stats.keys % vocab.size).tolist()
        for p, lab, pv, vis, un, kk, genz in zip(
            g_part,
            g_label,
            pageviews_g.astype(np.int64).tolist(),
            stats.visitors.tolist(),
            stats.units.tolist(),
            stats.k.tolist(),
            generalized_g.tolist(),
            strict=True,
        ):
            rows.append(
                AggregateRow(sites[p], days[p], d, vocab.labels[lab], pv, vis, un, kk, genz)
            )
        labels_arr = np.asarray(vocab.labels, dtype=object)
        cats_arr = np.asarray(col.categories, dtype=object)
        recodings[d] = _Recoding(
            site_arr[cell_group[cells]],
            day_arr[cell_group[cells]],
            cats_arr[cell_cat[cells]],
            labels_arr[label],
        )
    return Rollup(tuple(rows), tuple(withheld), n, MappingProxyType(recodings))
