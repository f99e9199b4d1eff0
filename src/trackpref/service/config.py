"""Everything ``trackpref serve`` can be told, in one validated value.

The CLI builds it from options, tests build it directly; :func:`create_app`
takes it. Limits have defaults that keep memory bounded on a small machine:
at most ``max_inflight`` collect requests read bodies of at most ``max_body``
bytes at once, and at most ``max_queued`` events wait for the writer.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..signals.errors import SignalError
from .events import check_site

__all__ = ["DEFAULT_JOBS", "DURABILITY", "ServiceConfig"]

#: Seconds between runs of each scheduled job (exactly once per interval across instances).
DEFAULT_JOBS: Mapping[str, float] = MappingProxyType(
    {"retention": 600.0, "salts": 900.0, "rollup": 3600.0, "webhooks": 60.0}
)
DURABILITY = ("full", "normal")


def _default_instance() -> str:
    return f"{os.uname().nodename[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    #: A SQLite path, ``sqlite:///...`` or ``postgresql://...``; None: a throwaway file.
    db: str | None = None
    #: The inventory TOML; None: the bundled ``service/inventory.toml``.
    inventory: str | None = None
    #: Only these sites are accepted (host names); empty: any, up to ``max_sites``.
    sites: tuple[str, ...] = ()
    max_sites: int = 1000
    #: The site e-mail opens are counted for when the pixel does not say (``?s=``).
    mail_site: str = "mail.localhost"
    #: ``full``: SQLite fsyncs each acknowledging commit (survives power loss);
    #: ``normal``: survives a killed process, not a power cut (see docs/service.md).
    durability: str = "full"
    max_body: int = 256 * 1024
    max_events: int = 500
    max_inflight: int = 4096
    max_queued: int = 50_000
    batch_events: int = 2000
    batch_delay: float = 0.02
    batch_linger: float = 0.0
    #: The admin token; None: ``TRACKPREF_ADMIN_TOKEN``, else generated at first start.
    admin_token: str | None = None
    #: Where rights-request codes go in development (.eml files); None: next to the db.
    outbox: str | None = None
    smtp: str | None = None
    smtp_sender: str = "privacy@localhost.localdomain"
    demo: bool = False
    #: The demo publisher's site name.
    demo_site: str = "demo.localhost"
    jobs: Mapping[str, float] = field(default_factory=lambda: DEFAULT_JOBS)
    #: Run the scheduled jobs in this process.
    run_jobs: bool = True
    instance: str = field(default_factory=_default_instance)
    #: Send ``Secure`` cookies (set when served over HTTPS).
    secure_cookies: bool = False
    #: Log each request as one JSON line (collect successes are only counted).
    access_log: bool = True
    #: At startup, move what the service built (Public Suffix List, inventory,
    #: templates) out of the garbage collector's sight and collect the young
    #: generation less often: the collect path allocates many short-lived
    #: objects, and full collections walking the startup objects cost ~15 %
    #: of batched ingest. Process-wide; turn off when embedding the app.
    tune_gc: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.durability not in DURABILITY:
            problems.append(f"durability: {self.durability!r} is not full or normal")
        for name in ("max_body", "max_events", "max_inflight", "max_queued", "batch_events"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                problems.append(f"{name}: must be a positive whole number, not {value!r}")
        if not 0 < self.batch_delay <= 1:
            problems.append(f"batch_delay: {self.batch_delay} s is not in (0, 1]")
        if not 0 <= self.batch_linger <= self.batch_delay:
            problems.append("batch_linger: must be between 0 and batch_delay")
        sites: list[str] = []
        for s in self.sites:
            try:
                sites.append(check_site(s, "sites"))
            except SignalError as exc:
                problems.append(exc.message)
        object.__setattr__(self, "sites", tuple(sites))
        for name in ("mail_site", "demo_site"):
            try:
                object.__setattr__(self, name, check_site(getattr(self, name), name))
            except SignalError as exc:
                problems.append(exc.message)
        unknown = set(self.jobs) - set(DEFAULT_JOBS)
        if unknown:
            problems.append(
                f"jobs: unknown {', '.join(sorted(unknown))}; known: {', '.join(DEFAULT_JOBS)}"
            )
        for job, every in self.jobs.items():
            if not (isinstance(every, int | float) and every > 0):
                problems.append(f"jobs.{job}: the interval must be a positive number of seconds")
        object.__setattr__(self, "jobs", MappingProxyType({**DEFAULT_JOBS, **self.jobs}))
        if problems:
            raise SignalError("; ".join(problems), field="config")

    def replace(self, **changes: object) -> ServiceConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def outbox_dir(self) -> Path:
        if self.outbox:
            return Path(self.outbox)
        if self.db and "://" not in self.db:
            return Path(f"{self.db}.outbox")
        return Path("trackpref-outbox")
