from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from trackpref.ledger.inventory import Inventory, Site
from trackpref.ledger.mailer import FileOutbox
from trackpref.ledger.rights import UNVERIFIED_TTL, DataRights
from trackpref.ledger.storage import Store
from trackpref.ledger.verification import CODE_TTL, VerificationError, Verifier


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def code_in(outbox: FileOutbox, n: int = -1) -> str:
    body = outbox.messages()[n].get_content()
    m = re.search(r"Your code: (\d+)", body)
    assert m is not None
    return m.group(1)


@pytest.fixture
def setup(store: Store, tmp_path: Path) -> tuple[Verifier, FileOutbox, Clock]:
    outbox = FileOutbox(tmp_path / "mail")
    clock = Clock()
    return (
        Verifier(store, outbox, site_name="news.example", clock=clock, secret=b"s"),
        outbox,
        clock,
    )


def test_right_code_works_once(setup: tuple[Verifier, FileOutbox, Clock], store: Store) -> None:
    verifier, outbox, _ = setup
    verifier.start("r1", "alice@mail.example", purpose="delete your data")
    code = code_in(outbox)
    assert len(code) == 6
    assert code not in str(store.rows("verifications"))  # only a keyed hash is stored
    verifier.check("r1", code)
    with pytest.raises(VerificationError) as info:
        verifier.check("r1", code)
    assert info.value.reason == "used"
    assert info.value.field == "code"


def test_codes_expire(setup: tuple[Verifier, FileOutbox, Clock]) -> None:
    verifier, outbox, clock = setup
    verifier.start("r1", "alice@mail.example", purpose="x")
    clock.now += 901
    with pytest.raises(VerificationError) as info:
        verifier.check("r1", code_in(outbox))
    assert info.value.reason == "expired"


def test_attempts_are_limited(setup: tuple[Verifier, FileOutbox, Clock]) -> None:
    verifier, outbox, _ = setup
    verifier.start("r1", "alice@mail.example", purpose="x")
    code = code_in(outbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    reasons = []
    for _ in range(5):
        with pytest.raises(VerificationError) as info:
            verifier.check("r1", wrong)
        reasons.append(info.value.reason)
    assert reasons == ["wrong"] * 4 + ["locked"]
    with pytest.raises(VerificationError) as info:
        verifier.check("r1", code)  # even the right code, once locked
    assert info.value.reason == "locked"
    with pytest.raises(VerificationError) as info:
        verifier.check("r1", "typo")  # locked says so, whatever the shape of the code
    assert info.value.reason == "locked"
    # a new code resets the count
    verifier.start("r1", "alice@mail.example", purpose="x")
    verifier.check("r1", code_in(outbox))


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", None, 123456])
def test_malformed_codes_are_refused_without_taking_an_attempt(
    setup: tuple[Verifier, FileOutbox, Clock], bad: object
) -> None:
    """What cannot be a code cannot be a guess: a typo must not lock the person out."""
    verifier, outbox, _ = setup
    verifier.start("r1", "alice@mail.example", purpose="x")
    for _ in range(10):
        with pytest.raises(VerificationError) as info:
            verifier.check("r1", bad)  # type: ignore[arg-type]
        assert info.value.reason == "malformed"
        assert "6 digits" in str(info.value)
    verifier.check("r1", code_in(outbox))  # all five attempts are still there


def test_unknown_request(setup: tuple[Verifier, FileOutbox, Clock]) -> None:
    verifier, _, _ = setup
    with pytest.raises(VerificationError) as info:
        verifier.check("nope", "123456")
    assert info.value.reason == "unknown"


def test_a_new_code_replaces_the_old(setup: tuple[Verifier, FileOutbox, Clock]) -> None:
    verifier, outbox, _ = setup
    verifier.start("r1", "alice@mail.example", purpose="x")
    old = code_in(outbox)
    verifier.start("r1", "alice@mail.example", purpose="x")
    new = code_in(outbox)
    if old != new:
        with pytest.raises(VerificationError):
            verifier.check("r1", old)
    verifier.check("r1", new)


def test_concurrent_right_answers_succeed_once(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    from trackpref.ledger.storage import open_store

    outbox = FileOutbox(tmp_path / "mail")
    Verifier(store, outbox, site_name="s").start("r1", "a@mail.example", purpose="x")
    code = code_in(outbox)
    stores = [open_store(store_url, site=store.site) for _ in range(4)]
    results: list[str] = []
    barrier = threading.Barrier(len(stores))

    def attempt(s: Store) -> None:
        barrier.wait()
        try:
            Verifier(s, outbox, site_name="s").check("r1", code)
            results.append("ok")
        except VerificationError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert results.count("ok") == 1
    assert set(results) <= {"ok", "used"}


def test_an_expired_request_takes_its_code_with_it(
    setup: tuple[Verifier, FileOutbox, Clock], store: Store
) -> None:
    verifier, outbox, clock = setup
    assert verifier.ttl == CODE_TTL < UNVERIFIED_TTL.min_seconds
    rights = DataRights(
        Inventory(site=Site(name=store.site), datasets={}), store, verifier=verifier, clock=clock
    )
    req = rights.open_request("access", "a@mail.example")
    assert store.get_verification(req.id) is not None
    assert rights.expire_requests(clock.now + UNVERIFIED_TTL.min_seconds) == 1
    assert store.get_verification(req.id) is None
    with pytest.raises(VerificationError) as info:
        verifier.check(req.id, code_in(outbox))
    assert info.value.reason == "unknown"
