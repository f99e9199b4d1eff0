"""``trackpref serve``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--db",
    default="trackpref.db",
    show_default=True,
    help="SQLite file for consent records (created if missing).",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Site policy TOML (see docs/site-policy.md). Default: honor DNT and GPC.",
)
def serve(host: str, port: int, db: str, policy: Path | None) -> None:
    """Run the honoring site: it reads DNT / Sec-GPC, says what it will and will not
    do, serves /.well-known/dnt/ and /.well-known/gpc.json, and lets visitors grant
    and revoke exceptions.

    \b
    Examples:
      trackpref serve
      trackpref serve --port 8080 --db /var/lib/trackpref/site.db
      trackpref serve --policy site-policy.toml
      curl -H 'Sec-GPC: 1' http://127.0.0.1:8000/api/preference
    """
    import uvicorn

    from ..service import create_app
    from ..signals.errors import SignalError

    try:
        app = create_app(db=db, policy=policy)
    except SignalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"trackpref serve on http://{host}:{port}/ (consent records in {db})")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
