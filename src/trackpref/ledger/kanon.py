"""k-anonymous aggregates: no published count describes fewer than k people.

A published aggregate is a table of cells (a key over some dimensions and a
count of people, or "units", in it). A cell of 3 people whose referrer was a
small forum tells whoever knows one of them where the other two came from;
k-anonymity forbids publishing any group smaller than k.

Dimensions are of two kinds. *Quasi-identifiers* (referrer, region, device,
...) are what might single someone out; they may be coarsened. The others
(site, day) split the table into independent *partitions*; they are never
coarsened, and each partition is treated on its own.

Two strategies for a cell below k:

``generalize`` (the default) never leaves anyone out. A small cell climbs its
dimension's :class:`Hierarchy` one step at a time (``US-CA`` -> ``US`` ->
``other``; a dimension without a hierarchy goes straight to ``other``),
merging with whatever cell already has that label, until it reaches k. If the
final all-``other`` cell is itself still below k, the smallest published cells
are merged into it until it is not. Every unit of the partition then sits in
exactly one published cell of at least k, so the cells partition the
population: totals are their sums, and the difference of any two published
figures (a total minus some cells) is again a union of cells of at least k.
Differencing reveals nothing smaller than k. A partition whose whole
population is below k publishes nothing at all, not even its total
(``withheld_partitions``).

``suppress`` drops small cells instead (after generalizing only along the
hierarchies given). Dropping alone is not safe once totals are published: a
total minus the published cells is exactly the suppressed remainder. So for
each *margin* the caller will publish (the grand total by default; in a
two-way table, the row and column totals), every margin group's suppressed
remainder must be empty or hold at least k units; if it does not, the
smallest published cell of that group is suppressed too (complementary
suppression), until no margin group has a remainder in 1..k-1. A margin
group that is entirely suppressed and below k is reported in
``withheld_totals``: its total must not be published either. Margins may
only use dimensions without a hierarchy (the values a total is taken over
must be the published ones). This is the
standard heuristic, not a full linear-programming audit: with several
overlapping margins, combinations of equations can still narrow a suppressed
cell down, so prefer ``generalize`` for anything with more than one margin.

Per-cell k: some cells must reach a higher k than the table's (aggregates
that include do-not-track users on a site that posts the EFF policy must
reach 5000). A merged cell must reach the highest k of its members.

Counts need not be additive: a unique-visitor count of a merged cell is not
the sum of its parts (one visitor may be in both). Pass ``count_of`` to count
a set of original cells exactly; a merged cell then holds as many units as
``count_of`` says, never the optimistic sum.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .inventory import DEFAULT_K, EFF_MIN_K

__all__ = [
    "DEFAULT_K",
    "EFF_MIN_K",
    "OTHER",
    "Hierarchy",
    "KAnonError",
    "KAnonymized",
    "PartitionResult",
    "PublishedCell",
    "Strategy",
    "WithheldTotal",
    "anonymize",
    "anonymize_partition",
    "required_k",
]

Key = tuple[str, ...]

#: The label every value generalizes to in the end.
OTHER = "other"
_MAX_DEPTH = 64


class KAnonError(ValueError):
    """Bad input to the anonymizer: the message names the cell or dimension."""


class Strategy(enum.StrEnum):
    GENERALIZE = "generalize"
    SUPPRESS = "suppress"


def required_k(declared_k: int, *, eff_policy: bool, includes_dnt_users: bool) -> int:
    """The k an aggregate must reach.

    The EFF DNT policy: a site that posts it may publish aggregates including
    DNT users only if no group smaller than 5000 can be reconstructed.
    """
    if type(declared_k) is not int or declared_k < 2:
        raise KAnonError(f"k: must be an integer of at least 2, got {declared_k!r}")
    if eff_policy and includes_dnt_users:
        return max(declared_k, EFF_MIN_K)
    return declared_k


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """How one dimension's values generalize, step by step, up to ``top``.

    ``parents`` names the parent of a value explicitly (``{"Paris": "FR"}``);
    with ``separator``, a value without an explicit parent drops its last
    ``separator``-part (``"US-CA"`` -> ``"US"`` with ``separator="-"``); any
    other value's parent is ``top``.
    """

    parents: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    separator: str | None = None
    top: str = OTHER

    def __post_init__(self) -> None:
        object.__setattr__(self, "parents", MappingProxyType(dict(self.parents)))
        if self.top in self.parents:
            raise KAnonError(f"hierarchy: the top {self.top!r} cannot have a parent")
        for value in self.parents:
            seen = {value}
            v: str | None = value
            while v is not None and v != self.top:
                v = self.parent(v)
                if v in seen:
                    raise KAnonError(f"hierarchy: cycle through {value!r}")
                if v is not None:
                    seen.add(v)
                if len(seen) > _MAX_DEPTH:
                    raise KAnonError(f"hierarchy: {value!r} is more than {_MAX_DEPTH} levels deep")

    def parent(self, value: str) -> str | None:
        """The next coarser value; ``None`` at the top."""
        if value == self.top:
            return None
        p = self.parents.get(value)
        if p is not None:
            return p
        if self.separator and self.separator in value:
            head = value.rsplit(self.separator, 1)[0]
            if head:
                return head
        return self.top

    def chain(self, value: str) -> tuple[str, ...]:
        """``value`` and every generalization of it, ending with ``top``."""
        out = [value]
        parent = self.parent(value)
        while parent is not None:
            out.append(parent)
            if len(out) > _MAX_DEPTH:
                raise KAnonError(f"hierarchy: {value!r} is more than {_MAX_DEPTH} levels deep")
            parent = self.parent(parent)
        return tuple(out)


#: A dimension without a declared hierarchy: any value -> "other".
FLAT = Hierarchy()


@dataclass(frozen=True, slots=True)
class PublishedCell:
    """One cell that may be published: at least ``k`` units."""

    key: Key
    count: int
    k: int
    #: The original cells rolled into this one (itself alone if not generalized).
    members: tuple[Key, ...]

    @property
    def generalized(self) -> bool:
        return self.members != (self.key,)


@dataclass(frozen=True, slots=True)
class WithheldTotal:
    """A total that must not be published: everything under it was suppressed and below k."""

    margin: tuple[str, ...]
    #: Values of the margin's dimensions (in ``margin`` order) and of the partition.
    values: Key
    partition: Key


@dataclass(frozen=True, slots=True)
class KAnonymized:
    dimensions: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    strategy: Strategy
    cells: tuple[PublishedCell, ...]
    #: Original cells published nowhere.
    suppressed: tuple[Key, ...]
    #: Partitions (values of the non-quasi-identifier dimensions, in order)
    #: whose population is below k: nothing of them is published, no total either.
    withheld_partitions: tuple[Key, ...]
    withheld_totals: tuple[WithheldTotal, ...] = ()

    def as_counts(self) -> dict[Key, int]:
        return {c.key: c.count for c in self.cells}

    def label_of(self) -> dict[Key, Key | None]:
        """Where each original (non-empty) cell went; ``None`` if suppressed."""
        out: dict[Key, Key | None] = {m: c.key for c in self.cells for m in c.members}
        out.update(dict.fromkeys(self.suppressed))
        return out


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """:func:`anonymize_partition`'s answer, by index into its inputs."""

    #: (label, member indices, count, k) per published cell.
    cells: tuple[tuple[Key, tuple[int, ...], int, int], ...]
    suppressed: tuple[int, ...]
    withheld: bool
    #: (margin positions, margin values) of totals that must not be published.
    withheld_totals: tuple[tuple[tuple[int, ...], Key], ...] = ()


class _Group:
    __slots__ = ("count", "exact", "k", "members")

    def __init__(self, members: list[int], count: int, k: int, exact: bool = True) -> None:
        self.members = members
        self.count = count
        self.k = k
        self.exact = exact

    @property
    def small(self) -> bool:
        return self.count < self.k


def anonymize_partition(
    labels: Sequence[Key],
    counts: Sequence[int],
    k: Sequence[int] | int,
    *,
    hierarchies: Sequence[Hierarchy | None],
    strategy: Strategy = Strategy.GENERALIZE,
    union: Callable[[Sequence[int]], int] | None = None,
    margins: Sequence[tuple[int, ...]] = ((),),
) -> PartitionResult:
    """The core, over one partition: quasi-identifier labels by position.

    ``labels[i]`` holds cell i's quasi-identifier values (distinct labels,
    counts above zero); ``k`` is one k for all or one per cell;
    ``hierarchies[j]`` generalizes position j (``None``: straight to
    ``other`` under ``generalize``, never under ``suppress``); ``union``
    counts the units of a set of cells when counts are not additive.
    """
    n = len(labels)
    ks = [k] * n if isinstance(k, int) else list(k)
    hier = list(hierarchies)
    width = len(hier)
    generalize = strategy is Strategy.GENERALIZE
    steps: list[Hierarchy | None] = [
        h if h is not None else (FLAT if generalize else None) for h in hier
    ]
    tops: Key = tuple(h.top if h is not None else OTHER for h in steps)

    def exact(g: _Group) -> int:
        if union is None or len(g.members) == 1:
            return g.count
        return union(g.members)

    def merged(parts: list[_Group]) -> _Group:
        if len(parts) == 1:
            return parts[0]
        members = [m for p in parts for m in p.members]
        kk = max(p.k for p in parts)
        if union is None:
            return _Group(members, sum(p.count for p in parts), kk)
        g = _Group(members, max(p.count for p in parts), kk, exact=False)
        if g.small:  # the lower bound does not settle it: count exactly
            g.count = union(members)
            g.exact = True
        return g

    groups: dict[Key, _Group] = {}
    for i in range(n):
        label = labels[i]
        if len(label) != width:
            raise KAnonError(f"cell {label!r}: {len(label)} values for {width} dimensions")
        if label in groups:
            raise KAnonError(f"cell {label!r}: appears twice")
        groups[label] = _Group([i], int(counts[i]), ks[i])

    def next_label(label: Key) -> Key | None:
        for j, h in enumerate(steps):
            if h is None:
                continue
            p = h.parent(label[j])
            if p is not None:
                return (*label[:j], p, *label[j + 1 :])
        return None

    def height(label: Key) -> int:
        """Steps left to the top: cells climb bottom-up, deepest first."""
        h = heights.get(label)
        if h is None:
            h = 0
            for j, hj in enumerate(steps):
                if hj is not None:
                    h += len(hj.chain(label[j])) - 1
            heights[label] = h
        return h

    heights: dict[Key, int] = {}
    # Generalize small cells one step per pass, the deepest first, so that a
    # parent ("US") waits for its small children ("US-NV") before it moves on.
    # Every move is upward, so this ends.
    while True:
        climbing = [(height(lab), lab) for lab, g in groups.items() if g.small]
        climbing = [(h, lab) for h, lab in climbing if h > 0]
        if not climbing:
            break
        deepest = max(h for h, _ in climbing)
        moves: dict[Key, list[Key]] = {}
        for h, label in climbing:
            if h == deepest:
                target = next_label(label)
                assert target is not None
                moves.setdefault(target, []).append(label)
        popped = {src: groups.pop(src) for srcs in moves.values() for src in srcs}
        for target, srcs in moves.items():
            parts = [popped[s] for s in srcs]
            existing = groups.pop(target, None)
            if existing is not None:
                parts.insert(0, existing)
            groups[target] = merged(parts)

    suppressed: list[int] = []
    withheld = False
    withheld_totals: list[tuple[tuple[int, ...], Key]] = []
    if generalize:
        top = groups.get(tops)
        if top is not None and top.small:
            for g in groups.values():  # "smallest" must mean the exact count
                if not g.exact:
                    g.count, g.exact = exact(g), True
            while top.small:
                rest = [(g.count, lab) for lab, g in groups.items() if lab != tops]
                if not rest:
                    break
                _, smallest = min(rest)
                top = merged([top, groups.pop(smallest)])
                groups[tops] = top
            if top.small:
                withheld = True
                suppressed = sorted(top.members)
                groups.clear()
    else:
        sup: dict[Key, _Group] = {lab: g for lab, g in groups.items() if g.small}
        for lab in sup:
            del groups[lab]
        changed = True
        while changed:
            changed = False
            withheld_totals = []
            for margin in margins:
                buckets: dict[Key, list[_Group]] = {}
                for lab, g in sup.items():
                    buckets.setdefault(tuple(lab[j] for j in margin), []).append(g)
                for mv, parts in buckets.items():
                    remainder = merged(parts) if len(parts) > 1 else parts[0]
                    if not remainder.small:
                        continue
                    pubs = [
                        (g.count, lab)
                        for lab, g in groups.items()
                        if tuple(lab[j] for j in margin) == mv
                    ]
                    if pubs:
                        _, smallest = min(pubs)
                        sup[smallest] = groups.pop(smallest)
                        changed = True
                        break
                    withheld_totals.append((margin, mv))
                if changed:
                    break
        suppressed = sorted(m for g in sup.values() for m in g.members)
        # Nothing published: the partition's total is safe only if it reaches k.
        withheld = not groups and bool(sup) and merged(list(sup.values())).small

    cells = []
    for label, g in groups.items():
        if not g.exact:
            g.count = exact(g)
        cells.append((label, tuple(sorted(g.members)), g.count, g.k))
    cells.sort(key=lambda c: c[0])
    return PartitionResult(tuple(cells), tuple(suppressed), withheld, tuple(withheld_totals))


def anonymize(
    cells: Mapping[Key, int],
    dimensions: Sequence[str],
    k: int = DEFAULT_K,
    *,
    quasi_identifiers: Sequence[str] | None = None,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    strategy: Strategy | str = Strategy.GENERALIZE,
    cell_k: Mapping[Key, int] | None = None,
    count_of: Callable[[Sequence[Key]], int] | None = None,
    margins: Sequence[Sequence[str]] = ((),),
) -> KAnonymized:
    """Make a table of counts k-anonymous (see the module docstring).

    ``cells`` maps a key (one value per dimension) to its count of units;
    ``quasi_identifiers`` (default: every dimension) may be coarsened, the
    other dimensions partition the table; ``cell_k`` raises k for some cells;
    ``margins`` (``suppress`` only) lists the totals that will be published,
    as tuples of quasi-identifier names (``()`` is the grand total).
    """
    dims = tuple(dimensions)
    if len(set(dims)) != len(dims):
        raise KAnonError(f"dimensions: names repeat in {dims!r}")
    qis = dims if quasi_identifiers is None else tuple(quasi_identifiers)
    unknown = [q for q in qis if q not in dims]
    if unknown:
        raise KAnonError(f"quasi_identifiers: {unknown!r} are not dimensions {dims!r}")
    hier = dict(hierarchies or {})
    stray = [h for h in hier if h not in qis]
    if stray:
        raise KAnonError(f"hierarchies: {stray!r} are not quasi-identifiers")
    try:
        strat = Strategy(strategy)
    except ValueError:
        raise KAnonError(f"strategy: {strategy!r} is not one of generalize, suppress") from None
    required_k(k, eff_policy=False, includes_dnt_users=False)
    qpos = [dims.index(q) for q in qis]
    ppos = [i for i in range(len(dims)) if dims[i] not in qis]
    mpos: list[tuple[int, ...]] = []
    for margin in margins:
        bad = [m for m in margin if m not in qis]
        if bad:
            raise KAnonError(f"margins: {bad!r} are not quasi-identifiers")
        # A total by a dimension that is also being coarsened would mix original
        # and generalized values; such totals are not covered, so refuse them.
        coarsened = [m for m in margin if m in hier]
        if coarsened and strat is Strategy.SUPPRESS:
            raise KAnonError(f"margins: {coarsened!r} have hierarchies; totals by them are unsafe")
        mpos.append(tuple(qis.index(m) for m in margin))

    partitions: dict[Key, list[Key]] = {}
    for key, count in cells.items():
        if type(key) is not tuple or len(key) != len(dims):
            raise KAnonError(f"cell {key!r}: must be a tuple of {len(dims)} values {dims!r}")
        for v in key:
            if type(v) is not str:
                raise KAnonError(f"cell {key!r}: values must be strings, got {v!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise KAnonError(f"cell {key!r}: count must be a non-negative integer, got {count!r}")
        if count:
            partitions.setdefault(tuple(key[i] for i in ppos), []).append(key)

    def kk(key: Key) -> int:
        extra = cell_k.get(key, k) if cell_k is not None else k
        return max(k, extra)

    published: list[PublishedCell] = []
    suppressed: list[Key] = []
    withheld: list[Key] = []
    withheld_totals: list[WithheldTotal] = []
    hier_seq = [hier.get(q) for q in qis]
    for part, keys in sorted(partitions.items()):
        keys.sort()
        union: Callable[[Sequence[int]], int] | None = None
        if count_of is not None:
            fn = count_of

            def union(
                idx: Sequence[int], keys: list[Key] = keys, fn: Callable[..., int] = fn
            ) -> int:
                return fn([keys[i] for i in idx])

        res = anonymize_partition(
            [tuple(key[i] for i in qpos) for key in keys],
            [cells[key] for key in keys],
            [kk(key) for key in keys],
            hierarchies=hier_seq,
            strategy=strat,
            union=union,
            margins=mpos,
        )

        def full(label: Key, part: Key = part) -> Key:
            out = [""] * len(dims)
            for i, v in zip(ppos, part, strict=True):
                out[i] = v
            for i, v in zip(qpos, label, strict=True):
                out[i] = v
            return tuple(out)

        for label, members, count, need in res.cells:
            published.append(
                PublishedCell(full(label), count, need, tuple(keys[m] for m in members))
            )
        suppressed.extend(keys[i] for i in res.suppressed)
        if res.withheld:
            withheld.append(part)
        withheld_totals.extend(
            WithheldTotal(tuple(qis[j] for j in m), mv, part) for m, mv in res.withheld_totals
        )
    return KAnonymized(
        dims,
        qis,
        strat,
        tuple(published),
        tuple(suppressed),
        tuple(withheld),
        tuple(withheld_totals),
    )
