"""Option types the commands share, for values click would let through.

``click.FloatRange`` accepts ``nan`` (every comparison with it is false), and
a ``--host ''`` reaches the server as "every interface".
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FiniteRange", "listen_host"]


class FiniteRange(click.FloatRange):
    """A :class:`click.FloatRange` that refuses ``nan`` and the infinities."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def listen_host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An address to listen on; empty would mean every interface, which nobody types."""
    if not value.strip():
        raise click.BadParameter(
            "empty; give an address such as 127.0.0.1, or 0.0.0.0 for every interface"
        )
    return value
