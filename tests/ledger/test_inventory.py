from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger.durations import Duration, Unit
from trackpref.ledger.inventory import (
    EFF_MIN_K,
    DatasetKind,
    FieldType,
    IdentifierKind,
    InventoryError,
    LegalBasis,
    RecipientKind,
    Sensitivity,
    load_inventory,
    parse_inventory,
)
from trackpref.signals import Purpose

EXAMPLE = resources.files("trackpref").joinpath("examples", "inventory.toml")

MINIMAL = """\
[site]
name = "shop.example"

[datasets.visits]
purposes = ["first-party-analytics"]
legal_basis = "legitimate-interests"

[datasets.visits.fields.path]
category = "user.behavior.browsing"
"""


def problems(text: str, source: str = "inv.toml") -> list[tuple[int | None, str, str]]:
    with pytest.raises(InventoryError) as info:
        parse_inventory(textwrap.dedent(text), source=source)
    assert all(p.file == source for p in info.value.located)
    return [(p.line, p.field, p.message) for p in info.value.located]


def test_example_inventory_loads() -> None:
    inv = load_inventory(str(EXAMPLE))
    assert inv.site.name == "news.example"
    assert inv.site.eff_dnt_policy
    pv = inv.dataset("pageviews")
    assert pv.kind is DatasetKind.RAW
    assert pv.retention == Duration(10, Unit.DAYS)
    assert pv.k == 10
    assert pv.k_dnt == EFF_MIN_K  # EFF policy raises k for aggregates with DNT users
    assert pv.k_for(includes_dnt=True) == EFF_MIN_K
    assert pv.k_for(includes_dnt=False) == 10
    assert pv.fields["visitor_id"].identifier is IdentifierKind.PSEUDONYMOUS
    assert (
        pv.fields["visitor_id"].sensitivity is Sensitivity.PERSONAL
    )  # identifiers default to personal
    assert pv.fields["referrer_host"].retention == Duration(24, Unit.HOURS)
    assert pv.fields["load_ms"].type is FieldType.INTEGER
    assert pv.fields["path"].purposes == pv.purposes  # inherits the dataset's purposes
    assert pv.identifier_fields == ("visitor_id",)
    subs = inv.dataset("subscriptions")
    assert subs.sensitive_fields == ("email",)
    assert subs.legal_basis is LegalBasis.CONSENT
    assert inv.recipients["cdn"].service_provider
    assert inv.recipients["cdn"].kind is RecipientKind.PROCESSOR
    assert inv.recipients["adnet"].is_third_party
    assert inv.purposes["newsletter"].counts_as is Purpose.CORE_SERVICE
    assert not inv.is_permitted_use("newsletter")
    assert inv.is_permitted_use("security")


def test_minimal_defaults() -> None:
    inv = parse_inventory(MINIMAL)
    ds = inv.dataset("visits")
    assert ds.retention == Duration(10, Unit.DAYS)  # raw logs: 10 days by default
    assert ds.k == ds.k_dnt == 10
    f = ds.fields["path"]
    assert f.type is FieldType.STRING
    assert f.max_length == 1024
    assert not f.ai_training
    with pytest.raises(KeyError, match="not declared"):
        inv.dataset("nope")


def test_every_problem_is_reported_with_file_line_and_field() -> None:
    found = problems(
        """\
        [site]
        name = "x.example"
        eff_dnt_policy = true

        [datasets.pv]
        purposes = ["analytcs", "security"]
        legal_basis = "because"
        retention = "30m"
        k_dnt = 10

        [datasets.pv.fields.visitor]
        identifier = "pseudo"
        category = "Bad Cat"
        retenton = "1d"
        """
    )
    assert (6, "datasets.pv.purposes") in [(line, f) for line, f, _ in found]
    assert (7, "datasets.pv.legal_basis") in [(line, f) for line, f, _ in found]
    assert (8, "datasets.pv.retention") in [(line, f) for line, f, _ in found]
    assert (9, "datasets.pv.k_dnt") in [(line, f) for line, f, _ in found]
    assert (12, "datasets.pv.fields.visitor.identifier") in [(line, f) for line, f, _ in found]
    assert (13, "datasets.pv.fields.visitor.category") in [(line, f) for line, f, _ in found]
    typo = [m for line, f, m in found if f == "datasets.pv.fields.visitor.retenton"]
    assert typo
    assert "did you mean 'retention'" in typo[0]
    assert [line for line, _, _ in found] == sorted(line or 0 for line, _, _ in found)


def test_error_text_names_file_and_line() -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory(MINIMAL.replace('"first-party-analytics"', '"nope"'), source="site.toml")
    assert str(info.value).startswith(
        "site.toml:5: datasets.visits.purposes: unknown purpose 'nope'"
    )
    assert info.value.field == "datasets.visits.purposes"


def test_toml_syntax_error_has_line() -> None:
    found = problems('[site]\nname = "x"\n[datasets.a\n', source="broken.toml")
    assert found[0][0] == 3
    assert "not valid TOML" in found[0][2]


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[site]\nname = "caf\xe9"\n')
    with pytest.raises(InventoryError, match=r"latin1.toml:2: the file is not UTF-8"):
        load_inventory(bad)


@pytest.mark.parametrize(
    ("patch", "field", "needle"),
    [
        ('retention = "11d"', "datasets.visits.retention", "longer than the raw-log limit"),
        ('kind = "stream"', "datasets.visits.kind", "not one of"),
        ("k = 1", "datasets.visits.k", "out of range"),
        ('k = "ten"', "datasets.visits.k", "whole number"),
        ("k_dnt = 5", "datasets.visits.k_dnt", "below k"),
        ('recipients = ["ghost"]', "datasets.visits.recipients", "not declared"),
        ('purposes = ["ai-training"]', "datasets.visits.ai_training", "ai_training = true"),
        ("purposes = []", "datasets.visits.purposes", "at least one purpose"),
        ("purposes = [1, 2]", "datasets.visits.purposes", "list of strings"),
        ('purposes = ["security", "security"]', "datasets.visits.purposes", "twice"),
        ('colour = "red"', "datasets.visits.colour", "unknown key"),
    ],
)
def test_dataset_rules(patch: str, field: str, needle: str) -> None:
    text = MINIMAL.replace(
        'legal_basis = "legitimate-interests"', f'legal_basis = "consent"\n{patch}'
    )
    if patch.startswith("purposes"):
        text = text.replace('purposes = ["first-party-analytics"]\n', "")
    found = problems(text)
    hits = [(line, m) for line, f, m in found if f == field]
    assert hits, found
    assert needle in hits[0][1]
    assert hits[0][0] == (6 if patch.startswith("purposes") else 7)  # the line of the patch


@pytest.mark.parametrize(
    ("patch", "field", "needle"),
    [
        ('type = "date"', "type", "not one of"),
        ('retention = "11d"', "retention", "longer than the dataset's retention"),
        ('identifier = "direct"\nsensitivity = "none"', "sensitivity", "identifier is personal"),
        ("ai_training = true", "ai_training", "dataset says ai_training = false"),
        ('type = "integer"\nmax_length = 4', "max_length", "only to string fields"),
        ("min = 1", "", "min and max apply only"),
        ('purposes = ["security"]', "purposes", "not among the dataset's purposes"),
        ("max_length = 0", "max_length", "out of range"),
        ('description = "a\\u0000b"', "description", "control characters"),
        ('sensitivity = "sensitive"\nmax_length = 262144', "max_length", "sealed string holds"),
    ],
)
def test_field_rules(patch: str, field: str, needle: str) -> None:
    found = problems(MINIMAL + patch + "\n")
    want = "datasets.visits.fields.path" + (f".{field}" if field else "")
    hits = [(line, m) for line, f, m in found if f == want]
    assert hits, found
    assert needle in hits[0][1]


def test_field_required_keys_and_names() -> None:
    found = problems(
        """\
        [site]
        name = "x.example"
        [datasets.v]
        purposes = ["security"]
        legal_basis = "legal-obligation"
        [datasets.v.fields.ts]
        category = "system.time"
        [datasets.v.fields.Bad-Name]
        category = "a.b"
        [datasets.v.fields.ok]
        type = "string"
        """
    )
    fields = {f: m for _, f, m in found}
    assert "reserved" in fields["datasets.v.fields.ts"]
    assert "lowercase" in fields["datasets.v.fields.Bad-Name"]
    assert "required" in fields["datasets.v.fields.ok.category"]


def test_site_and_eff_rules() -> None:
    found = problems(
        """\
        version = 2
        [site]
        eff_dnt_policy = "yes"
        raw_log_retention = "2 weeks"
        url = "http://example.com/privacy"
        [datasets.v]
        purposes = ["security"]
        legal_basis = "contract"
        [datasets.v.fields.a]
        category = "a"
        """
    )
    fields = {f: (line, m) for line, f, m in found}
    assert fields["version"][0] == 1
    assert "required" in fields["site.name"][1]
    assert "true or false" in fields["site.eff_dnt_policy"][1]
    assert fields["site.url"][0] == 5
    assert "https" in fields["site.url"][1]
    # eff_dnt_policy was malformed, so it fell back to false: a 2-week raw log limit then
    # applies, and the dataset may keep its raw log that long.
    found = problems(
        """\
        [site]
        name = "x"
        eff_dnt_policy = true
        raw_log_retention = "2 weeks"
        [datasets.v]
        purposes = ["security"]
        legal_basis = "contract"
        [datasets.v.fields.a]
        category = "a"
        """
    )
    assert found[0][:2] == (4, "site.raw_log_retention")
    assert "EFF" in found[0][2]


@pytest.mark.parametrize(
    ("value", "wanted"),
    [("12 hours", "shorter than a day"), ("0d", "positive"), ("soon", "duration")],
)
def test_records_retention_must_be_a_duration_of_a_day_or_more(value: str, wanted: str) -> None:
    found = problems(
        f"""
        version = 1
        [site]
        name = "x"
        records_retention = "{value}"
        [datasets.v]
        purposes = ["security"]
        legal_basis = "contract"
        [datasets.v.fields.a]
        category = "a"
        """
    )
    assert [(line, f) for line, f, _ in found] == [(5, "site.records_retention")]
    assert wanted in found[0][2]


def test_records_retention_defaults_to_24_months_and_is_published() -> None:
    base = (
        '[site]\nname = "x"\n{extra}[datasets.v]\npurposes = ["security"]\n'
        'legal_basis = "contract"\n[datasets.v.fields.a]\ncategory = "a"\n'
    )
    default = parse_inventory("version = 1\n" + base.format(extra=""))
    assert default.site.records_retention == Duration(24, Unit.MONTHS)
    longer = parse_inventory("version = 1\n" + base.format(extra='records_retention = "3 years"\n'))
    assert longer.site.records_retention == Duration(3, Unit.YEARS)
    assert longer.site.as_dict()["records_retention"] == Duration(3, Unit.YEARS).to_json()


def test_missing_site_and_datasets() -> None:
    found = problems('title = "x"\n')
    fields = [f for _, f, _ in found]
    assert "site" in fields
    assert "datasets" in fields
    assert "title" in fields


def test_recipients_and_site_purposes() -> None:
    found = problems(
        """\
        [site]
        name = "x"
        [purposes.security]
        description = "again"
        [purposes.Big]
        description = "bad name"
        [purposes.upsell]
        counts_as = "security"
        [purposes.resale]
        description = "selling lists"
        counts_as = "nonsense"
        [recipients.ads]
        name = "Ads Inc"
        kind = "third-party"
        service_provider = true
        deletion_webhook = "ftp://ads.example/delete"
        [recipients.cdn]
        kind = "processor"
        deletion_webhook = "http://cdn.example/delete"
        [datasets.v]
        purposes = ["upsell"]
        legal_basis = "consent"
        [datasets.v.fields.a]
        category = "a"
        """
    )
    fields = {f: (line, m) for line, f, m in found}
    assert "built-in" in fields["purposes.security"][1]
    assert "lowercase" in fields["purposes.Big"][1]
    assert "required" in fields["purposes.upsell.description"][1]
    assert "permitted use" in fields["purposes.upsell.counts_as"][1]
    assert fields["purposes.resale.counts_as"][0] == 11
    assert "not a service provider" in fields["recipients.ads.service_provider"][1]
    assert fields["recipients.ads.deletion_webhook"][0] == 16
    assert "required" in fields["recipients.cdn.name"][1]
    assert "https" in fields["recipients.cdn.deletion_webhook"][1]


def test_loopback_webhook_is_allowed_for_development() -> None:
    text = MINIMAL + (
        '[recipients.dev]\nname = "Dev"\nkind = "processor"\n'
        'deletion_webhook = "http://127.0.0.1:8080/delete"\n'
    )
    inv = parse_inventory(text)
    assert inv.recipients["dev"].deletion_webhook == "http://127.0.0.1:8080/delete"


def test_lines_of_inline_tables_dotted_keys_and_multiline_values() -> None:
    found = problems(
        '''\
        [site]
        name = "x"
        [datasets.v]
        description = """
        fields = nothing here
        [not.a.table]
        """
        purposes = [
          "security",
          "bogus",
        ]
        legal_basis = "contract"
        fields.a = { category = "a", type = "blob" }
        fields.b.category = "b"
        fields.b.identifier = "maybe"
        '''
    )
    fields = {f: line for line, f, _ in found}
    assert fields["datasets.v.purposes"] == 8
    assert fields["datasets.v.fields.a.type"] == 13
    assert fields["datasets.v.fields.b.identifier"] == 15


def test_hostile_strings_are_kept_as_text() -> None:
    text = MINIMAL.replace(
        'category = "user.behavior.browsing"',
        'category = "user.behavior.browsing"\n'
        'description = "<script>alert(1)</script>\'; DROP TABLE x;--"',
    )
    inv = parse_inventory(text)
    assert inv.dataset("visits").fields["path"].description.startswith("<script>")


# -- property: a bad value anywhere is reported at exactly its line and field --

_KEYS = {
    "kind": "'stream'",
    "legal_basis": "'whim'",
    "retention": "'30m'",
    "k": "0",
    "ai_training": "'maybe'",
}
_FIELD_KEYS = {
    "type": "'blob'",
    "identifier": "'sometimes'",
    "sensitivity": "'very'",
    "retention": "'5 fortnights'",
    "max_length": "-1",
    "required": "'yes'",
}


@st.composite
def inventories(draw: st.DrawFn) -> tuple[str, int, str]:
    n_datasets = draw(st.integers(1, 3))
    lines = ["# generated", "[site]", 'name = "gen.example"', ""]
    targets: list[tuple[int, str]] = []
    for d in range(n_datasets):
        lines += [f"[datasets.d{d}]", 'purposes = ["security", "debugging"]']
        for key, bad in _KEYS.items():
            if draw(st.booleans()):
                lines.append(f"{key} = {bad}")
                targets.append((len(lines), f"datasets.d{d}.{key}"))
        if not any(t[1] == f"datasets.d{d}.legal_basis" for t in targets):
            lines.append('legal_basis = "legal-obligation"')
        for f in range(draw(st.integers(1, 3))):
            lines += ["", f"[datasets.d{d}.fields.f{f}]", 'category = "system.log"']
            for key, bad in _FIELD_KEYS.items():
                if draw(st.booleans()):
                    lines.append(f"{key} = {bad}")
                    targets.append((len(lines), f"datasets.d{d}.fields.f{f}.{key}"))
        lines.append("")
    if not targets:
        lines.append("[datasets.d0.fields.extra]")
        lines.append("type = 'blob'")
        targets.append((len(lines), "datasets.d0.fields.extra.type"))
    line, field = draw(st.sampled_from(targets))
    return "\n".join(lines) + "\n", line, field


@settings(max_examples=60, deadline=None)
@given(inventories())
def test_property_each_bad_value_is_located(case: tuple[str, int, str]) -> None:
    text, line, field = case
    with pytest.raises(InventoryError) as info:
        parse_inventory(text, source="gen.toml")
    located = {p.field: p.line for p in info.value.located}
    assert located.get(field) == line, (field, line, located)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_garbage_never_escapes_as_another_error(text: str) -> None:
    try:
        parse_inventory(text)
    except InventoryError as exc:
        located = exc.located
    else:
        return
    assert located


def test_a_sealed_string_of_the_longest_length_fits_the_sealer() -> None:
    from trackpref.ledger.crypto import MAX_PLAINTEXT
    from trackpref.ledger.inventory import MAX_SEALED_LENGTH

    # Four bytes a character at worst (UTF-8), and the JSON quotes.
    assert MAX_SEALED_LENGTH * 4 + 2 <= MAX_PLAINTEXT
    text = MINIMAL + f'sensitivity = "sensitive"\nmax_length = {MAX_SEALED_LENGTH}\n'
    field = parse_inventory(text).datasets["visits"].fields["path"]
    assert field.max_length == MAX_SEALED_LENGTH
