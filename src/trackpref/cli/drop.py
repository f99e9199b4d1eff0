"""``trackpref drop``: process California DROP deletion lists."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import click

from trackpref.ledger.drop import DropError, import_list, read_list, status_csv
from trackpref.ledger.inventory import Inventory, InventoryError, Site, load_inventory
from trackpref.ledger.rights import DataRights
from trackpref.ledger.storage import Store, StoreError, open_store
from trackpref.ledger.webhooks import WebhookDispatcher, secret_from_env

__all__ = ["drop"]


def _open(db: str, site: str) -> Store:
    try:
        return open_store(db, site=site)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _inventory(path: str | None, site: str | None) -> Inventory:
    if path is not None:
        try:
            inv = load_inventory(path)
        except InventoryError as exc:
            raise click.ClickException(str(exc)) from None
        if site is not None and site != inv.site.name:
            raise click.ClickException(
                f"--site {site} does not match the inventory's site {inv.site.name}"
            )
        return inv
    if site is None:
        raise click.ClickException("say which site: --site NAME or --inventory FILE")
    return Inventory(site=Site(name=site), datasets=MappingProxyType({}))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def drop() -> None:
    """Process California DROP (Delete Act) deletion lists as a data broker.

    \b
    Examples:
      trackpref drop import email_list.csv --db ledger.db --inventory inventory.toml
      trackpref drop import phones.csv --list phone --db ledger.db --site news.example
      trackpref drop status --db ledger.db --site news.example --out status.csv
    """


@drop.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--db", required=True, help="The ledger store: a path, sqlite:///, postgresql://")
@click.option(
    "--inventory",
    "inventory_path",
    type=click.Path(dir_okay=False),
    help="The site's inventory (recipients are notified).",
)
@click.option("--site", help="The site, if no inventory is given.")
@click.option(
    "--list",
    "list_name",
    type=click.Choice(["email", "phone"]),
    help="Which DROP list (default: from the file name).",
)
@click.option("--batch", help="A name for this download (default: the file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_(
    file: str,
    db: str,
    inventory_path: str | None,
    site: str | None,
    list_name: str | None,
    batch: str | None,
    as_json: bool,
) -> None:
    """Match a DROP list (CSV: ID,Hash) against the subjects held; delete or opt out.

    A hash matching one subject deletes it (status 3); one matching several
    subjects opts them all out of sale and sharing (4); no match is 5. With
    --inventory, recipients with a deletion webhook are notified (secrets from
    TRACKPREF_WEBHOOK_SECRET_<RECIPIENT>).

    \b
    Examples:
      trackpref drop import drop_email_2026-08-01.csv --db ledger.db --inventory inventory.toml
    """
    inv = _inventory(inventory_path, site)
    name = list_name
    if name is None:
        stem = Path(file).name.lower()
        name = "email" if "email" in stem else "phone" if "phone" in stem else None
        if name is None:
            raise click.ClickException(f"{file}: say which list it is with --list email|phone")
    store = _open(db, inv.site.name)
    try:
        hooks = WebhookDispatcher(inv, store, secret_from_env) if inv.recipients else None
        rights = DataRights(inv, store, webhooks=hooks)
        try:
            report = import_list(
                rights, read_list(file), list_name=name, batch=batch or Path(file).stem
            )
        except DropError as exc:
            raise click.ClickException(exc.message) from None
        delivered = hooks.deliver_due() if hooks is not None else None
    finally:
        store.close()
    summary = report.as_dict()
    if delivered is not None:
        summary["webhooks"] = {
            "delivered": delivered.delivered,
            "retrying": delivered.retrying,
            "failed": delivered.failed,
        }
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(
        f"{file}: {summary['total']} items: {summary['deleted']} deleted, "
        f"{summary['opted_out']} opted out, {summary['exempted']} exempted, "
        f"{summary['not_found']} not found"
    )
    if delivered is not None and delivered.retrying:
        click.echo(f"{delivered.retrying} recipient notices will be retried", err=True)


@drop.command()
@click.option("--db", required=True, help="The ledger store: a path, sqlite:///, postgresql://")
@click.option(
    "--inventory", "inventory_path", type=click.Path(dir_okay=False), help="The site's inventory."
)
@click.option("--site", help="The site, if no inventory is given.")
@click.option("--batch", help="Only this download.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the CSV here.")
def status(
    db: str, inventory_path: str | None, site: str | None, batch: str | None, out: str | None
) -> None:
    """Write the DROP status file (CSV: ID,Status) for the items processed.

    \b
    Examples:
      trackpref drop status --db ledger.db --site news.example --out status.csv
      trackpref drop status --db ledger.db --site news.example --batch drop_email_2026-08-01
    """
    inv = _inventory(inventory_path, site)
    store = _open(db, inv.site.name)
    try:
        text = status_csv(store, batch=batch)
    finally:
        store.close()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)
