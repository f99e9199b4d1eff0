"""The labelled mail corpus generator (``scripts/make_mail_corpus.py``), loaded once.

A module of its own rather than a fixture in ``tests/mail/conftest.py``:
plain helpers (``mail_golden``) need it too, and ``from conftest import``
picks whichever test directory's conftest was imported first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_corpus_module"]

ROOT = Path(__file__).resolve().parents[2]


def load_corpus_module() -> ModuleType:
    name = "make_mail_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "make_mail_corpus.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
