"""What an intermediary does with the ``DNT`` and ``Sec-GPC`` fields an app already sent.

:meth:`UserPreference.header_values` says what the person wants sent; an app
behind the proxy may have sent its own fields. The rules (``docs/proxy.md``):

* **Unset** (and no exception): the proxy was not configured to speak for the
  person, and TPE forbids an intermediary to add, delete or modify the
  preference then, so the app's fields pass untouched.
* **DNT**: otherwise the person's file is the authority for this device, so the
  request carries exactly one ``DNT`` field with the value the file dictates
  (``1``, or ``0`` for allow and for an excepted site/target pair), replacing
  whatever the app sent.
* **Sec-GPC**: GPC forbids intermediaries to remove ``Sec-GPC: 1``. When the
  person wants it, exactly one ``Sec-GPC: 1`` is sent. When the person allows
  tracking (generally or for this pair), the proxy adds nothing but keeps an
  app's ``Sec-GPC: 1`` (collapsed to one field): that app was told by the
  person to send it, and the site sees ``DNT: 0`` next to it, which
  ``trackpref``'s own server precedence resolves as an exception (DESIGN.md).
  Values other than exactly ``1`` mean nothing (GPC §3.2) and are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..signals.gpc import parse_gpc

__all__ = ["SignalFields", "merge_signal_headers"]


@dataclass(frozen=True, slots=True)
class SignalFields:
    """The ``DNT`` and ``Sec-GPC`` field values a request leaves with.

    ``None`` means "leave the app's fields as they are".
    """

    dnt: tuple[str, ...] | None
    gpc: tuple[str, ...] | None

    @property
    def untouched(self) -> bool:
        return self.dnt is None and self.gpc is None


UNTOUCHED = SignalFields(None, None)


def merge_signal_headers(
    wanted: Mapping[str, str],
    app_gpc: Sequence[str],
    *,
    add_gpc: bool = True,
) -> SignalFields:
    """The fields to send, from the person's ``wanted`` headers and the app's ``Sec-GPC``.

    ``wanted`` is :meth:`UserPreference.header_values` (empty while unset).
    ``add_gpc`` False suppresses adding ``Sec-GPC`` (a site where the person
    turned GPC off because it breaks the site); it never removes the app's.
    """
    if not wanted:
        return UNTOUCHED
    dnt = wanted.get("DNT")
    app_says_gpc = bool(app_gpc) and parse_gpc(list(app_gpc)).enabled
    send_gpc = app_says_gpc or (add_gpc and wanted.get("Sec-GPC") == "1")
    return SignalFields(
        dnt=(dnt,) if dnt is not None else (),
        gpc=("1",) if send_gpc else (),
    )
