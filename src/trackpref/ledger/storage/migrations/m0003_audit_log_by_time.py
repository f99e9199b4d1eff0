"""The audit log by time, for the records retention.

Every retention run appends to the audit log and deletes the entries past
``[site] records_retention``; without this index that deletion reads all of a
site's entries (about 100,000 over 24 months at one run every ten minutes)
at every run.
"""

from __future__ import annotations

_INDEX = ("CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (site, ts)",)

SQLITE = _INDEX
POSTGRES = _INDEX
