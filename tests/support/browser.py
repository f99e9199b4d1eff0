"""Debian's Chromium, driven by Playwright through ``executable_path``.

Playwright's own browser download is neither possible here nor wanted: the
tests drive the distribution's ``chromium``, which ``make test`` installs as
root. The flags keep it headless, off the network (loopback servers only) and
working as root in a container.

Typical use::

    with sync_playwright() as pw:
        browser = launch_chromium(pw, gpc=True, host_rules="MAP *.test 127.0.0.1")
        try:
            page = browser.new_page()
            page.goto(serve_asgi(app) + "/")
        finally:
            browser.close()
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BASE_ARGS",
    "GPC_FEATURES",
    "LOOPBACK_TEST_HOSTS",
    "browser_args",
    "chromium_path",
    "launch_chromium",
]

#: Headless, no sandbox (root in a container), and nothing that phones home.
BASE_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

#: Chromium sends ``Sec-GPC: 1`` and sets ``navigator.globalPrivacyControl``.
GPC_FEATURES = "--enable-features=GlobalPrivacyControl,GlobalPrivacyControlForce"

#: Host rules that send every ``*.test`` name to loopback (multi-site tests).
LOOPBACK_TEST_HOSTS = "MAP *.test 127.0.0.1"

NOT_INSTALLED = (
    "Debian's chromium is not installed (no `chromium` on PATH): run `make test` as root"
)


def chromium_path() -> str | None:
    """Debian's ``chromium`` on PATH, or None."""
    return shutil.which("chromium")


def browser_args(
    *, gpc: bool = False, host_rules: str | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    """The command-line flags every test browser gets, plus the optional ones.

    ``gpc`` turns Global Privacy Control on; ``host_rules`` is a
    ``--host-resolver-rules`` value such as :data:`LOOPBACK_TEST_HOSTS`.
    """
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
    """A headless Chromium ``Browser`` from a ``sync_playwright()`` handle; the caller closes it."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(NOT_INSTALLED)
    return playwright.chromium.launch(
        executable_path=path,
        headless=True,
        args=browser_args(gpc=gpc, host_rules=host_rules, extra_args=extra_args),
    )
