"""``trackpref proxy``: apply the person's preference to all HTTP(S) traffic."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from .checks import listen_host

__all__ = ["proxy"]

_PATH = click.Path(dir_okay=False, path_type=Path)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.option(
    "--listen-host",
    default="127.0.0.1",
    show_default=True,
    callback=listen_host,
    help="Address to listen on.",
)
@click.option(
    "--listen-port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one; the port is printed at start).",
)
@click.option(
    "--preference", "preference_file", type=_PATH, help="Preference file (default: yours)."
)
@click.option("--trackers", type=_EXISTING, help="Tracker data in DuckDuckGo's TDS format.")
@click.option("--surrogates", type=_EXISTING, help="Surrogate scripts (DuckDuckGo's format).")
@click.option(
    "--privacy-config",
    type=_EXISTING,
    help="Per-site protection switches in DuckDuckGo's privacy-configuration format.",
)
@click.option(
    "--learn/--no-learn",
    default=True,
    show_default=True,
    help="Learn trackers from behaviour (identifiers on 3 sites), as Privacy Badger does.",
)
@click.option("--learned-file", type=_PATH, help="Where learned trackers are kept.")
@click.option(
    "--declarations/--no-declarations",
    default=True,
    show_default=True,
    help="Check trackers' TSR / gpc.json / EFF policy out of band, and spare those that comply.",
)
@click.option(
    "--mail-pixels/--no-mail-pixels",
    default=True,
    show_default=True,
    help="Block e-mail open pixels that mail clients fetch.",
)
@click.option(
    "--confdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="mitmproxy's directory for its CA certificate (default ~/.mitmproxy).",
)
@click.option(
    "--map-host",
    multiple=True,
    metavar="PATTERN=ADDRESS",
    help="Connect to ADDRESS for hosts matching PATTERN ('*.test=127.0.0.1'); repeatable.",
)
@click.option(
    "--set",
    "mitm_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a mitmproxy option (e.g. ssl_insecure=true); repeatable.",
)
@click.option("-v", "--verbose", count=True, help="Log decisions (-v) and every flow (-vv).")
def proxy(
    listen_host: str,
    listen_port: int,
    preference_file: Path | None,
    trackers: Path | None,
    surrogates: Path | None,
    privacy_config: Path | None,
    learn: bool,
    learned_file: Path | None,
    declarations: bool,
    mail_pixels: bool,
    confdir: Path | None,
    map_host: tuple[str, ...],
    mitm_options: tuple[str, ...],
    verbose: int,
) -> None:
    """Apply your preference to all HTTP(S) traffic of the apps that use this proxy.

    Sends DNT / Sec-GPC by your preference ('trackpref pref'): nothing while it is
    unset, DNT: 1 and Sec-GPC: 1 for do-not-track, DNT: 0 for allow and for your
    exceptions. Where you chose do-not-track it also blocks third-party trackers
    that declare no compliance (or strips their cookies), blocks e-mail open
    pixels, strips tracking parameters from navigations and trims referrers to
    other parties. HTTPS needs mitmproxy's CA (in --confdir) trusted by the app.

    \b
    Examples:
      trackpref proxy                                  # 127.0.0.1:8080
      trackpref proxy --listen-port 0 --trackers tds.json
      curl -x http://127.0.0.1:8080 http://example.com/
    """
    from ..agent.proxy_setup import ProxySetupError, build_addon, check_confdir

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("trackpref").setLevel(
        logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    )

    def announce(addrs: list[tuple[str, int]]) -> None:
        for host, port in addrs:
            shown = f"[{host}]" if ":" in host else host
            click.echo(f"trackpref proxy listening on http://{shown}:{port}")
        click.echo(f"preference file: {addon.watcher.path} ({addon.watcher.current().state})")
        sys.stdout.flush()

    try:
        addon = build_addon(
            preference_file=preference_file,
            trackers=trackers,
            surrogates=surrogates,
            privacy_config=privacy_config,
            learn=learn,
            learned_file=learned_file,
            declarations=declarations,
            mail_pixels=mail_pixels,
            map_host=list(map_host),
            on_running=announce,
        )
        check_confdir(_effective_confdir(confdir, mitm_options))
    except ProxySetupError as exc:
        raise click.ClickException(str(exc)) from None
    _check_free(listen_host, listen_port)
    for warning in addon_warnings(addon):
        click.echo(f"warning: {warning}", err=True)
    # The tracker list and the modules loaded so far live as long as the process:
    # keep them out of the cyclic collector, which otherwise walks them over and
    # over while mitmproxy churns through per-request objects.
    gc.collect()
    gc.freeze()

    async def run() -> None:
        from mitmproxy.options import Options
        from mitmproxy.tools.dump import DumpMaster

        settings: dict[str, object] = {"listen_host": listen_host, "listen_port": listen_port}
        if confdir is not None:
            settings["confdir"] = str(confdir)
        options = Options(**settings)
        master: Any = DumpMaster(options, with_termlog=verbose > 0, with_dumper=verbose > 1)
        try:
            master.options.set(*mitm_options)
        except Exception as exc:  # mitmproxy raises OptionsError and others
            raise click.ClickException(f"--set: {exc}") from None
        master.addons.add(addon)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, master.shutdown)
        await master.run()

    asyncio.run(run())


def _effective_confdir(confdir: Path | None, mitm_options: tuple[str, ...]) -> Path | None:
    """The folder mitmproxy will use: a later ``--set confdir=DIR`` overrides ``--confdir``."""
    for item in mitm_options:
        name, sep, value = item.partition("=")
        if sep and name.strip() == "confdir":
            confdir = Path(value)
    return confdir


def addon_warnings(addon: object) -> list[str]:
    from ..agent.addon import TrackprefAddon

    if not isinstance(addon, TrackprefAddon):
        return []
    problems = addon.knowledge.trackers.problems
    if not problems:
        return []
    shown = "; ".join(problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return [f"tracker data: skipped {len(problems)} malformed entries: {shown}{more}"]


def _check_free(host: str, port: int) -> None:
    """Say in our words that the port is taken, before mitmproxy says it in its own
    (its hint names a ``--mode`` option this command does not have)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # mitmproxy reports an unresolvable host itself
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"--listen-host {host} --listen-port {port}: already in use; "
                    "choose another port (--listen-port 0 picks a free one)"
                ) from None
