"""Every --db value is read one way: a SQLite path or a PostgreSQL DSN, or a named error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.db_url import DbUrl, parse_db_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("stats.db", DbUrl("sqlite", "stats.db")),
        ("sqlite:///rel.db", DbUrl("sqlite", "rel.db")),
        ("sqlite:////abs/x%20y.db", DbUrl("sqlite", "/abs/x y.db")),
        ("postgresql://u@h/db", DbUrl("postgres", "postgresql://u@h/db")),
        ("POSTGRES://h/db", DbUrl("postgres", "POSTGRES://h/db")),
    ],
)
def test_what_each_spelling_names(value: str, expected: DbUrl) -> None:
    assert parse_db_url(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no database path"),
        ("   ", "no database path"),
        ("sqlite:///", "no database path"),
        ("sqlite://rel.db", "write sqlite:///relative.db"),
        ("mysql://h/db", "unknown store scheme 'mysql'"),
    ],
)
def test_what_is_refused_is_named(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_db_url(value)


@given(st.text(max_size=60))
def test_any_text_is_a_store_or_a_value_error(value: str) -> None:
    try:
        kind, target = parse_db_url(value)
    except ValueError:
        return
    assert kind in ("sqlite", "postgres")
    assert target.strip()
