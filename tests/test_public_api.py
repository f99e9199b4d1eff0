"""The public surface: what ``trackpref`` and ``trackpref.signals`` export, and nothing else.

``__all__`` is kept in ruff's RUF022 ("isort-style") order: SCREAMING_CASE
constants, then CamelCase classes, then everything else, each group sorted.
For the top-level list that is also plain ``sorted()`` order.
"""

from __future__ import annotations

import importlib
import types

import pytest

import trackpref
import trackpref.signals

SIGNAL_MODULES = [
    "trackpref.signals.decisions",
    "trackpref.signals.dnt",
    "trackpref.signals.errors",
    "trackpref.signals.gpc",
    "trackpref.signals.preference",
    "trackpref.signals.tracking_status",
]


def isort_key(name: str) -> tuple[int, str]:
    if name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return group, name


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_top_level_all_is_sorted() -> None:
    names = list(trackpref.__all__)
    assert names == sorted(names)
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)


def test_top_level_names_exist_and_are_public() -> None:
    for name in trackpref.__all__:
        assert not is_private(name), name
        obj = getattr(trackpref, name)  # lazy names load here
        if isinstance(obj, str):  # __version__
            continue
        module = getattr(obj, "__module__", "")
        assert module.startswith("trackpref"), (name, module)
        assert not any(is_private(part) for part in module.split(".")), (name, module)
        assert not is_private(getattr(obj, "__name__", name)), name


def test_top_level_core_names() -> None:
    """The pure core is re-exported as the very objects ``trackpref.signals`` holds."""
    for name in (
        "Decision",
        "PartyRole",
        "Precedence",
        "Preference",
        "PreferenceState",
        "Purpose",
        "decide",
        "resolve",
        "resolve_headers",
    ):
        assert name in trackpref.__all__
        assert getattr(trackpref, name) is getattr(trackpref.signals, name)
    assert isinstance(trackpref.__version__, str)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from trackpref import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(trackpref.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = trackpref.no_such_name


@pytest.mark.parametrize("module_name", ["trackpref.signals", *SIGNAL_MODULES])
def test_signals_all_is_sorted_and_complete(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=isort_key), module_name
    assert len(set(names)) == len(names)
    for name in names:
        assert not is_private(name), (module_name, name)
        assert hasattr(module, name), (module_name, name)
        obj = getattr(module, name)
        assert not isinstance(obj, types.ModuleType), (module_name, name)


def test_signals_package_reexports_the_module_objects() -> None:
    owners = [importlib.import_module(m) for m in SIGNAL_MODULES]
    for name in trackpref.signals.__all__:
        obj = getattr(trackpref.signals, name)
        assert any(name in m.__all__ and getattr(m, name) is obj for m in owners), name


def test_signals_modules_define_what_they_export() -> None:
    """A module's ``__all__`` lists only names it defines, not ones it imported."""
    for module_name in SIGNAL_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            defined_in = getattr(obj, "__module__", None)
            if isinstance(obj, type | types.FunctionType):
                assert defined_in == module_name, (module_name, name, defined_in)
