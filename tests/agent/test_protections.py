from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.protections import Protections, load_privacy_config, read_privacy_config
from trackpref.agent.url_params import DEFAULT_TRACKING_PARAMETERS
from trackpref.signals.errors import ValidationError


def test_the_default_protects_everywhere() -> None:
    p = Protections()
    assert p.gpc
    assert p.referrer
    assert p.parameters
    assert p.cookies
    assert not p.unprotected
    assert p.tracking_parameters == DEFAULT_TRACKING_PARAMETERS


def test_a_privacy_config_sets_the_switches() -> None:
    p = load_privacy_config(
        {
            "unprotectedTemporary": [{"domain": "broken.example", "reason": "x"}],
            "features": {
                "gpc": {"state": "enabled", "exceptions": [{"domain": "bank.example"}]},
                "referrer": {"state": "disabled"},
                "trackingParameters": {
                    "settings": {"parameters": ["ref"]},
                    "exceptions": ["aff.example"],
                },
                "trackingCookies3p": {
                    "exceptions": [{"domain": "login.example"}],
                    "settings": {"excludedCookieDomains": [{"domain": "sso.example"}]},
                },
            },
        }
    )
    assert p.unprotected.covers("www.broken.example")
    assert p.gpc_exceptions.covers("bank.example")
    assert not p.referrer
    assert p.tracking_parameters == frozenset({"ref"})
    assert p.parameter_exceptions.covers("aff.example")
    assert p.cookie_exceptions.covers("login.example")
    assert p.excluded_cookie_domains.covers("a.sso.example")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        load_privacy_config(
            {
                "unprotectedTemporary": "nope",
                "features": {
                    "gpc": {"exceptions": [{"domain": "bad host"}]},
                    "trackingParameters": {"settings": {"parameters": [1]}},
                },
            }
        )
    fields = [f for f, _ in err.value.problems]
    assert fields == [
        "unprotectedTemporary",
        "features.trackingParameters.settings.parameters",
        "features.gpc.exceptions[0]",
    ]
    bad = tmp_path / "config.json"
    bad.write_text("{")
    with pytest.raises(ValidationError, match=str(bad)):
        read_privacy_config(bad)
    with pytest.raises(ValidationError, match="cannot be read"):
        read_privacy_config(tmp_path / "missing.json")
    bad.write_text("[" + "1" * 5_000 + "]")
    with pytest.raises(ValidationError, match="not JSON"):
        read_privacy_config(bad)
    bad.write_text("[" * 100_000)
    with pytest.raises(ValidationError, match="not JSON: nested too deeply"):
        read_privacy_config(bad)
    bad.write_text(json.dumps([]))
    with pytest.raises(ValidationError, match="one JSON object"):
        read_privacy_config(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
def test_any_document_loads_or_raises_validation_error(
    features: object, unprotected: object
) -> None:
    error: ValidationError | None = None
    try:
        load_privacy_config({"features": features, "unprotectedTemporary": unprotected})
    except ValidationError as exc:
        error = exc
    assert error is None or error.problems
