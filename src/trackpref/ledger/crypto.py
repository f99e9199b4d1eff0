"""Application-level encryption of sensitive fields, one key per subject.

Why per subject: deleting a person must also delete what earlier copies hold.
Backups, replicas and exports taken before the deletion cannot be chased down,
but if every sensitive field of a subject is encrypted with that subject's own
key and the key lives *apart from the data*, destroying the key makes every
copy of those fields unreadable at once (crypto-shredding).

The cryptography is AES-256-GCM from ``cryptography`` (no home-made crypto):

* a fresh random 96-bit nonce per encryption (``os.urandom``); with one key per
  subject, the number of encryptions per key stays far below the 2**32 limit
  NIST SP 800-38D sets for random nonces;
* the associated data binds the ciphertext to where it belongs: format
  version, site, dataset, field and subject. A ciphertext copied into another
  row, field, dataset or site fails authentication instead of decrypting
  under the wrong label;
* a versioned token: ``base64url(b"v1" + nonce + ciphertext_and_tag)``, ASCII
  text that any storage column holds, and that a later format can be told
  apart from.

Subject keys can themselves be wrapped with a master key (a key-encryption
key from configuration, :class:`WrappedKeyStore`), so that a stolen key
database alone decrypts nothing either.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TOKEN_VERSION",
    "CryptoError",
    "DecryptionFailed",
    "FieldCipher",
    "FieldContext",
    "KeyDestroyed",
    "KeyStore",
    "MemoryKeyStore",
    "SQLiteKeyStore",
    "WrappedKeyStore",
    "generate_key",
    "parse_master_key",
]

#: AES-256.
KEY_SIZE = 32
#: 96 bits, the size GCM is specified for.
NONCE_SIZE = 12
TOKEN_VERSION = b"v1"
_TAG_SIZE = 16
_WRAP_VERSION = b"w1"
#: Ceiling on what one field may hold; the gate limits values far below this.
MAX_PLAINTEXT = 1 << 20


class CryptoError(Exception):
    """Base class: a field cannot be encrypted or decrypted."""


class KeyDestroyed(CryptoError):
    """The subject has no key: it was destroyed (the subject was deleted) or never made."""

    def __init__(self, subject_id: str) -> None:
        super().__init__(
            f"no key for subject {subject_id!r}: it was destroyed when the subject was "
            "deleted (or never created); this field can no longer be decrypted"
        )
        self.subject_id = subject_id


class DecryptionFailed(CryptoError):
    """The token is malformed, tampered with, or belongs to another subject, field or key."""


@dataclass(frozen=True, slots=True)
class FieldContext:
    """Where a ciphertext belongs; bound into it as associated data."""

    site: str
    dataset: str
    field: str

    def associated_data(self, subject_id: str) -> bytes:
        # Length-prefixed, so ("a|b", "c") and ("a", "b|c") can never collide.
        parts = (TOKEN_VERSION, *(p.encode() for p in (self.site, self.dataset, self.field)))
        parts += (subject_id.encode(),)
        return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


@runtime_checkable
class KeyStore(Protocol):
    """Where subject keys live: never in the same database as the data."""

    def get_key(self, subject_id: str) -> bytes | None: ...

    def put_key(self, subject_id: str, key: bytes) -> None:
        """Store a key; if the subject already has one, keep it (first writer wins)."""

    def destroy_key(self, subject_id: str) -> bool:
        """Forget the key for good; True if there was one."""


def generate_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(256)


def parse_master_key(text: str) -> bytes:
    """A 32-byte master key from configuration (base64 or base64url, 44 chars).

    Raises :class:`ValueError` naming what is wrong, never echoing the key.
    """
    raw = text.strip()
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("master key: not base64 text") from None
    if len(key) != KEY_SIZE:
        raise ValueError(f"master key: must decode to {KEY_SIZE} bytes, got {len(key)}")
    return key


def _check_subject(subject_id: object) -> str:
    if type(subject_id) is not str or not subject_id:
        raise CryptoError(
            f"subject_id: must be a non-empty string, got {type(subject_id).__name__}"
        )
    return subject_id


def _check_key(key: object) -> bytes:
    if type(key) is not bytes or len(key) != KEY_SIZE:
        raise CryptoError(f"key: must be {KEY_SIZE} bytes")
    return key


class MemoryKeyStore:
    """Keys in a dict: for tests and for processes that hold nothing across restarts."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_key(self, subject_id: str) -> bytes | None:
        return self._keys.get(subject_id)

    def put_key(self, subject_id: str, key: bytes) -> None:
        _check_subject(subject_id)
        with self._lock:
            self._keys.setdefault(subject_id, bytes(key))

    def destroy_key(self, subject_id: str) -> bool:
        with self._lock:
            return self._keys.pop(subject_id, None) is not None

    def __len__(self) -> int:
        return len(self._keys)


class SQLiteKeyStore:
    """Subject keys in their own SQLite file, apart from the data.

    Back up the data file alone: its copy then holds no key, which is what
    makes crypto-shredding work. Settings and why:

    * ``synchronous=FULL``: a destroyed key must stay destroyed after a crash.
    * ``secure_delete=ON`` and a WAL checkpoint (TRUNCATE) after each
      destruction: the key bytes are overwritten in the database file and the
      log is emptied, not merely unlinked. What the filesystem or an SSD keeps
      of freed blocks is beyond SQLite's reach; wrapping the keys with a master
      key (:class:`WrappedKeyStore`) covers that.

    A file that already holds the ledger's ``events`` table is refused: keys
    next to the data would defeat the purpose.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA secure_delete=ON")
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.Error as exc:
            raise CryptoError(f"cannot open key database {self.path}: {exc}") from None
        if "events" in tables:
            self._conn.close()
            raise CryptoError(
                f"{self.path} holds the ledger's data (an events table); "
                "keep subject keys in a separate file"
            )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS subject_keys ("
            " subject_id TEXT PRIMARY KEY, key BLOB NOT NULL, created_at REAL NOT NULL"
            ") WITHOUT ROWID"
        )
        self._lock = threading.Lock()

    def get_key(self, subject_id: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key FROM subject_keys WHERE subject_id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def put_key(self, subject_id: str, key: bytes) -> None:
        _check_subject(subject_id)
        with self._lock:
            self._conn.execute(
                "INSERT INTO subject_keys (subject_id, key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (subject_id) DO NOTHING",
                (subject_id, bytes(key), time.time()),
            )

    def destroy_key(self, subject_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM subject_keys WHERE subject_id = ?", (subject_id,))
            if cur.rowcount:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return cur.rowcount > 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM subject_keys").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class WrappedKeyStore:
    """Subject keys encrypted with a master key before they reach ``inner``.

    The wrapping is AES-256-GCM too, with the subject id as associated data, so
    a wrapped key swapped to another subject's row does not unwrap. Losing the
    master key loses every subject's data: keep it in the deployment's secret
    store, not in the database.
    """

    def __init__(self, inner: KeyStore, master_key: bytes) -> None:
        self.inner = inner
        self._kek = AESGCM(_check_key(master_key))

    @staticmethod
    def _ad(subject_id: str) -> bytes:
        return _WRAP_VERSION + b"\0" + subject_id.encode()

    def get_key(self, subject_id: str) -> bytes | None:
        wrapped = self.inner.get_key(subject_id)
        if wrapped is None:
            return None
        if not wrapped.startswith(_WRAP_VERSION):
            raise DecryptionFailed(
                f"key of subject {subject_id!r} is not wrapped ({_WRAP_VERSION!r})"
            )
        nonce = wrapped[2 : 2 + NONCE_SIZE]
        try:
            return self._kek.decrypt(nonce, wrapped[2 + NONCE_SIZE :], self._ad(subject_id))
        except InvalidTag:
            raise DecryptionFailed(
                f"key of subject {subject_id!r} does not unwrap: wrong master key, "
                "or the wrapped key was moved from another subject"
            ) from None

    def put_key(self, subject_id: str, key: bytes) -> None:
        _check_subject(subject_id)
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._kek.encrypt(nonce, _check_key(key), self._ad(subject_id))
        self.inner.put_key(subject_id, _WRAP_VERSION + nonce + sealed)

    def destroy_key(self, subject_id: str) -> bool:
        return self.inner.destroy_key(subject_id)


class FieldCipher:
    """Encrypts and decrypts field values with the subject's own key.

    Also satisfies the ledger's ``Sealer`` protocol (:meth:`seal` /
    :meth:`unseal`, for the site given here), so ``Ledger(..., sealer=cipher)``
    encrypts every field the inventory marks ``sensitive``.

    Keys are looked up on every call, never cached: a key destroyed by another
    process must stop decryption here too.
    """

    def __init__(self, keys: KeyStore, *, site: str = "") -> None:
        self.keys = keys
        self.site = site

    def _key_for_writing(self, subject_id: str) -> bytes:
        key = self.keys.get_key(subject_id)
        if key is None:
            self.keys.put_key(subject_id, generate_key())
            # Another writer may have won the race; use whichever key is stored.
            key = self.keys.get_key(subject_id)
            if key is None:
                raise CryptoError(f"key store lost the key of subject {subject_id!r}")
        return key

    def encrypt(self, subject_id: str, value: str, *, context: FieldContext) -> str:
        """Encrypt ``value`` for ``subject_id`` at ``context``; a key is made if needed."""
        _check_subject(subject_id)
        if type(value) is not str:
            raise CryptoError(f"{context.dataset}.{context.field}: value must be a string")
        data = value.encode()
        if len(data) > MAX_PLAINTEXT:
            raise CryptoError(
                f"{context.dataset}.{context.field}: value of {len(data)} bytes exceeds "
                f"{MAX_PLAINTEXT}"
            )
        key = self._key_for_writing(subject_id)
        nonce = os.urandom(NONCE_SIZE)
        ct = AESGCM(key).encrypt(nonce, data, context.associated_data(subject_id))
        return base64.urlsafe_b64encode(TOKEN_VERSION + nonce + ct).decode("ascii")

    def decrypt(self, subject_id: str, token: str, *, context: FieldContext) -> str:
        """The plaintext, or :class:`KeyDestroyed` / :class:`DecryptionFailed`."""
        _check_subject(subject_id)
        where = f"{context.dataset}.{context.field}"
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, ValueError, AttributeError, UnicodeEncodeError):
            raise DecryptionFailed(f"{where}: not an encrypted token (bad base64)") from None
        if not raw.startswith(TOKEN_VERSION):
            raise DecryptionFailed(f"{where}: unknown token version {raw[:2]!r}")
        if len(raw) < len(TOKEN_VERSION) + NONCE_SIZE + _TAG_SIZE:
            raise DecryptionFailed(f"{where}: token too short")
        key = self.keys.get_key(subject_id)
        if key is None:
            raise KeyDestroyed(subject_id)
        nonce = raw[2 : 2 + NONCE_SIZE]
        try:
            data = AESGCM(key).decrypt(
                nonce, raw[2 + NONCE_SIZE :], context.associated_data(subject_id)
            )
        except InvalidTag:
            raise DecryptionFailed(
                f"{where}: authentication failed for subject {subject_id!r} (tampered, moved "
                "from another row or field, or encrypted under an earlier, destroyed key)"
            ) from None
        return data.decode()

    def shred(self, subject_id: str) -> bool:
        """Destroy the subject's key: every copy of its sealed fields becomes unreadable."""
        return self.keys.destroy_key(subject_id)

    # -- the ledger's Sealer protocol -----------------------------------------
    def seal(self, subject_id: str, dataset: str, field: str, value: object) -> str:
        """Encrypt any JSON value (its type survives the round trip)."""
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CryptoError(f"{dataset}.{field}: value cannot be sealed: {exc}") from None
        return self.encrypt(subject_id, text, context=FieldContext(self.site, dataset, field))

    def unseal(self, subject_id: str, dataset: str, field: str, token: str) -> object:
        text = self.decrypt(subject_id, token, context=FieldContext(self.site, dataset, field))
        return json.loads(text)
