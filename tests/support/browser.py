"""Debian's Chromium, driven by Playwright through ``executable_path``.

Playwright's own browser download fails here (and is not wanted): the tests
use the distribution's ``chromium``, which ``make test`` installs as root.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

__all__ = ["BASE_ARGS", "browser_args", "chromium_path", "launch_chromium"]

#: Flags that keep Chromium off the network (this machine has none) and quiet.
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

GPC_FEATURES = "--enable-features=GlobalPrivacyControl,GlobalPrivacyControlForce"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_args(
    *, gpc: bool = False, host_rules: str | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    args = list(BASE_ARGS)
    if gpc:
        args.append(GPC_FEATURES)
    if host_rules:
        args.append(f"--host-resolver-rules={host_rules}")
    args.extend(extra_args)
    return args


def launch_chromium(
    playwright: Any,
    *,
    gpc: bool = False,
    host_rules: str | None = None,
    extra_args: Sequence[str] = (),
) -> Any:
    """A headless Chromium ``Browser``; the caller closes it."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: run `make test` as root")
    return playwright.chromium.launch(
        executable_path=path,
        headless=True,
        args=browser_args(gpc=gpc, host_rules=host_rules, extra_args=extra_args),
    )
