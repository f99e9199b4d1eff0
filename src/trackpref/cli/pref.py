"""``trackpref pref``: the person's own preference, for every app on the device."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import click

from ..agent.preference_file import (
    PreferenceFileError,
    UserPreference,
    backup_file,
    load_preference,
    preference_lock,
    preference_path,
    save_preference,
)
from ..signals.errors import SignalError
from ..signals.preference import PreferenceState
from ..signals.tracking_exceptions import WILDCARD

__all__ = ["pref"]

_FILE_OPTION = click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Preference file to use instead of the per-user one (see 'trackpref pref path').",
)
_FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="If the file is unreadable, move it aside (FILE.broken-TIME) and start from unset.",
)


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a time no calendar holds
        return f"{ts:g} (not a date)"


@contextlib.contextmanager
def _changing(path: Path) -> Iterator[None]:
    """Hold the writers' lock for the whole load, change and save of one command.

    Without it, commands run at once each save only their own change and the
    last one wins (docs/preference-file.md, "Writing it").
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(preference_lock(path))
        except PreferenceFileError as exc:
            raise click.ClickException(f"{exc}\nNothing was changed.") from None
        yield


def _load_for_change(path: Path, force: bool) -> UserPreference:
    """The current preference; an unusable file is never silently replaced."""
    try:
        return load_preference(path)
    except PreferenceFileError as exc:
        if not force:
            raise click.ClickException(
                f"{exc}\nNothing was changed. Fix the file, or run again with --force to move "
                "it aside and start from 'unset'."
            ) from None
        moved = backup_file(path)
        click.echo(f"moved the unreadable file to {moved}", err=True)
        return UserPreference()


def _save(pref: UserPreference, path: Path) -> None:
    try:
        save_preference(pref, path)
    except PreferenceFileError as exc:
        raise click.ClickException(str(exc)) from None


def _sends(pref: UserPreference) -> str:
    headers = pref.header_values(None, "example.invalid", time.time())
    if not headers:
        return "nothing (no choice made: no DNT, no Sec-GPC)"
    return ", ".join(f"{k}: {v}" for k, v in headers.items())


def _path(file: Path | None) -> Path:
    """The subcommand's --file, else the group's, else the per-user file."""
    if file is not None:
        return file
    ctx = click.get_current_context()
    group_file = ctx.find_root().meta.get("trackpref.pref.file")
    return group_file if isinstance(group_file, Path) else preference_path()


@click.group()
@_FILE_OPTION
@click.pass_context
def pref(ctx: click.Context, file: Path | None) -> None:
    """Show or set your own tracking preference.

    The preference is one of three states, and nothing is sent until you choose:

    \b
      unset         no signal at all (the default)
      do-not-track  DNT: 1 and Sec-GPC: 1 on every request
      allow         DNT: 0 (you allow tracking)

    Exceptions send DNT: 0 to chosen sites whatever the general state. The file
    lives in your config directory and any app can read it
    (docs/preference-file.md); 'trackpref proxy' applies it to all traffic.

    \b
    Examples:
      trackpref pref set do-not-track
      trackpref pref allow news.example.com metrics.example.net
      trackpref pref allow '*.shop.example'     # all targets, on shop.example and subdomains
      trackpref pref revoke news.example.com
      trackpref pref show --json
      trackpref pref --file ./preference.json set allow   # another file than your own
    """
    if file is not None:
        ctx.meta["trackpref.pref.file"] = file


@pref.command()
@_FILE_OPTION
def path(file: Path | None) -> None:
    """Print where the preference file is (it may not exist yet).

    \b
    Examples:
      trackpref pref path
      cat "$(trackpref pref path)"
    """
    click.echo(str(_path(file)))


@pref.command()
@_FILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the file's document as JSON.")
def show(file: Path | None, as_json: bool) -> None:
    """Show the preference, its exceptions and what is sent.

    \b
    Examples:
      trackpref pref show
      trackpref pref show --json | jq -r .preference
      trackpref pref show --file ./preference.json
    """
    p = _path(file)
    try:
        current = load_preference(p)
    except PreferenceFileError as exc:
        if as_json:
            click.echo(json.dumps({"file": str(p), "error": exc.problem}, indent=2))
        raise click.ClickException(
            f"{exc}\nThe file was left as it is. Fix it, or use 'trackpref pref set ... --force' "
            "to move it aside and start again."
        ) from None
    if as_json:
        document = current.to_json()
        document["file"] = str(p)
        document["exists"] = p.exists()
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"preference: {current.state}")
    click.echo(f"sends:      {_sends(current)}")
    click.echo(f"file:       {p}{'' if p.exists() else ' (not created yet: unset)'}")
    click.echo(f"updated:    {_when(current.updated)}")
    grants = current.exceptions.grants
    if not grants:
        click.echo("exceptions: none")
        return
    now = time.time()
    click.echo(f"exceptions: {len(grants)} (DNT: 0 for these site/target pairs)")
    for grant in grants:
        pairs = ", ".join(f"[{d.site}, {d.target}]" for d in grant.duplets)
        expiry = "no expiry" if grant.expires is None else f"expires {_when(grant.expires)}"
        state = "" if grant.live(now) else " (expired)"
        label = f" {grant.name}:" if grant.name else ""
        click.echo(f"  -{label} {pairs}; granted {_when(grant.created)}, {expiry}{state}")


@pref.command(name="set")
@click.argument("state", type=click.Choice([s.value for s in PreferenceState]))
@_FILE_OPTION
@_FORCE_OPTION
def set_state(state: str, file: Path | None, force: bool) -> None:
    """Set the general preference: unset, do-not-track or allow.

    \b
    Examples:
      trackpref pref set do-not-track           # DNT: 1 and Sec-GPC: 1
      trackpref pref set allow                  # DNT: 0
      trackpref pref set unset                  # send nothing again
      trackpref pref set do-not-track --force   # the file is broken: move it aside first
    """
    p = _path(file)
    with _changing(p):
        current = _load_for_change(p, force)
        updated = current.with_state(state)
        _save(updated, p)
    click.echo(f"preference: {updated.state} (sends {_sends(updated)})")


def _hint(site: str) -> None:
    if site != WILDCARD and not site.startswith("*.") and site.count(".") == 1:
        click.echo(
            f"note: {site!r} covers that host only; write '*.{site}' to include its "
            "subdomains (www.…)",
            err=True,
        )


@pref.command()
@click.argument("site")
@click.argument("targets", nargs=-1)
@click.option(
    "--max-age",
    type=click.IntRange(1, 2**31 - 1),
    default=None,
    help="Seconds until the exception expires (default: never).",
)
@click.option("--name", default=None, help="A label shown by 'pref show'.")
@_FILE_OPTION
@_FORCE_OPTION
def allow(
    site: str,
    targets: tuple[str, ...],
    max_age: int | None,
    name: str | None,
    file: Path | None,
    force: bool,
) -> None:
    """Grant an exception: send DNT: 0 to TARGETs while on SITE.

    SITE and each TARGET are a host, '*.domain' (the domain and its subdomains)
    or '*'. No TARGET means every target on SITE; SITE '*' (web-wide) needs
    named TARGETs.

    \b
    Examples:
      trackpref pref allow news.example.com                      # every target on that host
      trackpref pref allow news.example.com metrics.example.net  # this one pair only
      trackpref pref allow '*.shop.example'                      # shop.example and subdomains
      trackpref pref allow '*' cdn.example.net                   # web-wide, for one target
      trackpref pref allow news.example.com --max-age 86400 --name News
    """
    p = _path(file)
    with _changing(p):
        current = _load_for_change(p, force)
        try:
            updated = current.allow(site, targets, now=time.time(), max_age=max_age, name=name)
        except SignalError as exc:
            raise click.BadParameter(exc.message, param_hint="SITE/TARGET") from None
        _save(updated, p)
    _hint(site)
    shown = ", ".join(targets) if targets else "every target"
    click.echo(f"exception granted: DNT: 0 to {shown} on {site}")


@pref.command()
@click.argument("site")
@click.argument("targets", nargs=-1)
@_FILE_OPTION
@_FORCE_OPTION
def revoke(site: str, targets: tuple[str, ...], file: Path | None, force: bool) -> None:
    """Revoke exceptions on SITE (only those naming a TARGET, if any are given).

    A grant is removed whole when any of its site/target pairs is named.

    \b
    Examples:
      trackpref pref revoke news.example.com                      # every grant on that site
      trackpref pref revoke news.example.com metrics.example.net  # only those naming the target
      trackpref pref revoke '*' cdn.example.net                   # a web-wide exception
    """
    p = _path(file)
    with _changing(p):
        current = _load_for_change(p, force)
        try:
            updated, removed = current.revoke(site, targets)
        except SignalError as exc:
            raise click.BadParameter(exc.message, param_hint="SITE/TARGET") from None
        if removed:
            _save(updated, p)
    if not removed:
        click.echo(f"no exception matched {site} {' '.join(targets)}".rstrip())
        return
    click.echo(f"revoked {removed} exception grant{'s' if removed != 1 else ''}")
