"""Fixtures for the mail tests: the corpus generator, loaded from ``scripts/``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# ``mail_helpers`` sits next to the tests; make it importable in any import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


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


@pytest.fixture(scope="session")
def corpus_module() -> ModuleType:
    return load_corpus_module()


@pytest.fixture(scope="session")
def eml_corpus(
    tmp_path_factory: pytest.TempPathFactory, corpus_module: ModuleType
) -> tuple[Path, dict[str, Any]]:
    """The labelled corpus as a folder of .eml files, and its labels."""
    out = tmp_path_factory.mktemp("corpus")
    labels_path = corpus_module.generate(out, seed=7, campaigns=80)
    labels = json.loads(labels_path.read_text())
    return out / labels["mail"], labels
