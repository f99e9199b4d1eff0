"""``trackpref serve``."""

from __future__ import annotations

import contextlib
import errno
import socket
from pathlib import Path

import click

from .checks import FiniteRange, listen_host

__all__ = ["serve"]


def _job_intervals(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        name, sep, seconds = item.partition("=")
        try:
            out[name.strip()] = float(seconds)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: write NAME=SECONDS, e.g. retention=600", param_hint="--job-interval"
            ) from None
        if not sep:
            raise click.BadParameter(f"{item!r}: write NAME=SECONDS", param_hint="--job-interval")
    return out


def _listen(host: str, port: int) -> list[socket.socket]:
    """Bound sockets for every address of ``host``, as the server would make them.

    Binding here, before the service opens its store, means a host that does
    not resolve or cannot be bound stops the command before a one-time admin
    token is generated and stored (it would be printed and then lost), and it
    tells the banner the real port when ``--port 0`` picks one. The rules are
    asyncio's ``create_server``, which uvicorn uses when given a host: every
    address ``getaddrinfo`` gives, IPv6 sockets IPv6-only, an address the
    system has no interface for skipped. With port 0, later addresses take the
    port the first one got, so that one URL reaches them all.

    Raises:
        click.ClickException: naming the host (and port) and what is wrong.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except UnicodeError:  # Python's IDNA encoding: an empty or overlong label
        raise click.ClickException(f"--host {host!r}: not a valid host name") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL character
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.ClickException(f"--host {host!r}: cannot be resolved ({reason})") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:
                continue  # a family this system cannot open, as asyncio skips it
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
                # Listening now, not when uvicorn starts: a bound socket that is
                # not listening yet lets another SO_REUSEADDR socket bind the same
                # port, and the one that listens first takes it. The loser would
                # have printed its token, and under uvloop it would run with no
                # listener at all. 2048 is uvicorn's own backlog.
                sock.listen(2048)
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    sockets.pop().close()
                    continue
                raise click.ClickException(
                    f"--host {host!r} --port {port}: cannot listen on {address[0]}"
                    f" ({exc.strerror or exc})"
                ) from None
        if not sockets:
            raise click.ClickException(
                f"--host {host!r}: not an address of this machine, cannot listen on it"
            )
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=listen_host,
    help="Interface to listen on.",
)
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
    envvar="TRACKPREF_DB",
    help="SQLite file (created if missing) or postgresql://user@host/db for several "
    "instances (or set TRACKPREF_DB, which keeps a password off the command line).",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Site policy TOML for the service's own declarations (docs/site-policy.md).",
)
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Data inventory TOML (default: the bundled one; see docs/service.md).",
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    metavar="HOST",
    help="Accept events only for these sites (repeat). Default: any site, up to 1000.",
)
@click.option(
    "--mail-site",
    default="mail.localhost",
    show_default=True,
    help="The site e-mail opens count for when the pixel has no ?s=.",
)
@click.option(
    "--durability",
    type=click.Choice(["full", "normal"]),
    default="full",
    show_default=True,
    help="SQLite: full fsyncs each acknowledging commit (survives power loss); normal "
    "survives a killed process only.",
)
@click.option("--demo", is_flag=True, help="Also serve a demo publisher site at /demo/.")
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for verification e-mails in development (default: <db>.outbox).",
)
@click.option(
    "--smtp", metavar="HOST:PORT", help="Send verification e-mails through SMTP (STARTTLS)."
)
@click.option(
    "--smtp-sender",
    default="privacy@localhost.localdomain",
    show_default=True,
    help="From address of verification e-mails.",
)
@click.option(
    "--max-body",
    default=256 * 1024,
    show_default=True,
    type=click.IntRange(1024, 16 * 1024 * 1024),
    help="Largest collect request body, in bytes (413 above).",
)
@click.option(
    "--max-queued",
    default=50_000,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Events waiting for the writer before collect answers 503.",
)
@click.option(
    "--batch-delay-ms",
    default=20.0,
    show_default=True,
    type=FiniteRange(0.1, 1000),
    help="Longest a group commit stays open after its first request.",
)
@click.option(
    "--job-interval",
    multiple=True,
    metavar="NAME=SECONDS",
    help="Interval of a scheduled job: retention, salts, rollup or webhooks (repeat).",
)
@click.option("--no-jobs", is_flag=True, help="Do not run scheduled jobs in this instance.")
@click.option("--secure-cookies", is_flag=True, help="Mark cookies Secure (behind HTTPS).")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option("--no-access-log", is_flag=True, help="Do not log requests (they are still counted).")
def serve(
    host: str,
    port: int,
    db: str,
    policy: Path | None,
    inventory: Path | None,
    sites: tuple[str, ...],
    mail_site: str,
    durability: str,
    demo: bool,
    outbox: Path | None,
    smtp: str | None,
    smtp_sender: str,
    max_body: int,
    max_queued: int,
    batch_delay_ms: float,
    job_interval: tuple[str, ...],
    no_jobs: bool,
    secure_cookies: bool,
    log_level: str,
    no_access_log: bool,
) -> None:
    """Run the collection service: measurement that honors DNT and GPC, e-mail opens,
    a dashboard, a rights portal, and the service's own declarations (Tk,
    /.well-known/dnt/, /.well-known/gpc.json).

    The dashboard's admin token comes from TRACKPREF_ADMIN_TOKEN, or is generated
    at the first start and printed once.

    \b
    Examples:
      trackpref serve --demo                      then open http://127.0.0.1:8000/demo/
      trackpref serve --site news.example --db /var/lib/trackpref/stats.db
      trackpref serve --db postgresql://trackpref@db/stats --port 8001
      curl -H 'Sec-GPC: 1' http://127.0.0.1:8000/api/preference
    """
    import uvicorn

    from ..ledger.inventory import InventoryError
    from ..ledger.storage import StoreError
    from ..service import ServiceConfig, create_app
    from ..service.logs import configure_logging, uvicorn_log_config
    from ..signals.errors import SignalError

    configure_logging(log_level)
    sockets = _listen(host, port)
    with contextlib.ExitStack() as cleanup:
        for sock in sockets:
            cleanup.enter_context(sock)
        try:
            config = ServiceConfig(
                db=db,
                inventory=str(inventory) if inventory else None,
                sites=sites,
                mail_site=mail_site,
                durability=durability,
                demo=demo,
                outbox=str(outbox) if outbox else None,
                smtp=smtp,
                smtp_sender=smtp_sender,
                max_body=max_body,
                max_queued=max_queued,
                batch_delay=batch_delay_ms / 1000,
                jobs=_job_intervals(job_interval),
                run_jobs=not no_jobs,
                secure_cookies=secure_cookies,
                access_log=not no_access_log,
            )
            app = create_app(policy=policy, config=config)
        except (SignalError, StoreError, InventoryError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        service = app.state.service
        bound = sockets[0].getsockname()[1]
        base = f"http://{_url_host(host)}:{bound}"
        click.echo(f"trackpref serve on {base}/ (data in {service.root.url})")
        if service.new_admin_token:
            click.echo(
                "Admin token for the dashboard (shown once; only its hash is stored):\n"
                f"  {service.new_admin_token}"
            )
        if demo:
            click.echo(
                f"Demo: {base}/demo/   dashboard: {base}/dashboard   your data: {base}/rights"
            )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=bound,
                log_config=uvicorn_log_config(log_level),
                access_log=False,
                proxy_headers=False,
                timeout_graceful_shutdown=10,
            )
        )
        # uvicorn.run(), less what needs a host to bind: the sockets are ours.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=sockets)
        if not server.started:
            raise SystemExit(3)  # uvicorn's STARTUP_FAILURE; it has logged why
