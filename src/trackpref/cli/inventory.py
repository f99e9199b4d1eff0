"""``trackpref inventory``: check a data inventory and publish it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trackpref.ledger.inventory import Inventory, InventoryError, load_inventory
from trackpref.ledger.render import render_html, render_json

__all__ = ["inventory"]


def _load(path: str) -> Inventory:
    try:
        return load_inventory(path)
    except InventoryError as exc:
        for problem in exc.located:
            click.echo(str(problem), err=True)
        n = len(exc.located)
        raise click.ClickException(f"{path}: {n} problem{'s' if n != 1 else ''} found") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def inventory() -> None:
    """Check or render a data inventory (what a site keeps, why, for how long).

    \b
    Examples:
      trackpref inventory check inventory.toml
      trackpref inventory render inventory.toml --out privacy.html
      trackpref inventory render inventory.toml --format json
    """


@inventory.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print problems (or a summary) as JSON.")
def check(file: str, as_json: bool) -> None:
    """Validate FILE; every problem is printed as FILE:LINE: FIELD: message.

    \b
    Examples:
      trackpref inventory check inventory.toml
      trackpref inventory check inventory.toml --json
    """
    if as_json:
        try:
            inv = load_inventory(file)
        except InventoryError as exc:
            click.echo(json.dumps({"ok": False, "problems": [p.as_dict() for p in exc.located]}))
            raise SystemExit(1) from None
        click.echo(json.dumps({"ok": True, "datasets": len(inv.datasets)}))
        return
    inv = _load(file)
    fields = sum(len(d.fields) for d in inv.datasets.values())
    click.echo(
        f"{file}: OK: {len(inv.datasets)} datasets, {fields} fields, "
        f"{len(inv.recipients)} recipients"
    )


@inventory.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "json"]),
    default="html",
    show_default=True,
    help="A transparency page for people, or JSON for programs.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), help="Write here, not stdout."
)
def render(file: str, fmt: str, out: str | None) -> None:
    """Render FILE as a "what we collect and why" page or as JSON.

    \b
    Examples:
      trackpref inventory render inventory.toml --out public/privacy.html
      trackpref inventory render inventory.toml --format json > inventory.json
    """
    if out is not None and Path(out).resolve() == Path(file).resolve():
        raise click.BadParameter(f"{out} is the inventory itself", param_hint="--out")
    inv = _load(file)
    text = render_html(inv) if fmt == "html" else render_json(inv)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)
