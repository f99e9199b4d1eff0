"""Fixtures for the mail tests: the corpus generator, loaded from ``scripts/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from support.mail_corpus import load_corpus_module

ROOT = Path(__file__).resolve().parents[2]
# ``mail_helpers`` sits next to the tests; make it importable in any import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


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
