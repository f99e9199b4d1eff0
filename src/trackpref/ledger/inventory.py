"""The data inventory: what a site keeps, why, for how long, and who gets it.

The inventory is a TOML file the site owner writes and the person can read. It
is also the schema the gate enforces: a field that is not declared here is not
stored, a purpose not listed is not recorded, a recipient not named is not sent
anything. One document serves the lawyer, the engineer and the visitor, so it
can never drift from what the code does.

Every problem found is reported at once, each with the file, the line and the
dotted field it concerns (``inventory.toml:14: datasets.pageviews.retention:
...``). tomllib keeps no positions, so :class:`_LineIndex` finds the line of a
key by reading the raw text alongside the parsed document.

Example::

    [site]
    name = "news.example"
    eff_dnt_policy = true

    [recipients.cdn]
    name = "Example CDN"
    kind = "processor"
    deletion_webhook = "https://cdn.example/privacy/delete"

    [datasets.pageviews]
    purposes = ["first-party-analytics", "security"]
    legal_basis = "legitimate-interests"
    retention = "10d"
    recipients = ["cdn"]

    [datasets.pageviews.fields.path]
    category = "user.behavior.browsing"
"""

from __future__ import annotations

import difflib
import enum
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from trackpref.signals.decisions import PERMITTED_USES, Purpose
from trackpref.signals.errors import ValidationError

from .durations import Duration, DurationError, Unit, parse_duration

__all__ = [
    "DEFAULT_K",
    "DEFAULT_RAW_LOG_RETENTION",
    "EFF_MIN_K",
    "RESERVED_FIELD_NAMES",
    "Dataset",
    "DatasetKind",
    "FieldSpec",
    "FieldType",
    "IdentifierKind",
    "Inventory",
    "InventoryError",
    "LegalBasis",
    "Problem",
    "PurposeSpec",
    "Recipient",
    "RecipientKind",
    "Sensitivity",
    "Site",
    "load_inventory",
    "parse_inventory",
]

#: k for published aggregates when a dataset does not say.
DEFAULT_K = 10
#: The EFF DNT policy: no aggregate may let anyone reconstruct a group smaller
#: than 5000 people or devices that includes DNT users.
EFF_MIN_K = 5000
#: Raw logs are short-lived unless a site deliberately says otherwise; the EFF
#: policy allows at most 10 days.
DEFAULT_RAW_LOG_RETENTION = Duration(10, Unit.DAYS)
#: How long the records of what was done are kept (the audit and purge logs,
#: finished rights requests, sent webhooks, ended consents): the CCPA
#: regulations (11 CCR § 7101) ask for at least 24 months of request records,
#: and storage limitation asks for no longer than needed.
DEFAULT_RECORDS_RETENTION = Duration(24, Unit.MONTHS)
#: Names the storage layer uses for its own columns.
RESERVED_FIELD_NAMES = frozenset(
    {"id", "site", "dataset", "ts", "subject", "subject_ref", "visitor_hash", "purposes"}
)
#: A string field declared without ``max_length`` is limited to this.
DEFAULT_MAX_LENGTH = 1024
_MAX_MAX_LENGTH = 1_000_000
#: A sensitive string is sealed as UTF-8 JSON, at most 4 bytes a character plus
#: its quotes, and the sealer takes at most 1 MiB (``crypto.MAX_PLAINTEXT``): a
#: longer ``max_length`` would let the gate admit what the sealer then refuses.
MAX_SEALED_LENGTH = ((1 << 20) - 2) // 4
_MAX_K = 1_000_000


class Sensitivity(enum.StrEnum):
    NONE = "none"
    PERSONAL = "personal"
    #: Encrypted at application level with the subject's own key.
    SENSITIVE = "sensitive"


class IdentifierKind(enum.StrEnum):
    NONE = "none"
    #: Links records to one browser or device (a cookie id, a device id).
    PSEUDONYMOUS = "pseudonymous"
    #: Names a person (e-mail, phone, account number).
    DIRECT = "direct"


class LegalBasis(enum.StrEnum):
    """GDPR Art. 6(1) bases; US law has no equivalent, so they serve both."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal-obligation"
    VITAL_INTERESTS = "vital-interests"
    PUBLIC_TASK = "public-task"
    LEGITIMATE_INTERESTS = "legitimate-interests"


class FieldType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"


class DatasetKind(enum.StrEnum):
    #: Event logs: short-lived by default (``raw_log_retention``).
    RAW = "raw"
    #: Rolled-up counts; published only k-anonymous.
    AGGREGATE = "aggregate"
    #: Records a person asked for (orders, accounts); kept as the basis says.
    RECORDS = "records"


class RecipientKind(enum.StrEnum):
    PROCESSOR = "processor"
    THIRD_PARTY = "third-party"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an inventory, located as precisely as possible."""

    field: str
    message: str
    file: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class InventoryError(ValidationError):
    """The inventory cannot be used; ``located`` holds every problem found."""

    def __init__(self, problems: list[Problem], *, source: str) -> None:
        self.located = tuple(problems)
        super().__init__([(p.field, p.message) for p in problems], source=source)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.located)


@dataclass(frozen=True, slots=True)
class PurposeSpec:
    """A purpose the site defines itself, beyond the signals core's list.

    Site-defined purposes are never permitted uses under do-not-track. A site
    may say which core purpose one ``counts_as`` (so that a first party's
    "newsletter-stats" is judged as first-party analytics); otherwise it is
    judged as a use that crosses contexts.
    """

    name: str
    description: str
    counts_as: Purpose | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    name: str
    kind: RecipientKind
    service_provider: bool
    purposes: tuple[str, ...] = ()
    deletion_webhook: str | None = None
    description: str = ""
    privacy_policy: str | None = None

    @property
    def is_third_party(self) -> bool:
        """A recipient that does not act for the site: closed under do-not-track."""
        return not self.service_provider

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "service_provider": self.service_provider,
            "purposes": list(self.purposes),
            "deletion_webhook": self.deletion_webhook,
            "description": self.description,
            "privacy_policy": self.privacy_policy,
        }


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    category: str
    purposes: tuple[str, ...]
    legal_basis: LegalBasis
    retention: Duration
    sensitivity: Sensitivity = Sensitivity.NONE
    identifier: IdentifierKind = IdentifierKind.NONE
    ai_training: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    description: str = ""

    @property
    def is_identifier(self) -> bool:
        return self.identifier is not IdentifierKind.NONE

    @property
    def is_sensitive(self) -> bool:
        return self.sensitivity is Sensitivity.SENSITIVE

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type.value,
            "category": self.category,
            "purposes": list(self.purposes),
            "legal_basis": self.legal_basis.value,
            "retention": self.retention.to_json(),
            "sensitivity": self.sensitivity.value,
            "identifier": self.identifier.value,
            "ai_training": self.ai_training,
            "max_length": self.max_length if self.type is FieldType.STRING else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "required": self.required,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    kind: DatasetKind
    purposes: tuple[str, ...]
    legal_basis: LegalBasis
    retention: Duration
    fields: Mapping[str, FieldSpec]
    k: int = DEFAULT_K
    #: k for aggregates that include do-not-track users (EFF: at least 5000).
    k_dnt: int = DEFAULT_K
    recipients: tuple[str, ...] = ()
    ai_training: bool = False
    description: str = ""

    def k_for(self, *, includes_dnt: bool) -> int:
        """The k a published aggregate of this dataset must reach."""
        return self.k_dnt if includes_dnt else self.k

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.fields.items() if f.is_identifier)

    @property
    def sensitive_fields(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.fields.items() if f.is_sensitive)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "description": self.description,
            "purposes": list(self.purposes),
            "legal_basis": self.legal_basis.value,
            "retention": self.retention.to_json(),
            "k": self.k,
            "k_dnt": self.k_dnt,
            "recipients": list(self.recipients),
            "ai_training": self.ai_training,
            "fields": [f.as_dict() for f in self.fields.values()],
        }


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    controller: str = ""
    contact: str = ""
    url: str | None = None
    eff_dnt_policy: bool = False
    raw_log_retention: Duration = DEFAULT_RAW_LOG_RETENTION
    records_retention: Duration = DEFAULT_RECORDS_RETENTION

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "controller": self.controller,
            "contact": self.contact,
            "url": self.url,
            "eff_dnt_policy": self.eff_dnt_policy,
            "raw_log_retention": self.raw_log_retention.to_json(),
            "records_retention": self.records_retention.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Inventory:
    site: Site
    datasets: Mapping[str, Dataset]
    recipients: Mapping[str, Recipient] = field(default_factory=lambda: MappingProxyType({}))
    purposes: Mapping[str, PurposeSpec] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<inventory>"

    def dataset(self, name: str) -> Dataset:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"dataset {name!r} is not declared in {self.source}") from None

    def is_permitted_use(self, purpose: str) -> bool:
        """A TCS permitted use; site-defined purposes never are."""
        return purpose in PERMITTED_USES

    def describe_purpose(self, purpose: str) -> str:
        spec = self.purposes.get(purpose)
        if spec is not None:
            return spec.description
        return _PURPOSE_TEXT.get(purpose, purpose)

    def as_dict(self) -> dict[str, object]:
        return {
            "version": 1,
            "site": self.site.as_dict(),
            "purposes": [
                {
                    "name": p.value,
                    "description": _PURPOSE_TEXT[p.value],
                    "permitted_use": p in PERMITTED_USES,
                    "site_defined": False,
                }
                for p in Purpose
                if any(p.value in d.purposes for d in self.datasets.values())
            ]
            + [
                {
                    "name": s.name,
                    "description": s.description,
                    "permitted_use": False,
                    "site_defined": True,
                    "counts_as": s.counts_as.value if s.counts_as else None,
                }
                for s in self.purposes.values()
            ],
            "recipients": [r.as_dict() for r in self.recipients.values()],
            "datasets": [d.as_dict() for d in self.datasets.values()],
        }


#: Plain-language text for the core purposes, shown on the transparency page.
_PURPOSE_TEXT = {
    Purpose.SECURITY.value: "Keeping the service secure and preventing fraud",
    Purpose.FREQUENCY_CAPPING.value: "Limiting how often you see the same ad",
    Purpose.FINANCIAL_LOGGING.value: "Billing and financial auditing",
    Purpose.DEBUGGING.value: "Finding and fixing errors",
    Purpose.LEGAL_COMPLIANCE.value: "Meeting legal obligations",
    Purpose.SHORT_TERM.value: "Short-term use, never to build a profile",
    Purpose.CORE_SERVICE.value: "Providing what you asked for",
    Purpose.FIRST_PARTY_ANALYTICS.value: "Understanding how this site is used",
    Purpose.CONTEXTUAL_ADVERTISING.value: "Ads based on the page, not on you",
    Purpose.MEASUREMENT.value: "Audience measurement by or for another party",
    Purpose.PERSONALIZATION.value: "Personalizing what you see",
    Purpose.TARGETED_ADVERTISING.value: "Ads targeted at you across sites",
    Purpose.PROFILING.value: "Building a profile of you",
    Purpose.SHARING.value: "Sharing with or selling to other companies",
    Purpose.AI_TRAINING.value: "Training AI models",
}

# --------------------------------------------------------------------------- #
# Loading and validation
# --------------------------------------------------------------------------- #

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
_PURPOSE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}\Z")
_RECIPIENT_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}\Z")
_CATEGORY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\Z")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}

_E = TypeVar("_E", bound=enum.StrEnum)

_TOP_KEYS = {"version", "site", "purposes", "recipients", "datasets"}
_SITE_KEYS = {
    "name",
    "controller",
    "contact",
    "url",
    "eff_dnt_policy",
    "raw_log_retention",
    "records_retention",
}
_PURPOSE_KEYS = {"description", "counts_as"}
_RECIPIENT_KEYS = {
    "name",
    "kind",
    "service_provider",
    "purposes",
    "deletion_webhook",
    "description",
    "privacy_policy",
}
_DATASET_KEYS = {
    "description",
    "kind",
    "purposes",
    "legal_basis",
    "retention",
    "k",
    "k_dnt",
    "recipients",
    "ai_training",
    "fields",
}
_FIELD_KEYS = {
    "type",
    "category",
    "purposes",
    "legal_basis",
    "retention",
    "sensitivity",
    "identifier",
    "ai_training",
    "max_length",
    "min",
    "max",
    "required",
    "description",
}


#: An inventory is a page or two of TOML; anything this large is a mistake.
MAX_INVENTORY_BYTES = 4 * 1024 * 1024


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file; raises :class:`InventoryError`."""
    p = Path(path)

    def refuse(message: str) -> InventoryError:
        return InventoryError([Problem("", message, str(p))], source=str(p))

    try:
        # A pipe would block and a device (/dev/zero) never end: regular files only.
        if not stat.S_ISREG(os.stat(p).st_mode):
            raise refuse("not a regular file (a folder, pipe or device)")
        with p.open("rb") as f:
            raw = f.read(MAX_INVENTORY_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_INVENTORY_BYTES:
        raise refuse(f"larger than {MAX_INVENTORY_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InventoryError(
            [Problem("", "the file is not UTF-8 text", str(p), line)], source=str(p)
        ) from None
    return parse_inventory(text, source=str(p))


def parse_inventory(text: str, *, source: str = "<inventory>") -> Inventory:
    """Parse and validate inventory TOML text; raises :class:`InventoryError`."""
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per level of nesting
        raise InventoryError(
            [Problem("", "not valid TOML: nested too deeply", source)], source=source
        ) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise InventoryError(
            [Problem("", f"not valid TOML: {msg}", source, line)], source=source
        ) from None
    builder = _Builder(doc, _LineIndex(text), source)
    inventory = builder.build()
    if builder.problems:
        located = sorted(builder.problems, key=lambda p: p.line or 0)
        raise InventoryError(located, source=source)
    assert inventory is not None
    return inventory


class _LineIndex:
    """Maps dotted key paths to the line that defines them in the raw text.

    It understands what a valid TOML document (already accepted by tomllib)
    can contain: table headers, arrays of tables, dotted and quoted keys,
    inline tables and multi-line strings and arrays. A key not found maps to
    the line of its nearest declared parent.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        self._scan(text)

    def line_of(self, path: tuple[str, ...]) -> int | None:
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None

    def _record(self, path: tuple[str, ...], line: int) -> None:
        for n in range(1, len(path) + 1):
            self.lines.setdefault(path[:n], line)
        self.lines[path] = line

    def _scan(self, text: str) -> None:
        table: tuple[str, ...] = ()
        array_counts: dict[tuple[str, ...], int] = {}
        in_multiline: str | None = None
        depth = 0  # open brackets of a multi-line array value
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if in_multiline is not None:
                if in_multiline in line:
                    in_multiline = None
                continue
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            if not line or line.startswith("#"):
                continue
            if line.startswith("[["):
                keys = _split_key(line[2 : line.index("]]")])
                count = array_counts.get(keys, 0)
                array_counts[keys] = count + 1
                table = (*keys, str(count))
                self._record(table, lineno)
                continue
            if line.startswith("["):
                table = _split_key(line[1 : _header_end(line)])
                self._record(table, lineno)
                continue
            eq = _assignment(line)
            if eq is None:
                continue
            key = _split_key(line[:eq])
            path = (*table, *key)
            self._record(path, lineno)
            value = line[eq + 1 :].lstrip()
            for quote in ('"""', "'''"):
                if value.startswith(quote) and value.count(quote) == 1:
                    in_multiline = quote
            if value.startswith("{"):
                for inner in re.finditer(r"([A-Za-z0-9_\-]+)\s*=", value):
                    self.lines.setdefault((*path, inner.group(1)), lineno)
            elif value.startswith("["):
                depth = _bracket_balance(value)


def _header_end(line: str) -> int:
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "]":
            return i
    return len(line)


def _assignment(line: str) -> int | None:
    """The index of the ``=`` that ends the key on a key/value line."""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return i
    return None


def _split_key(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    for ch in text.strip():
        if quote:
            if ch == quote:
                quote = None
            else:
                buf.append(ch)
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf).strip())
    return tuple(parts)


def _bracket_balance(text: str) -> int:
    balance = 0
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch == "[":
            balance += 1
        elif ch == "]":
            balance -= 1
    return balance


class _Builder:
    """Turns the parsed document into an :class:`Inventory`, collecting problems."""

    def __init__(self, doc: dict[str, Any], lines: _LineIndex, source: str) -> None:
        self.doc = doc
        self.index = lines
        self.source = source
        self.problems: list[Problem] = []

    # -- reporting ---------------------------------------------------------
    def problem(
        self, path: tuple[str, ...], message: str, at: tuple[str, ...] | None = None
    ) -> None:
        """Record a problem with ``path``; ``at`` locates it when the key is absent."""
        where = path if at is None or path in self.index.lines else at
        self.problems.append(
            Problem(".".join(path), message, self.source, self.index.line_of(where))
        )

    def table(self, value: object, path: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {_kind(value)}")
            return None
        return value

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: set[str], path: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in allowed:
                hint = _closest(key, allowed)
                extra = f" (did you mean {hint!r}?)" if hint else ""
                self.problem(
                    (*path, key), f"unknown key{extra}; allowed: {', '.join(sorted(allowed))}"
                )

    def string(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...], default: str | None = None
    ) -> str | None:
        value = table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem((*path, key), f"expected a string, got {_kind(value)}")
            return default
        if any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in value):
            self.problem((*path, key), "contains control characters")
            return default
        return value

    def boolean(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...], default: bool
    ) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem((*path, key), f"expected true or false, got {_kind(value)}")
            return default
        return value

    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        path: tuple[str, ...],
        default: int,
        low: int,
        high: int,
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem((*path, key), f"expected a whole number, got {_kind(value)}")
            return default
        if not low <= value <= high:
            self.problem((*path, key), f"{value} is out of range ({low}..{high})")
            return default
        return value

    def number(self, table: Mapping[str, Any], key: str, path: tuple[str, ...]) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem((*path, key), f"expected a number, got {_kind(value)}")
            return None
        return float(value)

    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        path: tuple[str, ...],
        enum_type: type[_E],
        default: _E | None,
    ) -> _E | None:
        value = table.get(key)
        if value is None:
            if default is None:
                self.problem((*path, key), f"required; one of {_choices(enum_type)}")
            return default
        if not isinstance(value, str):
            self.problem((*path, key), f"expected a string, got {_kind(value)}")
            return default
        try:
            return enum_type(value)
        except ValueError:
            self.problem((*path, key), f"{value!r} is not one of {_choices(enum_type)}")
            return default

    def duration(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...], default: Duration | None
    ) -> Duration | None:
        value = table.get(key)
        if value is None:
            if default is None:
                self.problem((*path, key), "required: a duration such as '30d' or '13 months'")
            return default
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.problem((*path, key), exc.message)
            return default

    def string_list(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...]
    ) -> list[str] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem((*path, key), "expected a list of strings")
            return None
        if len(set(value)) != len(value):
            self.problem((*path, key), "lists an entry twice")
        return list(value)

    def url(self, table: Mapping[str, Any], key: str, path: tuple[str, ...]) -> str | None:
        value = self.string(table, key, path)
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.hostname in _LOOPBACK
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            self.problem((*path, key), f"{value!r} must be an https:// URL (http only on loopback)")
            return None
        if not parts.hostname:
            self.problem((*path, key), f"{value!r} has no host")
            return None
        return value

    # -- sections ----------------------------------------------------------
    def build(self) -> Inventory | None:
        self.unknown_keys(self.doc, _TOP_KEYS, ())
        version = self.doc.get("version", 1)
        if version != 1:
            self.problem(("version",), f"unsupported inventory version {version!r} (expected 1)")
        site = self.site()
        purposes = self.purposes()
        recipients = self.recipients(purposes)
        datasets = self.datasets(site, purposes, recipients)
        if site is None:
            return None
        return Inventory(
            site=site,
            datasets=MappingProxyType(datasets),
            recipients=MappingProxyType(recipients),
            purposes=MappingProxyType(purposes),
            source=self.source,
        )

    def site(self) -> Site | None:
        path = ("site",)
        if "site" not in self.doc:
            self.problem(path, "missing [site] table (at least: name)")
            return None
        table = self.table(self.doc["site"], path)
        if table is None:
            return None
        self.unknown_keys(table, _SITE_KEYS, path)
        name = self.string(table, "name", path)
        if not name and not isinstance(table.get("name"), int | float | bool | list | dict):
            self.problem((*path, "name"), "required: the site's host name")
        eff = self.boolean(table, "eff_dnt_policy", path, False)
        raw = self.duration(table, "raw_log_retention", path, DEFAULT_RAW_LOG_RETENTION)
        assert raw is not None
        if eff and not raw.at_most(DEFAULT_RAW_LOG_RETENTION):
            self.problem(
                (*path, "raw_log_retention"),
                f"{raw} is longer than the 10 days the EFF DNT policy allows for logs",
            )
        records = self.duration(table, "records_retention", path, DEFAULT_RECORDS_RETENTION)
        assert records is not None
        if not Duration(1, Unit.DAYS).at_most(records):
            self.problem(
                (*path, "records_retention"),
                f"{records} is shorter than a day: a finished request's record must "
                "outlive the run that finishes it",
            )
        return Site(
            name=name or "?",
            controller=self.string(table, "controller", path, "") or "",
            contact=self.string(table, "contact", path, "") or "",
            url=self.url(table, "url", path),
            eff_dnt_policy=eff,
            raw_log_retention=raw,
            records_retention=records,
        )

    def purposes(self) -> dict[str, PurposeSpec]:
        out: dict[str, PurposeSpec] = {}
        table = self.table(self.doc.get("purposes", {}), ("purposes",))
        for name, spec in (table or {}).items():
            path = ("purposes", name)
            if name in {p.value for p in Purpose}:
                self.problem(path, f"{name!r} is a built-in purpose; do not redeclare it")
                continue
            if not _PURPOSE_NAME.match(name):
                self.problem(path, "purpose names are lowercase words joined by '-'")
                continue
            entry = self.table(spec, path)
            if entry is None:
                continue
            self.unknown_keys(entry, _PURPOSE_KEYS, path)
            description = self.string(entry, "description", path)
            if not description:
                self.problem((*path, "description"), "required: say in plain words what it is for")
            counts_as: Purpose | None = None
            raw = entry.get("counts_as")
            if raw is not None:
                try:
                    counts_as = Purpose(raw)
                except ValueError:
                    self.problem((*path, "counts_as"), f"{raw!r} is not a built-in purpose")
                if counts_as in PERMITTED_USES:
                    self.problem(
                        (*path, "counts_as"),
                        "a site-defined purpose cannot count as a permitted use; "
                        f"declare {counts_as!s} itself instead",
                    )
                    counts_as = None
            out[name] = PurposeSpec(name, description or "", counts_as)
        return out

    def check_purposes(
        self, names: list[str] | None, path: tuple[str, ...], custom: Mapping[str, PurposeSpec]
    ) -> tuple[str, ...]:
        known = {p.value for p in Purpose} | set(custom)
        good: list[str] = []
        for name in names or []:
            if name in known:
                good.append(name)
            else:
                hint = _closest(name, known)
                extra = f"did you mean {hint!r}? " if hint else ""
                self.problem(
                    path,
                    f"unknown purpose {name!r}: {extra}declare it under [purposes.{name}] "
                    "or use a built-in one",
                )
        return tuple(good)

    def recipients(self, purposes: Mapping[str, PurposeSpec]) -> dict[str, Recipient]:
        out: dict[str, Recipient] = {}
        table = self.table(self.doc.get("recipients", {}), ("recipients",))
        for rid, spec in (table or {}).items():
            path = ("recipients", rid)
            if not _RECIPIENT_ID.match(rid):
                self.problem(path, "recipient ids are lowercase letters, digits, '.', '_' or '-'")
                continue
            entry = self.table(spec, path)
            if entry is None:
                continue
            self.unknown_keys(entry, _RECIPIENT_KEYS, path)
            kind = (
                self.choice(entry, "kind", path, RecipientKind, None) or RecipientKind.THIRD_PARTY
            )
            sp = self.boolean(entry, "service_provider", path, kind is RecipientKind.PROCESSOR)
            if sp and kind is RecipientKind.THIRD_PARTY:
                self.problem(
                    (*path, "service_provider"),
                    "a third party is not a service provider; use kind = 'processor' "
                    "if it acts only for this site under contract",
                )
                sp = False
            name = self.string(entry, "name", path)
            if not name:
                self.problem((*path, "name"), "required: who receives the data")
            out[rid] = Recipient(
                id=rid,
                name=name or rid,
                kind=kind,
                service_provider=sp,
                purposes=self.check_purposes(
                    self.string_list(entry, "purposes", path), (*path, "purposes"), purposes
                ),
                deletion_webhook=self.url(entry, "deletion_webhook", path),
                description=self.string(entry, "description", path, "") or "",
                privacy_policy=self.url(entry, "privacy_policy", path),
            )
        return out

    def datasets(
        self,
        site: Site | None,
        purposes: Mapping[str, PurposeSpec],
        recipients: Mapping[str, Recipient],
    ) -> dict[str, Dataset]:
        out: dict[str, Dataset] = {}
        if "datasets" not in self.doc:
            self.problem(("datasets",), "missing: declare at least one [datasets.<name>]")
            return out
        table = self.table(self.doc["datasets"], ("datasets",))
        for name, spec in (table or {}).items():
            ds = self.dataset(name, spec, site, purposes, recipients)
            if ds is not None:
                out[name] = ds
        return out

    def dataset(
        self,
        name: str,
        spec: object,
        site: Site | None,
        custom: Mapping[str, PurposeSpec],
        recipients: Mapping[str, Recipient],
    ) -> Dataset | None:
        path = ("datasets", name)
        if not _NAME.match(name):
            self.problem(path, "dataset names are lowercase letters, digits and '_'")
            return None
        table = self.table(spec, path)
        if table is None:
            return None
        self.unknown_keys(table, _DATASET_KEYS, path)
        kind = self.choice(table, "kind", path, DatasetKind, DatasetKind.RAW) or DatasetKind.RAW
        raw_max = site.raw_log_retention if site else DEFAULT_RAW_LOG_RETENTION
        retention = (
            self.duration(table, "retention", path, raw_max if kind is DatasetKind.RAW else None)
            or raw_max
        )
        if kind is DatasetKind.RAW and not retention.at_most(raw_max):
            self.problem(
                (*path, "retention"),
                f"{retention} is longer than the raw-log limit of {raw_max} "
                "([site] raw_log_retention); roll raw events up instead",
            )
        declared = self.string_list(table, "purposes", path)
        if not declared:
            self.problem((*path, "purposes"), "required: at least one purpose")
        ds_purposes = self.check_purposes(declared, (*path, "purposes"), custom)
        basis = self.choice(table, "legal_basis", path, LegalBasis, None) or LegalBasis.CONSENT
        ai = self.boolean(table, "ai_training", path, False)
        if Purpose.AI_TRAINING.value in ds_purposes and not ai:
            self.problem(
                (*path, "ai_training"),
                "the dataset lists the purpose 'ai-training'; say ai_training = true",
                at=(*path, "purposes"),
            )
        k = self.integer(table, "k", path, DEFAULT_K, 2, _MAX_K)
        eff = site.eff_dnt_policy if site else False
        k_dnt = self.integer(table, "k_dnt", path, max(k, EFF_MIN_K) if eff else k, 2, _MAX_K)
        if eff and k_dnt < EFF_MIN_K:
            self.problem(
                (*path, "k_dnt"),
                f"{k_dnt} is below {EFF_MIN_K}: the EFF DNT policy this site posts requires "
                "aggregates including DNT users to cover at least 5000 people or devices",
            )
        if k_dnt < k:
            self.problem((*path, "k_dnt"), f"{k_dnt} is below k = {k}")
        rec = tuple(self.string_list(table, "recipients", path) or ())
        for rid in rec:
            if rid not in recipients:
                self.problem(
                    (*path, "recipients"), f"recipient {rid!r} is not declared under [recipients]"
                )
        fields = self.fields(path, table.get("fields"), ds_purposes, basis, retention, ai, custom)
        return Dataset(
            name=name,
            kind=kind,
            purposes=ds_purposes,
            legal_basis=basis,
            retention=retention,
            fields=MappingProxyType(fields),
            k=k,
            k_dnt=k_dnt,
            recipients=tuple(r for r in rec if r in recipients),
            ai_training=ai,
            description=self.string(table, "description", path, "") or "",
        )

    def fields(
        self,
        ds_path: tuple[str, ...],
        spec: object,
        ds_purposes: tuple[str, ...],
        basis: LegalBasis,
        retention: Duration,
        ai: bool,
        custom: Mapping[str, PurposeSpec],
    ) -> dict[str, FieldSpec]:
        path = (*ds_path, "fields")
        out: dict[str, FieldSpec] = {}
        if spec is None:
            self.problem(path, "required: declare the fields this dataset keeps")
            return out
        table = self.table(spec, path)
        if not table:
            if table is not None:
                self.problem(path, "declares no fields")
            return out
        for name, fspec in table.items():
            fpath = (*path, name)
            if not _NAME.match(name):
                self.problem(fpath, "field names are lowercase letters, digits and '_'")
                continue
            if name in RESERVED_FIELD_NAMES:
                self.problem(fpath, f"{name!r} is reserved by the ledger; choose another name")
                continue
            entry = self.table(fspec, fpath)
            if entry is None:
                continue
            self.unknown_keys(entry, _FIELD_KEYS, fpath)
            ftype = (
                self.choice(entry, "type", fpath, FieldType, FieldType.STRING) or FieldType.STRING
            )
            category = self.string(entry, "category", fpath)
            if not category:
                self.problem(
                    (*fpath, "category"), "required: a data category such as 'user.contact.email'"
                )
            elif not _CATEGORY.match(category):
                self.problem(
                    (*fpath, "category"),
                    f"{category!r}: categories are dotted lowercase words, "
                    "e.g. 'user.device.ip_address'",
                )
            f_ai = self.boolean(entry, "ai_training", fpath, ai)
            if f_ai and not ai:
                self.problem(
                    (*fpath, "ai_training"),
                    "the field may train AI models but its dataset says ai_training = false",
                )
            listed = self.string_list(entry, "purposes", fpath)
            if listed is None:
                # A field kept out of AI training does not inherit that purpose.
                purposes = tuple(p for p in ds_purposes if f_ai or p != Purpose.AI_TRAINING.value)
            else:
                purposes = self.check_purposes(listed, (*fpath, "purposes"), custom)
                if Purpose.AI_TRAINING.value in purposes and not f_ai:
                    self.problem(
                        (*fpath, "purposes"),
                        "lists 'ai-training' but the field says ai_training = false",
                    )
            for p in purposes:
                if p not in ds_purposes:
                    self.problem((*fpath, "purposes"), f"{p!r} is not among the dataset's purposes")
            f_retention = self.duration(entry, "retention", fpath, retention) or retention
            if not f_retention.at_most(retention):
                self.problem(
                    (*fpath, "retention"),
                    f"{f_retention} is longer than the dataset's retention of {retention}",
                )
            identifier = (
                self.choice(entry, "identifier", fpath, IdentifierKind, IdentifierKind.NONE)
                or IdentifierKind.NONE
            )
            default_sens = (
                Sensitivity.PERSONAL if identifier is not IdentifierKind.NONE else Sensitivity.NONE
            )
            sensitivity = (
                self.choice(entry, "sensitivity", fpath, Sensitivity, default_sens) or default_sens
            )
            if identifier is not IdentifierKind.NONE and sensitivity is Sensitivity.NONE:
                self.problem(
                    (*fpath, "sensitivity"),
                    "an identifier is personal data: use 'personal' or 'sensitive'",
                )
            max_length = self.integer(
                entry, "max_length", fpath, DEFAULT_MAX_LENGTH, 1, _MAX_MAX_LENGTH
            )
            if "max_length" in entry and ftype is not FieldType.STRING:
                self.problem((*fpath, "max_length"), "applies only to string fields")
            elif sensitivity is Sensitivity.SENSITIVE and max_length > MAX_SEALED_LENGTH:
                self.problem(
                    (*fpath, "max_length"),
                    f"a sensitive field is sealed, and a sealed string holds at most "
                    f"{MAX_SEALED_LENGTH:,} characters (1 MiB encrypted)",
                )
            minimum = self.number(entry, "min", fpath)
            maximum = self.number(entry, "max", fpath)
            if (minimum is not None or maximum is not None) and ftype not in (
                FieldType.INTEGER,
                FieldType.NUMBER,
            ):
                self.problem(fpath, "min and max apply only to integer and number fields")
            if minimum is not None and maximum is not None and minimum > maximum:
                self.problem((*fpath, "min"), f"min {minimum} is greater than max {maximum}")
            out[name] = FieldSpec(
                name=name,
                type=ftype,
                category=category or "unknown",
                purposes=purposes,
                legal_basis=self.choice(entry, "legal_basis", fpath, LegalBasis, basis) or basis,
                retention=f_retention,
                sensitivity=sensitivity,
                identifier=identifier,
                ai_training=f_ai,
                max_length=max_length,
                minimum=minimum,
                maximum=maximum,
                required=self.boolean(entry, "required", fpath, False),
                description=self.string(entry, "description", fpath, "") or "",
            )
        return out


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _choices(enum_type: type[enum.StrEnum]) -> str:
    return ", ".join(repr(e.value) for e in enum_type)


def _closest(word: str, options: set[str] | frozenset[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.75)
    return found[0] if found else None
