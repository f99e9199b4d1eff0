"""Versioned schema migrations, one module per version.

Each module ``mNNNN_<name>.py`` holds the statements for both backends
(``SQLITE`` and ``POSTGRES``) and, when the key database changes,
``KEYS_SQLITE`` / ``KEYS_POSTGRES``, and ``SCRUBS``: the tables it erased
personal data from, scrubbed afterwards like after any deletion. They are Python modules rather than
``.sql`` files so that they ship inside the package without extra
package-data rules. A store applies the missing versions in order, each in its
own transaction, and refuses to open a database written by a newer trackpref.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

__all__ = ["Migration", "migrations"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]
    keys_sqlite: tuple[str, ...] = ()
    keys_postgres: tuple[str, ...] = ()
    #: Tables whose old contents the migration erased: the store scrubs them
    #: afterwards as it does after any deletion of personal data.
    scrubs: tuple[str, ...] = ()


_MODULE = re.compile(r"m(\d{4})_(\w+)\Z")


def migrations() -> list[Migration]:
    """Every migration in this package, by version."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        m = _MODULE.match(info.name)
        if m is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(
            Migration(
                version=int(m.group(1)),
                name=m.group(2),
                sqlite=tuple(module.SQLITE),
                postgres=tuple(module.POSTGRES),
                keys_sqlite=tuple(getattr(module, "KEYS_SQLITE", ())),
                keys_postgres=tuple(getattr(module, "KEYS_POSTGRES", ())),
                scrubs=tuple(getattr(module, "SCRUBS", ())),
            )
        )
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must run 1..n without gaps, found {versions}")
    return found
