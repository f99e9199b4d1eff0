"""Every server-side item of the conformance checklist has a named test.

``../shared/reference/specs.md`` §7 numbers the checklist. The tests that prove
an item are named ``test_checklist_NN_...``; this test collects them across
the suite so that an item cannot silently lose its proof.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent

#: The items a server-side implementation (core, middleware, declarations) must
#: prove. The rest are user-agent behaviour (40-42: the proxy's tests), the
#: WebDriver extension (45), or IAB strings read by the auditor (46, 49, 50).
SERVER_SIDE = {
    *range(1, 40),  # DNT parsing, exceptions, Tk, TSR, Sec-GPC reading
    43,
    44,  # gpc.json
    47,  # EFF dnt-policy.txt
}

_NAME = re.compile(r"^test_checklist_(\d{1,2})_")


def _named_items() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                m = _NAME.match(node.name)
                if m:
                    item = int(m.group(1))
                    found.setdefault(item, []).append(f"{path.relative_to(TESTS)}::{node.name}")
    return found


def test_every_server_side_checklist_item_has_a_named_test() -> None:
    found = _named_items()
    missing = sorted(SERVER_SIDE - found.keys())
    assert not missing, f"checklist items without a test_checklist_NN_ test: {missing}"


def test_checklist_names_refer_to_real_items() -> None:
    found = _named_items()
    assert max(found) <= 50, "the checklist has 50 items"
