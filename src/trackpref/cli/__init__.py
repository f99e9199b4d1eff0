"""The ``trackpref`` command.

Each subcommand lives in its own module under ``trackpref.cli`` and is imported
only when it is invoked, so ``trackpref pref show`` does not pay for Playwright
or mitmproxy, and a missing optional extra breaks only the command that needs it.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys

import click

from .. import __version__

__all__ = ["main"]

#: name -> (module, attribute, one-line help). Modules define a click command or group.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("trackpref.cli.serve", "serve", "Run the honoring site / collection service."),
    "audit": (
        "trackpref.cli.audit",
        "audit",
        "Check in a real browser whether sites honor DNT/GPC.",
    ),
    "pref": ("trackpref.cli.pref", "pref", "Show or set your own tracking preference."),
    "proxy": ("trackpref.cli.proxy", "proxy", "Apply your preference to all HTTP(S) traffic."),
    "mail": ("trackpref.cli.mail", "mail", "Find and remove e-mail tracking pixels and links."),
    "inventory": ("trackpref.cli.inventory", "inventory", "Check or render a data inventory."),
    "drop": ("trackpref.cli.drop", "drop", "Process California DROP deletion lists."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, short = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or "a module"

            @click.command(
                name=cmd_name, help=short, context_settings={"ignore_unknown_options": True}
            )
            @click.argument("args", nargs=-1, type=click.UNPROCESSED)
            def unavailable(args: tuple[str, ...]) -> None:
                raise click.ClickException(
                    f"'trackpref {cmd_name}' needs {missing}, which is not installed. "
                    "Install the matching extra, e.g. pip install 'trackpref[all]'."
                )

            return unavailable
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise
            # Output that cannot be written (a full disk behind a redirect):
            # say so, and do not try to flush the same output again at exit.
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - until the process ends
            # EIO may come from a read as well: do not guess which.
            verb = "read or write" if exc.errno == errno.EIO else "write"
            where = exc.filename or ("a file" if exc.errno == errno.EIO else "the output")
            raise click.ClickException(f"cannot {verb} {where}: {exc.strerror}") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trackpref")
def main() -> None:
    """Carry a person's Do Not Track / Global Privacy Control preference to every
    party that handles their data, make them honor it, and prove whether they do.

    \b
    Examples:
      trackpref serve                      # honoring site + service on ./trackpref.db
      trackpref pref set do-not-track      # your own choice, for every app
      trackpref audit https://example.test --out report/
    """
