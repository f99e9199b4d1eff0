"""How the auditor's Chromium is launched and how long it may take.

Kept apart from :mod:`.driver` so that configuring an audit (the CLI, the
runner, tests of the analysis) does not import Playwright.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from .hostrules import HostRules

__all__ = ["BASE_ARGS", "BrowserOptions", "chromium_path"]

#: Flags that work as root on Debian's Chromium (COMMON.md).
BASE_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Containers often give /dev/shm 64 MB, which Chromium outgrows.
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True, slots=True)
class BrowserOptions:
    executable: str | None = None
    host_rules: HostRules = field(default_factory=HostRules)
    extra_args: tuple[str, ...] = ()
    #: Seconds for the page's ``load`` event.
    page_timeout: float = 30.0
    #: Seconds to wait after ``load`` for late trackers.
    settle: float = 2.5
    #: Seconds for each read from the page (consent, storage, cookies).
    read_timeout: float = 5.0
    max_post_data: int = 16_384
    #: A page document larger than this is reported as ``too-large``.
    max_page_bytes: int = 25 * 1024 * 1024
    ignore_https_errors: bool = False
    user_agent: str | None = None

    def launch_args(self) -> list[str]:
        args = list(BASE_ARGS)
        if self.host_rules.chromium_arg:
            args.append(self.host_rules.chromium_arg)
        args.extend(self.extra_args)
        return args
