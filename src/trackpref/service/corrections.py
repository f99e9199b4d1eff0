"""What a person may correct in the service's records, and to what.

The ledger's gate checks a correction against the inventory (type and
length), which is all a generic dataset can say. The service knows more: it
wrote these fields itself, by the rules of ``POST /api/collect``. A corrected
value must pass the same rules, or the portal would store what collect
refuses (a path without ``/``, a device that is not one of the five, a type
with spaces), and the dashboard and rollups would count it.

The identifiers (``visitor_id``, ``recipient``) are not corrected: they are
what links the records to the person, so "correcting" one moves the records
to somebody else, or nowhere. Deletion is the right for that.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..signals.errors import SignalError
from ..signals.parties import normalize_host, registrable_domain
from .classify import DEVICES, DIRECT, INTERNAL, NONE, SIGNALS
from .events import (
    MAX_PROPS_JSON,
    CollectError,
    check_campaign,
    check_props,
    check_type,
    path_of,
)

__all__ = ["CORRECTABLE", "check_correction"]

_Rule = Callable[[str], str]
_IDENTIFIERS = frozenset({("pageviews", "visitor_id"), ("email_opens", "recipient")})


def _fail(message: str) -> CollectError:
    return CollectError(f"value: {message}", field="value")


def _path(value: str) -> str:
    if value[:1] != "/" or value[:2] == "//":
        raise _fail("a path starting with '/', without host, '?' or '#'")
    path, host = path_of(value, "value")
    if host is not None or path != value:
        raise _fail("a path starting with '/', without host, '?' or '#'")
    return path


def _referrer_domain(value: str) -> str:
    if value in (DIRECT, INTERNAL):
        return value
    try:
        host = normalize_host(value)
        domain = registrable_domain(host) or host
    except SignalError:
        host = domain = ""
    if not host or domain != host:
        raise _fail(f"a registrable domain such as example.com, {DIRECT} or {INTERNAL}")
    return host


def _one_of(choices: tuple[str, ...]) -> _Rule:
    def check(value: str) -> str:
        if value not in choices:
            raise _fail(f"one of {', '.join(choices)}")
        return value

    return check


def _region(value: str) -> str:
    if value == NONE:
        return value
    if len(value) != 2 or not (value.isascii() and value.isalpha()):
        raise _fail(f"a two-letter region code such as DE, or {NONE}")
    return value.upper()


def _props(value: str) -> str:
    if len(value) > 2 * MAX_PROPS_JSON:
        raise _fail(f"more than {MAX_PROPS_JSON} characters as JSON")
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise _fail("a JSON object of names to text, numbers or booleans") from None
    text = check_props(parsed, "value")
    if text is None:
        raise _fail("an empty object; delete the request's data instead")
    return text


_RULES: dict[tuple[str, str], _Rule] = {
    ("pageviews", "type"): lambda v: check_type(v, "value"),
    ("pageviews", "path"): _path,
    ("pageviews", "referrer_domain"): _referrer_domain,
    ("pageviews", "device"): _one_of(DEVICES),
    ("pageviews", "region"): _region,
    ("pageviews", "props"): _props,
    ("email_opens", "campaign"): lambda v: check_campaign(v, "value"),
    ("email_opens", "device"): _one_of(DEVICES),
    ("email_opens", "signal"): _one_of(SIGNALS),
}

#: What the portal's correction form offers.
CORRECTABLE = tuple(f"{dataset}.{field}" for dataset, field in _RULES)


def check_correction(dataset: str, field: str, value: object) -> object:
    """The value to store, by collect's rules; :class:`CollectError` names what is wrong.

    Fields the service does not write itself (added by a site's own
    inventory) are left to the ledger's gate.
    """
    if (dataset, field) in _IDENTIFIERS:
        raise CollectError(
            f"field: {dataset}.{field} is the identifier that links these records to you; "
            "it cannot be corrected (ask for deletion instead)",
            field="field",
        )
    rule = _RULES.get((dataset, field))
    if rule is None:
        return value
    if not isinstance(value, str) or not value:
        raise _fail("required")
    return rule(value)
