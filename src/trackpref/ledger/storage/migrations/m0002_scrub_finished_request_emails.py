"""Finished rights requests keep no e-mail address.

Since this version a request loses its address when it is completed,
rejected or expired: the address was needed to send the code and the
answer, and nothing after. Requests that finished under an earlier version
still held theirs; this migration clears them, and the store then scrubs
the table as after any deletion (``SCRUBS``): on SQLite ``secure_delete``
zeroes the old text in the page and the store, as it opens, checkpoints the
WAL that held the old copies; on PostgreSQL the old row versions go at the
next ``VACUUM`` (the retention job's ``scrub_deleted``).
"""

from __future__ import annotations

_SCRUB = (
    "UPDATE rights_requests SET email = NULL "
    "WHERE status IN ('completed', 'rejected', 'expired') AND email IS NOT NULL",
)

SQLITE = _SCRUB
POSTGRES = _SCRUB
SCRUBS = ("rights_requests",)
