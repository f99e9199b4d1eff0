"""Verifying that a rights request comes from the person it is about.

Before anything is exported, corrected or deleted, the requester proves they
control the e-mail address on record: a six-digit one-time code is sent
there. The code

* expires (15 minutes by default),
* works once (marking it used is a single conditional update, so two
  simultaneous correct answers cannot both succeed),
* allows a few tries (5 by default, the right one included), after which the
  request needs a new code: 5 tries at 1 in 10^6 leave a guesser no real chance,
* is stored only as an HMAC, so a reader of the database cannot use it.

The request a code belongs to does not wait for ever either: one nobody
verified expires, with its code, a day after it was received
(:data:`trackpref.ledger.rights.UNVERIFIED_TTL`), however many codes were sent.

The answer to "start a verification" never says whether the address is known
to the site: a code is sent either way, so the form cannot be used to find
out who has an account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from trackpref.signals.errors import SignalError

from .mailer import Mailer, Message
from .storage.base import Store, Verification

__all__ = ["CODE_TTL", "VerificationError", "Verifier"]

#: Seconds a code works: long enough to switch to a mailbox and back, short
#: enough that a code read later by someone else is useless.
CODE_TTL = 900.0


class VerificationError(SignalError):
    """The code was not accepted; ``reason`` says why in one word."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="code")
        self.reason = reason  # unknown | expired | used | locked | wrong


class Verifier:
    """Sends and checks one-time codes for rights requests."""

    def __init__(
        self,
        store: Store,
        mailer: Mailer,
        *,
        site_name: str,
        clock: Callable[[], float] = time.time,
        ttl: float = CODE_TTL,
        max_attempts: int = 5,
        digits: int = 6,
        secret: bytes = b"",
    ) -> None:
        if not 6 <= digits <= 10:
            raise ValueError("digits: between 6 and 10")
        if max_attempts < 1:
            raise ValueError("max_attempts: at least 1")
        self.store = store
        self.mailer = mailer
        self.site_name = site_name
        self.clock = clock
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.digits = digits
        self._secret = secret

    def _digest(self, request_id: str, code: str) -> str:
        msg = f"{self.store.site}\x00{request_id}\x00{code}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def start(self, request_id: str, email: str, *, purpose: str) -> float:
        """Send a fresh code for ``request_id`` to ``email``; returns its expiry.

        A new code replaces the previous one and resets the attempt count.
        """
        code = f"{secrets.randbelow(10**self.digits):0{self.digits}d}"
        expires = self.clock() + self.ttl
        self.store.put_verification(
            Verification(request_id, self._digest(request_id, code), expires)
        )
        minutes = max(1, round(self.ttl / 60))
        self.mailer.send(
            Message(
                to=email,
                subject=f"Your verification code for {self.site_name}",
                body=(
                    f"Someone, hopefully you, asked {self.site_name} to {purpose}.\n\n"
                    f"Your code: {code}\n\n"
                    f"It works once and expires in {minutes} minutes. If you did not ask, "
                    "ignore this message: nothing happens without the code.\n"
                ),
            )
        )
        return expires

    def check(self, request_id: str, code: str) -> None:
        """Accept the code once, or raise :class:`VerificationError`."""
        v = self.store.get_verification(request_id)
        if v is None:
            raise VerificationError("no code was sent for this request", reason="unknown")
        if v.used_at is not None:
            raise VerificationError("this code was already used", reason="used")
        if self.clock() > v.expires_at:
            raise VerificationError("this code has expired; ask for a new one", reason="expired")
        if v.attempts >= self.max_attempts:
            raise VerificationError("too many wrong codes; ask for a new one", reason="locked")
        given = code.strip() if isinstance(code, str) else ""
        if not (len(given) == self.digits and given.isascii() and given.isdigit()):
            # Not even the shape of a code: it cannot be right, so it costs no
            # attempt (a typo should not lock the person out).
            raise VerificationError(f"the code is {self.digits} digits", reason="malformed")
        # Take the attempt first: concurrent guesses cannot slip past the limit.
        attempts = self.store.count_attempt(request_id)
        if attempts > self.max_attempts:
            raise VerificationError("too many wrong codes; ask for a new one", reason="locked")
        if not hmac.compare_digest(self._digest(request_id, given), v.code_hash):
            left = self.max_attempts - attempts
            if left <= 0:
                raise VerificationError("too many wrong codes; ask for a new one", reason="locked")
            raise VerificationError(
                f"wrong code; {left} attempt{'s' if left != 1 else ''} left", reason="wrong"
            )
        if not self.store.use_verification(request_id, self.clock()):
            raise VerificationError("this code was already used", reason="used")

    def discard(self, request_id: str) -> None:
        self.store.delete_verification(request_id)
