"""One running service: the store, the writer, the scheduler, the secrets.

:class:`Service` opens everything ``create_app`` needs from a
:class:`ServiceConfig` and owns its lifetime: the writer thread and the
scheduler start with the app's lifespan and stop with it (the writer first
writes what is queued), and the store is closed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from .._untrusted import whole_number
from ..ledger.inventory import Inventory, load_inventory, parse_inventory
from ..ledger.mailer import FileOutbox, Mailer, SMTPMailer
from ..ledger.rights import DataRights
from ..ledger.storage import Store, open_store
from ..ledger.verification import Verifier
from ..ledger.webhooks import WebhookDispatcher, secret_from_env
from ..signals.decisions import PartyRole
from ..signals.errors import SignalError
from ..signals.site_policy import SitePolicy
from ..web.consent import ConsentStore
from ..web.honoring import load_policy
from .auth import AdminAuth, ensure_admin_token
from .collector import Collector
from .config import ServiceConfig
from .ingest import GroupCommitter
from .jobs import Scheduler
from .metrics import ServiceMetrics
from .stats import TallyCache
from .tables import ServiceTables, TablesConsentStore, is_postgres

__all__ = ["SERVICE_SITE", "Service", "bundled_inventory", "default_policy"]

log = logging.getLogger("trackpref.service")

#: The root store's site: the service's own tables are not per site.
SERVICE_SITE = "_service"


def default_policy() -> SitePolicy:
    """The service's own declarations: a dynamic status, GPC honored, exceptions API on."""
    return SitePolicy(
        policy="/privacy",
        config="/privacy#consent",
        compliance=("https://www.w3.org/TR/2019/NOTE-tracking-compliance-20190122/",),
    )


def bundled_inventory() -> Inventory:
    text = resources.files("trackpref.service").joinpath("inventory.toml").read_text("utf-8")
    return parse_inventory(text, source="trackpref/service/inventory.toml")


#: gen0 threshold while serving (CPython's default is 700).
_GC_GEN0 = 20_000


def _tune_gc() -> None:
    """See ``ServiceConfig.tune_gc``. Warming the Public Suffix List first
    puts its ~10,000 entries among the frozen objects."""
    from ..signals.parties import registrable_domain

    registrable_domain("www.example.com")
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GC_GEN0, gen1, gen2)


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        *,
        policy: SitePolicy | str | Path | None = None,
        consent_store: ConsentStore | None = None,
    ) -> None:
        self.config = config
        self._tmpdir: str | None = None
        db = config.db
        if db is None:
            self._tmpdir = tempfile.mkdtemp(prefix="trackpref-serve-")
            db = str(Path(self._tmpdir) / "trackpref.db")
            config = self.config = config.replace(db=db)
        self.db = db
        self.inventory = (
            load_inventory(config.inventory) if config.inventory else bundled_inventory()
        )
        self.policy = load_policy(policy if policy is not None else default_policy())
        self.root: Store = open_store(db, site=SERVICE_SITE)
        try:
            self.tables = ServiceTables(self.root)
            self.tables.set_synchronous("FULL" if config.durability == "full" else "NORMAL")
            self.collector = Collector(
                self.inventory,
                self.root,
                self.tables,
                role=PartyRole.THIRD_PARTY,
                precedence=self.policy.precedence,
                sites=(*config.sites, config.demo_site)
                if config.sites and config.demo
                else config.sites,
                max_sites=config.max_sites,
            )
            self.metrics = ServiceMetrics()
            self.committer = GroupCommitter(
                self.collector.commit,
                max_events=config.batch_events,
                max_delay=config.batch_delay,
                linger=config.batch_linger,
                max_queued=config.max_queued,
            )
            self.committer.stats.observers.append(self.metrics.observe_batch)
            self.metrics.track_queue(lambda: self.committer.queued)
            # Everything that can still fail goes first: a token made now is
            # shown once, so a start that fails after making it would lose it.
            self.mailer = self._mailer()
            token_hash, self.new_admin_token = ensure_admin_token(self.tables, config.admin_token)
            self.auth = AdminAuth(self.tables, token_hash, secure=config.secure_cookies)
            self.consent_store: ConsentStore = consent_store or TablesConsentStore(self.tables)
            key, _ = self.tables.ensure_secret("verification_key", secrets.token_hex(32))
            self._verification_key = bytes.fromhex(key)
            self._rights: dict[str, DataRights] = {}
            self.tally_cache = TallyCache()
            self._lock = threading.Lock()
            self.scheduler = Scheduler(self, config.jobs) if config.run_jobs else None
        except BaseException:
            self.root.close()
            raise
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    # -- parts ------------------------------------------------------------------
    @property
    def postgres_dsn(self) -> str | None:
        return self.db if is_postgres(self.root) else None

    def _mailer(self) -> Mailer:
        cfg = self.config
        if cfg.smtp:
            host, port = smtp_address(cfg.smtp)
            return SMTPMailer(host, port, sender=cfg.smtp_sender)
        outbox = cfg.outbox_dir()
        try:
            return FileOutbox(outbox, sender=cfg.smtp_sender)
        except OSError as exc:
            raise SignalError(
                f"outbox: cannot use {outbox} as a folder ({exc.strerror})", field="outbox"
            ) from None

    def rights(self, site: str) -> DataRights:
        """The ledger's rights handling for one site's store."""
        found = self._rights.get(site)
        if found is None:
            with self._lock:
                found = self._rights.get(site)
                if found is None:
                    store = self.collector.store_for(site)
                    verifier = Verifier(
                        store,
                        self.mailer,
                        site_name=site,
                        secret=self._verification_key,
                    )
                    # Recipients with a deletion webhook are told of deletions and
                    # opt-outs; the "webhooks" job delivers what is queued.
                    hooks = (
                        WebhookDispatcher(self.inventory, store, secret_from_env)
                        if any(r.deletion_webhook for r in self.inventory.recipients.values())
                        else None
                    )
                    found = DataRights(
                        self.inventory,
                        store,
                        verifier=verifier,
                        precedence=self.policy.precedence,
                        webhooks=hooks,
                    )
                    self._rights[site] = found
        return found

    def outbox(self) -> FileOutbox | None:
        return self.mailer if isinstance(self.mailer, FileOutbox) else None

    # -- lifetime -----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await self.stop()

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.config.tune_gc:
            _tune_gc()
        self.committer.start()
        if self.scheduler is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self.scheduler.run()))

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 30)
        self._tasks.clear()
        await asyncio.to_thread(self.committer.stop)
        try:
            # A clean stop leaves the log empty: the counts are all keyed.
            await asyncio.to_thread(self.tables.fold_tallies)
        except Exception:  # the counts stay in the log; reads merge them
            log.exception("could not fold the tally log at shutdown")
        self.close()

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
        self.root.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def smtp_address(text: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` (port 587 when not given), checked before the first e-mail."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or port_text.endswith("]"):  # mail.example, or [::1] without a port
        host, port = text.strip(), 587
    else:
        port = whole_number(port_text, max_digits=5) or 0
        if not 0 < port < 65536:
            raise SignalError(f"smtp: {text!r}: the port must be 1-65535", field="smtp")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]  # [::1]:25
    if not host or any(c.isspace() or c in "/@[]" for c in host) or (":" in host) != bracketed:
        raise SignalError(f"smtp: {text!r}: write HOST or HOST:PORT", field="smtp")
    return host, port
