"""A real PostgreSQL server that the tests start and stop themselves.

It uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin``, the
newest one found), a data directory in a temporary folder, a free loopback
port and a Unix socket in that folder. TCP connections need a password
(scram-sha-256), so the code under test sees real credentials in its DSNs and
must keep them out of its messages.

Durability settings stay at their defaults (``fsync=on``, ``synchronous_commit
=on``): the durability tests run against this server. The only changes are
where it listens (127.0.0.1 only) and room for more connections than the
default 100, because a session's worth of tests share one server.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user that the Debian package creates (through
``runuser``), and that user owns the temporary folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

from .servers import free_port

__all__ = ["PostgresServer", "find_pg_bin"]

#: What ``make test`` does when the server is missing; every error says it.
INSTALL_HINT = "run `make test` as root, or `sudo bash scripts/install-system-deps.sh`"

_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_pg_bin() -> Path | None:
    """The ``bin`` folder of the newest PostgreSQL server Debian installed."""

    def version(initdb: str) -> tuple[int, ...]:
        name = Path(initdb).parts[-3]
        return tuple(int(p) for p in name.split(".")) if re.fullmatch(r"[\d.]+", name) else (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return Path(candidates[-1]).parent if candidates else None


def _traversable_by_others(path: Path) -> bool:
    """Whether another user (``postgres``) can reach entries below ``path``."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (path, *path.parents))


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, on 127.0.0.1.

    ``dsn`` is the maintenance database's URL (user, password, host and port
    included); ``create_database()`` makes a fresh empty database and returns
    its URL.
    """

    USER = "trackpref"

    def __init__(self) -> None:
        bindir = find_pg_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                + INSTALL_HINT
            )
        self.bindir = bindir
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        base = Path(tempfile.gettempdir())
        if self._as_postgres:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root but there is no `postgres` system user to run "
                    "PostgreSQL as (Debian's postgresql package creates it): " + INSTALL_HINT
                ) from None
            if not _traversable_by_others(base):
                base = Path("/tmp")  # TMPDIR is private to root; /tmp is not
        self.root = Path(tempfile.mkdtemp(prefix="trackpref-pg-", dir=base))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._started = False

    # -- running the server's tools -------------------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(
                f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
                + (f"\nserver log:\n{log}" if log else "")
            )

    def start(self) -> None:
        """initdb, then start on a free port; on failure nothing is left behind."""
        try:
            self._initdb()
            self._start_on_a_free_port()
        except BaseException:
            self.stop()
            raise

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        result = self._run(
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            self.USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "--encoding=UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        self._check(result, "initdb")

    def _start_on_a_free_port(self) -> None:
        # The port is free when chosen but another process on the machine may
        # take it before PostgreSQL binds it: try a few.
        for attempt in range(5):
            self.port = free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={self.port}",
                    f"-c unix_socket_directories={shlex.quote(str(self.root))}",
                    "-c max_connections=200",
                ]
            )
            result = self._run(
                str(self.bindir / "pg_ctl"),
                "--pgdata",
                str(self.data),
                "--options",
                options,
                "--log",
                str(self.log),
                "--wait",
                "--timeout=60",
                "start",
            )
            if result.returncode == 0:
                self._started = True
                return
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "could not bind" not in log or attempt == 4:
                self._check(result, "pg_ctl start")
            self.log.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        try:
            if self._started:
                self._started = False
                result = self._run(
                    str(self.bindir / "pg_ctl"),
                    "--pgdata",
                    str(self.data),
                    "-m",
                    "fast",
                    "--wait",
                    "stop",
                )
                self._check(result, "pg_ctl stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -------------------------------------------------------------------

    def dsn_for(self, database: str) -> str:
        """The URL of ``database`` on this server, credentials included."""
        return (
            f"postgresql://{self.USER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    @property
    def dsn(self) -> str:
        """The maintenance database (``postgres``); create your own with ``create_database``."""
        return self.dsn_for("postgres")

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL; a unique name when none is given.

        Names are lower-case identifiers (``[a-z_][a-z0-9_]*``, at most 63
        characters) so that the URL and the SQL spell them the same way.
        """
        import psycopg
        from psycopg import sql

        name = name if name is not None else "t_" + uuid.uuid4().hex
        if not _DB_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use [a-z_][a-z0-9_]*, at most 63 characters")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection a test left open to it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
