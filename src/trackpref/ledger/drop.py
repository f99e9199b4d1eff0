"""California DROP: deletion requests from the data-broker platform.

The Delete Act's Delete Request and Opt-out Platform hands each registered
data broker lists of hashed identifiers (one CSV per list, columns ``ID`` and
``Hash``). The broker standardizes its own identifiers the same way, hashes
them with SHA-256, matches, acts, and reports a status per item:

====  ==========================================================
 2    exempted (a legal exemption applies; the reason is recorded)
 3    deleted (the identifier matched exactly one consumer)
 4    opted out (the identifier is shared by several consumers, so
      deleting would delete others: their data is no longer sold
      or shared instead)
 5    not found
====  ==========================================================

Standardization (as the CPPA's technical specification describes it; the
exact rules here are our reading and are documented in ``docs/ledger.md``):
e-mail addresses are trimmed and lowercased; phone numbers keep their digits
only, with the country code (a ten-digit number is taken as North American
and gets ``1``). The hash is lowercase hex SHA-256 of the UTF-8 text.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trackpref.signals.errors import SignalError

from .audit_log import AuditLog
from .storage.base import DropItem, Store

if TYPE_CHECKING:
    from .rights import DataRights

__all__ = [
    "DropError",
    "DropStatus",
    "ImportReport",
    "hash_identifier",
    "import_list",
    "normalize_email",
    "normalize_phone",
    "read_list",
    "status_csv",
]

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_ID = 128
#: A DROP list holds one row per request; far more than this is not a DROP file.
MAX_ROWS = 50_000_000


class DropError(SignalError):
    """A DROP file cannot be read; names the file, line and column."""


class DropStatus(enum.IntEnum):
    EXEMPTED = 2
    DELETED = 3
    OPTED_OUT = 4
    NOT_FOUND = 5


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_phone(phone: str, *, default_country: str = "1") -> str:
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    if len(digits) == 10 and default_country:
        digits = default_country + digits
    return digits


def hash_identifier(kind: str, value: str) -> str:
    """Standardize ``value`` as a DROP ``kind`` ("email" or "phone") and hash it."""
    if kind == "email":
        text = normalize_email(value)
    elif kind == "phone":
        text = normalize_phone(value)
    else:
        raise DropError(f"unknown identifier list {kind!r} (email or phone)", field="list")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ImportReport:
    batch: str
    list_name: str
    counts: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "batch": self.batch,
            "list": self.list_name,
            "total": self.total,
            "deleted": self.counts.get(DropStatus.DELETED, 0),
            "opted_out": self.counts.get(DropStatus.OPTED_OUT, 0),
            "exempted": self.counts.get(DropStatus.EXEMPTED, 0),
            "not_found": self.counts.get(DropStatus.NOT_FOUND, 0),
        }


def read_list(path: str | Path) -> Iterator[tuple[str, str]]:
    """``(ID, Hash)`` pairs of one DROP CSV, with errors naming file, line and column."""
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DropError(f"{p}: cannot read: {exc.strerror or exc}", field="file") from None
    with fh:
        try:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DropError(f"{p}: empty file; expected a header 'ID,Hash'", field="file")
            names = [h.strip() for h in header]
            lowered = [h.lower() for h in names]
            if "id" not in lowered or "hash" not in lowered:
                raise DropError(
                    f"{p}:1: header {names!r} must have the columns ID and Hash", field="header"
                )
            i_id, i_hash = lowered.index("id"), lowered.index("hash")
            seen: set[str] = set()
            for n, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if n > MAX_ROWS:
                    raise DropError(f"{p}: more than {MAX_ROWS} rows", field="file")
                if len(row) != len(names):
                    raise DropError(
                        f"{p}:{n}: {len(row)} columns, the header has {len(names)}", field="row"
                    )
                item_id, digest = row[i_id].strip(), row[i_hash].strip().lower()
                if not item_id or len(item_id) > _MAX_ID or not item_id.isprintable():
                    raise DropError(f"{p}:{n}: column ID: not a DROP item id", field="ID")
                if not _HEX64.match(digest):
                    raise DropError(f"{p}:{n}: column Hash: not a SHA-256 hex digest", field="Hash")
                if item_id in seen:
                    raise DropError(f"{p}:{n}: column ID: {item_id!r} appears twice", field="ID")
                seen.add(item_id)
                yield item_id, digest
        except csv.Error as exc:
            raise DropError(f"{p}: not valid CSV: {exc}", field="file") from None
        except UnicodeDecodeError:
            raise DropError(f"{p}: not UTF-8 text", field="file") from None


def import_list(
    rights: DataRights,
    items: Iterable[tuple[str, str]],
    *,
    list_name: str,
    batch: str,
    exempt: Callable[[str], str | None] | None = None,
    clock: Callable[[], float] = time.time,
) -> ImportReport:
    """Match one list against the subjects held and act on every match.

    ``exempt(subject_id)`` returns a reason when a legal exemption keeps
    that subject's data (a pending legal hold, say); the item is then
    reported as exempted and the reason goes to the audit log.
    """
    if list_name not in ("email", "phone"):
        raise DropError(
            f"list {list_name!r}: only the email and phone lists are supported", field="list"
        )
    store: Store = rights.store
    audit: AuditLog = rights.audit
    pending = list(items)
    matches = store.subjects_by_hash(list_name, [h for _, h in pending])
    counts: dict[int, int] = {}
    for item_id, digest in pending:
        subjects = matches.get(digest, [])
        reasons = [r for r in (exempt(s) if exempt else None for s in subjects) if r]
        if not subjects:
            status = DropStatus.NOT_FOUND
        elif reasons:
            status = DropStatus.EXEMPTED
            audit.record(
                "drop.exempted",
                detail={"batch": batch, "list": list_name, "item": item_id, "reason": reasons[0]},
            )
        elif len(subjects) == 1:
            rights.delete(subjects[0], reason=f"DROP {batch} {list_name} item {item_id}")
            status = DropStatus.DELETED
        else:
            for sid in subjects:
                rights.opt_out(sid, reason=f"DROP {batch} {list_name} item {item_id} (shared)")
            status = DropStatus.OPTED_OUT
        store.record_drop_item(DropItem(list_name, item_id, int(status), clock(), batch))
        counts[int(status)] = counts.get(int(status), 0) + 1
    report = ImportReport(batch, list_name, counts)
    audit.record("drop.imported", detail=report.as_dict())
    return report


def status_csv(store: Store, *, batch: str | None = None) -> str:
    """The status file: ``ID,Status`` per processed item (CSV text)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ID", "Status"])
    for item in store.drop_items(batch=batch):
        writer.writerow([item.item_id, item.status])
    return out.getvalue()
