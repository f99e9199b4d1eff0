"""DuckDuckGo's privacy-reference-tests, loaded and sorted for a network-level agent.

Each case is either applicable (a test drives the decision core with it) or
not applicable, with the reason; ``conftest.py`` prints both counts. The
vectors are read from ``../shared/privacy-reference-tests`` (relative to the
repository root), copied there unchanged from DuckDuckGo (Apache-2.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "privacy-reference-tests"

SUITES = {
    "global-privacy-control": "global-privacy-control/tests.json",
    "referrer-trimming": "referrer-trimming/tests.json",
    "url-parameters": "url-parameters/tests.json",
    "block-third-party-tracking-cookies": "block-third-party-tracking-cookies/tests.json",
    "tracker-domain-matching": "tracker-radar-tests/TR-domain-matching/domain_matching_tests.json",
}

JS_API = "a JavaScript API; a network-level agent neither runs nor injects page scripts"

#: Test sets that are wholly about page scripts.
NOT_APPLICABLE_SETS = {
    ("global-privacy-control", "gpcJavaScriptAPI"): "navigator.globalPrivacyControl is " + JS_API,
    ("referrer-trimming", "refererAPI"): "document.referrer is " + JS_API,
    ("block-third-party-tracking-cookies", "cookieAPI"): "document.cookie is " + JS_API,
}

#: Single cases that configure a platform other than a network agent.
NOT_APPLICABLE_CASES = {
    (
        "global-privacy-control",
        "Header not injected on platforms using gpcHeaderEnabledSites - domain is excluded "
        "from gpcHeaderEnabledSites",
    ): (
        "gpcHeaderEnabledSites is for platforms that can change headers only on listed sites "
        "(Apple and Android apps); a proxy changes every request, like the web extension this "
        "case excepts, and the companion case 'Header injected on platforms not using "
        "gpcHeaderEnabledSites' applies instead"
    ),
}


@dataclass(frozen=True)
class Case:
    suite: str
    test_set: str
    name: str
    data: dict[str, Any] = field(hash=False, compare=False)
    reason: str | None = None  # why not applicable; None = applicable

    @property
    def applicable(self) -> bool:
        return self.reason is None

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.test_set}/{self.name}"


def load_json(relative: str) -> Any:
    return json.loads((ROOT / relative).read_text("utf-8"))


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for suite, relative in SUITES.items():
        for set_name, test_set in load_json(relative).items():
            set_reason = NOT_APPLICABLE_SETS.get((suite, set_name))
            for test in test_set["tests"]:
                reason = set_reason or NOT_APPLICABLE_CASES.get((suite, test["name"]))
                cases.append(Case(suite, set_name, test["name"], test, reason))
    return cases


CASES = load_cases()


def applicable(suite: str, *sets: str) -> list[Case]:
    return [
        c for c in CASES if c.suite == suite and c.applicable and (not sets or c.test_set in sets)
    ]
