"""The first schema: events, subjects, consents, rights, evidence, salts, keys.

Every table carries ``site`` and every index starts with it, so each site's
rows sit together and no query needs another site's. The events table has
only two secondary indexes: (site, dataset, ts), which grows at its end as
time passes, and a partial index on subject references, which costs nothing
for the anonymous rows most events are; a random-key index on visitor hashes
would dominate insert cost, so there is none.
"""

from __future__ import annotations

_COMMON = (
    """CREATE TABLE subjects (
        site TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        email TEXT,
        phone TEXT,
        email_hash TEXT,
        phone_hash TEXT,
        created_at {real} NOT NULL,
        opted_out_at {real},
        PRIMARY KEY (site, subject_id)
    )""",
    "CREATE INDEX subjects_email ON subjects (site, email)",
    "CREATE INDEX subjects_email_hash ON subjects (site, email_hash)",
    "CREATE INDEX subjects_phone_hash ON subjects (site, phone_hash)",
    """CREATE TABLE consents (
        id {serial},
        site TEXT NOT NULL,
        subject_ref TEXT NOT NULL,
        kind TEXT NOT NULL,
        targets TEXT NOT NULL,
        purposes TEXT,
        granted_at {real} NOT NULL,
        expires_at {real},
        withdrawn_at {real},
        source TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX consents_subject ON consents (site, subject_ref)",
    """CREATE TABLE rights_requests (
        site TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        regime TEXT NOT NULL,
        status TEXT NOT NULL,
        received_at {real} NOT NULL,
        due_at {real} NOT NULL,
        subject_ref TEXT,
        email TEXT,
        verified_at {real},
        completed_at {real},
        detail TEXT NOT NULL DEFAULT '{{}}',
        PRIMARY KEY (site, id)
    )""",
    "CREATE INDEX rights_requests_subject ON rights_requests (site, subject_ref)",
    """CREATE TABLE verifications (
        site TEXT NOT NULL,
        request_id TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        expires_at {real} NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        used_at {real},
        PRIMARY KEY (site, request_id)
    )""",
    """CREATE TABLE audit_log (
        id {serial},
        site TEXT NOT NULL,
        ts {real} NOT NULL,
        action TEXT NOT NULL,
        request_id TEXT,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{{}}'
    )""",
    "CREATE INDEX audit_log_request ON audit_log (site, request_id)",
    """CREATE TABLE purge_log (
        id {serial},
        site TEXT NOT NULL,
        ts {real} NOT NULL,
        dataset TEXT NOT NULL,
        field TEXT,
        rows_deleted INTEGER NOT NULL,
        cutoff {real} NOT NULL,
        retention TEXT NOT NULL
    )""",
    """CREATE TABLE salts (
        site TEXT NOT NULL,
        salt_window TEXT NOT NULL,
        salt {blob} NOT NULL,
        PRIMARY KEY (site, salt_window)
    )""",
    """CREATE TABLE webhook_outbox (
        id {serial},
        site TEXT NOT NULL,
        request_id TEXT,
        recipient TEXT NOT NULL,
        url TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at {real} NOT NULL,
        status TEXT NOT NULL,
        last_error TEXT,
        created_at {real} NOT NULL,
        delivered_at {real}
    )""",
    "CREATE INDEX webhook_outbox_due ON webhook_outbox (site, status, next_attempt_at)",
    """CREATE TABLE drop_items (
        site TEXT NOT NULL,
        list_name TEXT NOT NULL,
        item_id TEXT NOT NULL,
        status INTEGER NOT NULL,
        processed_at {real} NOT NULL,
        batch TEXT NOT NULL,
        PRIMARY KEY (site, list_name, item_id)
    )""",
    """CREATE TABLE decisions (
        id {serial},
        site TEXT NOT NULL,
        digest TEXT NOT NULL,
        dataset TEXT NOT NULL,
        preference TEXT NOT NULL,
        purposes TEXT NOT NULL,
        recipients TEXT NOT NULL,
        explanation TEXT NOT NULL,
        UNIQUE (site, digest)
    )""",
    """CREATE TABLE events (
        id {serial},
        site TEXT NOT NULL,
        dataset TEXT NOT NULL,
        ts {real} NOT NULL,
        subject_ref TEXT,
        visitor_hash TEXT,
        decision_id {bigint} NOT NULL,
        fields {json} NOT NULL
    )""",
    "CREATE INDEX events_site_dataset_ts ON events (site, dataset, ts)",
    "CREATE INDEX events_subject ON events (site, subject_ref) WHERE subject_ref IS NOT NULL",
)

_SQLITE_TYPES = {
    "real": "REAL",
    "serial": "INTEGER PRIMARY KEY",
    "blob": "BLOB",
    "json": "TEXT",
    "bigint": "INTEGER",
}
_POSTGRES_TYPES = {
    "real": "DOUBLE PRECISION",
    "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    "blob": "BYTEA",
    "json": "JSONB",
    "bigint": "BIGINT",
}

SQLITE = tuple(s.format(**_SQLITE_TYPES) for s in _COMMON)
POSTGRES = tuple(s.format(**_POSTGRES_TYPES) for s in _COMMON)

_KEYS = (
    """CREATE TABLE subject_keys (
        site TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        key_bytes {blob} NOT NULL,
        PRIMARY KEY (site, subject_id)
    )""",
)
KEYS_SQLITE = tuple(s.format(**_SQLITE_TYPES) for s in _KEYS)
KEYS_POSTGRES = tuple(s.format(**_POSTGRES_TYPES) for s in _KEYS)
