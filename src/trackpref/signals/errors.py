"""The errors the signals core raises.

Request headers never raise: a malformed ``DNT`` or ``Sec-GPC`` means "no valid
preference", which is data, not an exception. Errors are for things a program
builds or reads on purpose (a status value, a ``Tk`` header, a policy file, an
exception call), where a silent fallback would hide a bug or a broken claim.
Every error names what was wrong so that it can be shown to a person as is.
"""

from __future__ import annotations

__all__ = [
    "InvalidStateError",
    "SecurityError",
    "SignalError",
    "SyntaxError_",
    "ValidationError",
]


class SignalError(ValueError):
    """A value does not follow the grammar or the rules of its spec.

    ``field`` names the member, header or argument at fault, so that callers can
    build a JSON error or a log line without parsing the message.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0])


class ValidationError(SignalError):
    """A document (TSR, ``gpc.json``, site policy) breaks a rule of its spec.

    It carries every problem found, not just the first, because a site owner
    fixing a policy file wants the whole list in one go.
    """

    def __init__(self, problems: list[tuple[str, str]], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f"{source}: " if source else ""
        text = "; ".join(f"{field}: {msg}" if field else msg for field, msg in problems)
        super().__init__(f"{where}{text}", field=problems[0][0] if problems else None)


# The TPE exception API rejects with DOMException names; these mirror them so that
# the JavaScript shim and the server can report the same name.
class SecurityError(SignalError):
    """TPE: the caller may not store or query this scope (``SecurityError``)."""

    dom_name = "SecurityError"


class SyntaxError_(SignalError):
    """TPE: a malformed argument (``SyntaxError``); nothing is stored."""

    dom_name = "SyntaxError"


class InvalidStateError(SignalError):
    """TPE: the calling origin has no site-wide TSR with a ``policy``."""

    dom_name = "InvalidStateError"
