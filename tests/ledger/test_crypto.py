"""Per-subject field encryption and crypto-shredding."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger import Sealer
from trackpref.ledger.crypto import (
    KEY_SIZE,
    NONCE_SIZE,
    CryptoError,
    DecryptionFailed,
    FieldCipher,
    FieldContext,
    KeyDestroyed,
    KeyStore,
    MemoryKeyStore,
    SQLiteKeyStore,
    WrappedKeyStore,
    generate_key,
    parse_master_key,
)
from trackpref.ledger.storage import Store

CTX = FieldContext("news.example", "orders", "address")


def test_round_trip_and_token_format() -> None:
    cipher = FieldCipher(MemoryKeyStore())
    token = cipher.encrypt("alice", "1 Main St", context=CTX)
    assert token.isascii()
    raw = base64.urlsafe_b64decode(token)
    assert raw[:2] == b"v1"
    assert len(raw) == 2 + NONCE_SIZE + len(b"1 Main St") + 16
    assert b"Main" not in raw
    assert cipher.decrypt("alice", token, context=CTX) == "1 Main St"


def test_fresh_nonce_every_time() -> None:
    cipher = FieldCipher(MemoryKeyStore())
    tokens = {cipher.encrypt("alice", "same", context=CTX) for _ in range(50)}
    assert len(tokens) == 50
    nonces = {base64.urlsafe_b64decode(t)[2 : 2 + NONCE_SIZE] for t in tokens}
    assert len(nonces) == 50


def test_one_key_per_subject() -> None:
    keys = MemoryKeyStore()
    cipher = FieldCipher(keys)
    cipher.encrypt("alice", "a", context=CTX)
    cipher.encrypt("bob", "b", context=CTX)
    ka, kb = keys.get_key("alice"), keys.get_key("bob")
    assert ka is not None
    assert kb is not None
    assert len(ka) == KEY_SIZE
    assert ka != kb
    cipher.encrypt("alice", "again", context=CTX)
    assert keys.get_key("alice") == ka
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("subject", "context"),
    [
        ("bob", CTX),  # another subject's row
        ("alice", FieldContext("news.example", "orders", "phone")),  # another field
        ("alice", FieldContext("news.example", "accounts", "address")),  # another dataset
        ("alice", FieldContext("shop.example", "orders", "address")),  # another site
        ("alice", FieldContext("news.exampleorders", "", "address")),  # shifted boundaries
    ],
)
def test_ciphertext_cannot_be_moved(subject: str, context: FieldContext) -> None:
    keys = MemoryKeyStore()
    cipher = FieldCipher(keys)
    token = cipher.encrypt("alice", "secret", context=CTX)
    if subject == "bob":
        # Give bob alice's key: only the associated data can tell the rows apart.
        alice_key = keys.get_key("alice")
        assert alice_key is not None
        keys.put_key("bob", alice_key)
    with pytest.raises(DecryptionFailed, match="authentication failed"):
        cipher.decrypt(subject, token, context=context)


def test_tampering_and_garbage_are_named() -> None:
    cipher = FieldCipher(MemoryKeyStore())
    token = cipher.encrypt("alice", "secret", context=CTX)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[-1] ^= 1
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(DecryptionFailed, match=r"orders\.address: authentication failed"):
        cipher.decrypt("alice", flipped, context=CTX)
    v2 = base64.urlsafe_b64encode(b"v2" + bytes(raw[2:])).decode()
    with pytest.raises(DecryptionFailed, match="unknown token version"):
        cipher.decrypt("alice", v2, context=CTX)
    with pytest.raises(DecryptionFailed, match="too short"):
        cipher.decrypt("alice", base64.urlsafe_b64encode(b"v1abc").decode(), context=CTX)
    with pytest.raises(DecryptionFailed, match="bad base64"):
        cipher.decrypt("alice", "not base64!", context=CTX)
    with pytest.raises(CryptoError, match="subject_id"):
        cipher.encrypt("", "x", context=CTX)
    with pytest.raises(CryptoError, match=r"orders\.address: value must be a string"):
        cipher.encrypt("alice", 3, context=CTX)  # type: ignore[arg-type]


def test_crypto_shredding_makes_earlier_copies_unreadable() -> None:
    keys = MemoryKeyStore()
    cipher = FieldCipher(keys)
    alice = [cipher.encrypt("alice", f"value {i}", context=CTX) for i in range(5)]
    bob = cipher.encrypt("bob", "bob's", context=CTX)
    backup = list(alice)  # a copy of the data taken before the deletion

    assert cipher.shred("alice") is True
    assert cipher.shred("alice") is False
    for token in backup:
        with pytest.raises(KeyDestroyed, match="'alice'") as info:
            cipher.decrypt("alice", token, context=CTX)
        assert info.value.subject_id == "alice"
    assert cipher.decrypt("bob", bob, context=CTX) == "bob's"

    # The subject comes back later: a new key, and the old copies stay unreadable.
    fresh = cipher.encrypt("alice", "new", context=CTX)
    assert cipher.decrypt("alice", fresh, context=CTX) == "new"
    with pytest.raises(DecryptionFailed):
        cipher.decrypt("alice", backup[0], context=CTX)


def _file_bytes(path: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-journal"):
        p = Path(f"{path}{suffix}")
        if p.exists():
            out += p.read_bytes()
    return out


def test_sqlite_key_store_keeps_keys_apart_and_shreds_them(tmp_path: Path) -> None:
    data_path = tmp_path / "data.db"
    keys_path = tmp_path / "keys.db"
    keys = SQLiteKeyStore(keys_path)
    cipher = FieldCipher(keys, site="news.example")
    data = sqlite3.connect(data_path)
    data.execute("CREATE TABLE events (subject TEXT, field TEXT)")
    for subject in ("alice", "bob"):
        data.execute(
            "INSERT INTO events VALUES (?, ?)",
            (subject, cipher.encrypt(subject, f"{subject}@mail.example", context=CTX)),
        )
    data.commit()
    data.close()
    backup = tmp_path / "backup.db"
    shutil.copyfile(data_path, backup)
    alice_key = keys.get_key("alice")
    assert alice_key is not None
    assert alice_key not in data_path.read_bytes()  # the data file holds no key

    assert keys.destroy_key("alice") is True
    keys.close()
    assert alice_key not in _file_bytes(keys_path)  # overwritten, not just unlinked

    reopened = SQLiteKeyStore(keys_path)
    cipher = FieldCipher(reopened)
    rows = sqlite3.connect(backup).execute("SELECT subject, field FROM events").fetchall()
    plain: dict[str, str | None] = {}
    for subject, token in rows:
        try:
            plain[subject] = cipher.decrypt(subject, token, context=CTX)
        except KeyDestroyed:
            plain[subject] = None
    assert plain == {"alice": None, "bob": "bob@mail.example"}
    assert len(reopened) == 1
    reopened.close()


def test_sqlite_key_store_refuses_the_data_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (id INTEGER)")
    conn.close()
    with pytest.raises(CryptoError, match="separate file"):
        SQLiteKeyStore(path)


@pytest.mark.parametrize("factory", ["memory", "sqlite"])
def test_first_writer_wins(factory: str, tmp_path: Path) -> None:
    store: KeyStore = MemoryKeyStore() if factory == "memory" else SQLiteKeyStore(tmp_path / "k")
    a, b = generate_key(), generate_key()
    store.put_key("s", a)
    store.put_key("s", b)
    assert store.get_key("s") == a
    assert store.destroy_key("s") is True
    assert store.get_key("s") is None
    assert store.destroy_key("s") is False


def test_wrapped_key_store() -> None:
    inner = MemoryKeyStore()
    master = generate_key()
    keys = WrappedKeyStore(inner, master)
    cipher = FieldCipher(keys)
    token = cipher.encrypt("alice", "secret", context=CTX)
    subject_key = keys.get_key("alice")
    wrapped = inner.get_key("alice")
    assert subject_key is not None
    assert wrapped is not None
    assert subject_key not in wrapped
    assert wrapped.startswith(b"w1")
    assert cipher.decrypt("alice", token, context=CTX) == "secret"

    with pytest.raises(DecryptionFailed, match="wrong master key"):
        FieldCipher(WrappedKeyStore(inner, generate_key())).decrypt("alice", token, context=CTX)
    inner.put_key("mallory", wrapped)  # a wrapped key moved to another subject
    with pytest.raises(DecryptionFailed, match="moved from another subject"):
        keys.get_key("mallory")
    inner.put_key("plain", generate_key())
    with pytest.raises(DecryptionFailed, match="not wrapped"):
        keys.get_key("plain")
    assert keys.destroy_key("alice") is True
    with pytest.raises(KeyDestroyed):
        cipher.decrypt("alice", token, context=CTX)


def test_parse_master_key() -> None:
    key = generate_key()
    assert parse_master_key(base64.b64encode(key).decode()) == key
    assert parse_master_key(base64.urlsafe_b64encode(key).decode() + "\n") == key
    with pytest.raises(ValueError, match="32 bytes, got 16"):
        parse_master_key(base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ValueError, match="not base64") as info:
        parse_master_key("zz!!")
    assert "zz!!" not in str(info.value)
    with pytest.raises(CryptoError, match="32 bytes"):
        WrappedKeyStore(MemoryKeyStore(), b"short")


def test_sealer_protocol_round_trips_json_values() -> None:
    sealer: Sealer = FieldCipher(MemoryKeyStore(), site="news.example")
    for value in ("text", 42, 3.5, True, None, ["a", 1], {"k": "v"}):
        token = sealer.seal("alice", "orders", "note", value)
        assert isinstance(token, str)
        assert sealer.unseal("alice", "orders", "note", token) == value
    token = sealer.seal("alice", "orders", "note", "x")
    with pytest.raises(DecryptionFailed):
        sealer.unseal("alice", "orders", "other", token)
    with pytest.raises(CryptoError, match=r"orders\.note: value cannot be sealed"):
        sealer.seal("alice", "orders", "note", object())


@settings(max_examples=60, deadline=None)
@given(
    value=st.text(max_size=200),
    subject=st.text(min_size=1, max_size=20),
    other=st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)),
)
def test_round_trip_and_binding_properties(
    value: str, subject: str, other: tuple[str, str, str]
) -> None:
    cipher = FieldCipher(MemoryKeyStore())
    token = cipher.encrypt(subject, value, context=CTX)
    assert cipher.decrypt(subject, token, context=CTX) == value
    elsewhere = FieldContext(*other)
    if elsewhere != CTX:
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(subject, token, context=elsewhere)


def test_the_ledger_store_as_key_store(sqlite_store: Store, tmp_path: Path) -> None:
    """Ledger A's SQLite store keeps keys in ``<db>.keys``: a data-file backup decrypts nothing."""
    cipher = FieldCipher(sqlite_store, site="news.example")
    token = cipher.encrypt("alice", "alice@mail.example", context=CTX)
    key = sqlite_store.get_key("alice")
    assert key is not None
    data_file = tmp_path / "ledger.db"
    assert key not in _file_bytes(data_file)
    assert cipher.decrypt("alice", token, context=CTX) == "alice@mail.example"
    assert cipher.shred("alice") is True
    with pytest.raises(KeyDestroyed):
        cipher.decrypt("alice", token, context=CTX)
    assert key not in _file_bytes(Path(f"{data_file}.keys"))
