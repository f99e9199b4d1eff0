"""The EFF Do Not Track policy, ``/.well-known/dnt-policy.txt``, checked as Privacy Badger does.

The policy is a promise made by posting a fixed text, unmodified (not even
``example-domain.com`` is changed), so compliance is a hash comparison: the
SHA-1 of the text against the versions EFF accepts. Privacy Badger reads the
response as text (UTF-8, BOM dropped) and hashes its UTF-8 encoding; this
module does the same, so both reach the same verdict on the same bytes.

trackpref does not ship the text. A site owner points the site policy at their
own copy, and :func:`check_dnt_policy` verifies it before it is served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "DNT_POLICY_PATH",
    "EFF_POLICY_HASHES",
    "MAX_DNT_POLICY_BYTES",
    "DNTPolicyCheck",
    "check_dnt_policy",
    "dnt_policy_location_problems",
    "dnt_policy_sha1",
]

DNT_POLICY_PATH: Final = "/.well-known/dnt-policy.txt"
#: The accepted text is 10,551 bytes; a file a hundred times larger is not it.
MAX_DNT_POLICY_BYTES: Final = 1024 * 1024

#: SHA-1 (hex) of each accepted text -> its name in EFF's ``dnt-policies.json``.
#: The last three are whitespace variants of v1.0 that Privacy Badger accepts.
EFF_POLICY_HASHES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "41ae62ddfee360fe1e0e7dbae0f35b2dc06212eb": "Preliminary DNT Policy",
        "96297930e450cb795004ae5b1fcc88290a2fe982": "Discussion Draft DNT Policy v0.1",
        "76d89351d48f10c633fd1b5273587913f0851367": "Discussion Draft v0.2 in progress feb 2015",
        "a18e8dba6848d3fc241b03b88291cb75a3cfec3b": "DNT Policy v1.0",
        "5b8972a0e8df8236bb28061ddc462767d4366218": "DNT Policy v1.0 no-trailing-space",
        "c09f71363bb29d0250a1f5524eef36f9ab07669b": "DNT Policy v1.0 dos-line-endings",
        "7861462d500fbb6ccb74c614782f4937377bec76": "DNT Policy v1.0 no-eof-newline",
    }
)


@dataclass(frozen=True, slots=True)
class DNTPolicyCheck:
    """``compliant`` iff ``sha1`` is an accepted version, named in ``version``."""

    compliant: bool
    sha1: str
    version: str | None


def dnt_policy_sha1(body: bytes) -> str:
    """The hash Privacy Badger computes for a fetched ``dnt-policy.txt``.

    It reads the body as text, which drops a UTF-8 byte order mark and
    replaces invalid bytes, then hashes the UTF-8 encoding of that text.
    """
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    # SHA-1 is what the EFF list is keyed by; it identifies a text, it protects nothing.
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def check_dnt_policy(body: bytes, *, accepted: Mapping[str, str] | None = None) -> DNTPolicyCheck:
    """Is ``body`` one of the EFF policy texts Privacy Badger accepts?

    ``accepted`` replaces :data:`EFF_POLICY_HASHES` (hash -> version name),
    e.g. with a newer list from EFF's ``pbconfig.json`` that the caller fetched.
    """
    digest = dnt_policy_sha1(body)
    # The module table is read at call time, not bound at import, so that a test
    # can stand in a table for the policy text this project cannot ship.
    table = EFF_POLICY_HASHES if accepted is None else accepted
    version = table.get(digest)
    return DNTPolicyCheck(compliant=version is not None, sha1=digest, version=version)


def dnt_policy_location_problems(requested: str, final: str) -> list[str]:
    """Why a policy text read at ``final`` (asked for at ``requested``) says
    nothing of the host asked about; empty when it counts.

    The EFF policy counts per host, over HTTPS only (checklist 47, as Privacy
    Badger reads it): a text reached over plain HTTP, or by a redirect to
    another host, binds that host to nothing.
    """
    problems: list[str] = []
    if urlsplit(final).scheme != "https":
        problems.append(
            "dnt-policy.txt: served over plain HTTP; Privacy Badger reads it over HTTPS only"
        )
    if urlsplit(final).hostname != urlsplit(requested).hostname:
        problems.append(
            f"dnt-policy.txt: redirected to another host ({final[:120]}); the EFF "
            "policy counts for the host that posts it"
        )
    return problems
