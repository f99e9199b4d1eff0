"""A small decoder (and encoder) for IAB GPP strings: the header, and the parts of
the US sections an audit needs.

The auditor reads a site's GPP string without and with the signal and asks one
question of it: did the site record the opt-out? GPP §"GPC subsection" says
sections that carry one must take ``Gpc`` from ``Sec-GPC``; usnat and usca also
carry the opt-out fields themselves. Everything else in a section (sensitive-data
bitfields, MSPA modes, TCF) is left undecoded: it is not evidence about DNT or
GPC, and a decoder for it would be code nobody checks.

Layout (Consent String Specification v1): ``header~section~section``; the
header is web-safe base64 of Type Int(6)=3, Version Int(6), Sections
Range(Fibonacci). Base64 sections split into subsections at ``.``; a
subsection after the core starts with SubsectionType Int(2), where 1 is the
GPC subsection, followed by Gpc Boolean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trackpref.signals.errors import SignalError

__all__ = [
    "GPC_SUBSECTION_SECTIONS",
    "SECTION_PREFIXES",
    "GppSection",
    "GppString",
    "decode_gpp",
    "encode_gpp",
    "encode_us_section",
]

SECTION_PREFIXES: dict[int, str] = {
    1: "tcfeuv1",
    2: "tcfeuv2",
    3: "header",
    4: "signal-integrity",
    5: "tcfcav1",
    6: "uspv1",
    7: "usnat",
    8: "usca",
    9: "usva",
    10: "usco",
    11: "usut",
    12: "usct",
    13: "usfl",
    14: "usmt",
    15: "usor",
    16: "ustx",
    17: "usde",
    18: "usia",
    19: "usne",
    20: "usnh",
    21: "usnj",
    22: "ustn",
    23: "usmn",
    24: "usmd",
    25: "usin",
    26: "usky",
    27: "usri",
}

#: Sections whose specification defines a GPC subsection (specs.md §5).
GPC_SUBSECTION_SECTIONS = frozenset({7, 8, 10, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})

#: Core fields decoded per section, in order, each Int(2) after Version Int(6).
#: Only the prefix up to the last opt-out is listed: it is identical in every
#: version of these sections, and the fields after it vary.
_CORE_FIELDS: dict[int, tuple[str, ...]] = {
    7: (
        "SharingNotice",
        "SaleOptOutNotice",
        "SharingOptOutNotice",
        "TargetedAdvertisingOptOutNotice",
        "SensitiveDataProcessingOptOutNotice",
        "SensitiveDataLimitUseNotice",
        "SaleOptOut",
        "SharingOptOut",
        "TargetedAdvertisingOptOut",
    ),
    8: (
        "SaleOptOutNotice",
        "SharingOptOutNotice",
        "SensitiveDataLimitUseNotice",
        "SaleOptOut",
        "SharingOptOut",
    ),
}

#: The opt-out fields, where 1 means "opted out" and 2 "did not opt out".
OPT_OUT_FIELDS = ("SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut")

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
#: Longer strings are refused: real ones are a few hundred characters, and this
#: runs on whatever a page or cookie hands over.
MAX_GPP_LENGTH = 16_384


@dataclass(frozen=True, slots=True)
class GppSection:
    id: int
    prefix: str | None
    raw: str
    version: int | None = None
    #: ``None`` when the string has no GPC subsection for this section.
    gpc: bool | None = None
    #: Decoded core fields (see ``_CORE_FIELDS``), as (name, value) pairs.
    fields: tuple[tuple[str, int], ...] = ()
    #: Why the section could not be decoded, if it could not.
    problem: str | None = None

    def field(self, name: str) -> int | None:
        return next((v for n, v in self.fields if n == name), None)

    @property
    def opted_out(self) -> bool | None:
        """True if any opt-out field says "opted out"; False if all say "did not";
        None if the section carries none."""
        values = [v for n, v in self.fields if n in OPT_OUT_FIELDS and v in (1, 2)]
        if not values:
            return None
        return any(v == 1 for v in values)


@dataclass(frozen=True, slots=True)
class GppString:
    raw: str
    version: int
    section_ids: tuple[int, ...]
    sections: tuple[GppSection, ...]

    def section(self, section_id: int) -> GppSection | None:
        return next((s for s in self.sections if s.id == section_id), None)

    @property
    def gpc(self) -> bool | None:
        """The ``Gpc`` value across sections: True if any says 1, None if none has it."""
        values = [s.gpc for s in self.sections if s.gpc is not None]
        if not values:
            return None
        return any(values)


class _Bits:
    def __init__(self, text: str, *, what: str) -> None:
        bits: list[str] = []
        for ch in text:
            value = _VALUE.get(ch)
            if value is None:
                raise SignalError(f"{what}: {ch!r} is not a web-safe base64 character", field="gpp")
            bits.append(format(value, "06b"))
        self.bits = "".join(bits)
        self.pos = 0
        self.what = what

    def take(self, n: int) -> str:
        if self.pos + n > len(self.bits):
            raise SignalError(f"{self.what}: ends early (needed {n} more bits)", field="gpp")
        out = self.bits[self.pos : self.pos + n]
        self.pos += n
        return out

    def integer(self, n: int) -> int:
        return int(self.take(n), 2)

    def flag(self) -> bool:
        return self.take(1) == "1"

    def fibonacci(self) -> int:
        """Fibonacci code: bits weighted 1, 2, 3, 5, ... ended by the second of two 1s."""
        total = 0
        a, b = 1, 2
        previous = "0"
        while True:
            bit = self.take(1)
            if bit == "1" and previous == "1":
                return total
            if bit == "1":
                total += a
            a, b = b, a + b
            previous = bit
            if total > 1 << 32:
                raise SignalError(f"{self.what}: Fibonacci integer too large", field="gpp")

    def fibonacci_range(self) -> list[int]:
        count = self.integer(12)
        out: list[int] = []
        last = 0
        for _ in range(count):
            is_group = self.flag()
            start = last + self.fibonacci()
            if is_group:
                end = start + self.fibonacci()
                if end - start > 256:
                    raise SignalError(f"{self.what}: section range too long", field="gpp")
                out.extend(range(start, end + 1))
                last = end
            else:
                out.append(start)
                last = start
        return out


def decode_gpp(text: str) -> GppString:
    """Decode a GPP string. Raises :class:`SignalError` (``field="gpp"``) when the
    header is not a GPP header; a section that does not decode is kept with its
    ``problem`` instead, so one bad section does not hide the others."""
    text = text.strip()
    if not text:
        raise SignalError("empty GPP string", field="gpp")
    if len(text) > MAX_GPP_LENGTH:
        raise SignalError(f"GPP string longer than {MAX_GPP_LENGTH} characters", field="gpp")
    header_text, *section_texts = text.split("~")
    bits = _Bits(header_text, what="GPP header")
    kind = bits.integer(6)
    if kind != 3:
        hint = " (a TCF v2 string starts with 'C')" if header_text.startswith("C") else ""
        raise SignalError(f"GPP header type is {kind}, not 3{hint}", field="gpp")
    version = bits.integer(6)
    ids = bits.fibonacci_range()
    if len(ids) != len(section_texts):
        raise SignalError(
            f"GPP header lists {len(ids)} section(s) but the string has {len(section_texts)}",
            field="gpp",
        )
    sections = tuple(_decode_section(sid, raw) for sid, raw in zip(ids, section_texts, strict=True))
    return GppString(text, version, tuple(ids), sections)


def _decode_section(section_id: int, raw: str) -> GppSection:
    prefix = SECTION_PREFIXES.get(section_id)
    if section_id == 6 or section_id not in (*_CORE_FIELDS, *GPC_SUBSECTION_SECTIONS):
        # uspv1 is plain text, TCF and the rest carry nothing the audit reads.
        return GppSection(section_id, prefix, raw)
    subsections = raw.split(".")
    try:
        core = _Bits(subsections[0], what=f"GPP section {prefix}")
        version = core.integer(6)
        fields = tuple((name, core.integer(2)) for name in _CORE_FIELDS.get(section_id, ()))
        gpc: bool | None = None
        for sub in subsections[1:]:
            reader = _Bits(sub, what=f"GPP section {prefix} subsection")
            if reader.integer(2) == 1:
                gpc = reader.flag()
    except SignalError as exc:
        return GppSection(section_id, prefix, raw, problem=exc.message)
    if gpc is not None and section_id not in GPC_SUBSECTION_SECTIONS:
        gpc = None
    return GppSection(section_id, prefix, raw, version, gpc, fields)


# -- encoding (fixture sites and round-trip tests) ---------------------------------


def _to_base64(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(_ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def _int_bits(value: int, width: int) -> str:
    if not 0 <= value < (1 << width):
        raise SignalError(f"{value} does not fit in {width} bits", field="gpp")
    return format(value, f"0{width}b")


def _fibonacci_bits(value: int) -> str:
    if value < 1:
        raise SignalError("Fibonacci coding needs a positive integer", field="gpp")
    fibs = [1, 2]
    while fibs[-1] <= value:
        fibs.append(fibs[-1] + fibs[-2])
    code = ["0"] * len(fibs)
    rest = value
    for i in range(len(fibs) - 1, -1, -1):
        if fibs[i] <= rest:
            code[i] = "1"
            rest -= fibs[i]
    return "".join(code).rstrip("0") + "1"


def _header(section_ids: Sequence[int]) -> str:
    ids = list(section_ids)
    if ids != sorted(set(ids)) or (ids and ids[0] < 1):
        raise SignalError("GPP section ids must be positive, unique and sorted", field="gpp")
    bits = _int_bits(3, 6) + _int_bits(1, 6) + _int_bits(len(ids), 12)
    last = 0
    for sid in ids:
        bits += "0" + _fibonacci_bits(sid - last)
        last = sid
    return _to_base64(bits)


def encode_us_section(
    section_id: int,
    *,
    version: int = 1,
    fields: Iterable[tuple[str, int]] = (),
    gpc: bool | None = None,
) -> str:
    """Encode the decoded prefix of a usnat/usca-style core plus a GPC subsection.

    The core is padded with zero bits after the listed fields, which is how an
    encoder writes "not applicable" for the rest.
    """
    values = dict(fields)
    names = _CORE_FIELDS.get(section_id, ())
    unknown = set(values) - set(names)
    if unknown:
        raise SignalError(f"section {section_id} has no field(s) {sorted(unknown)}", field="gpp")
    core = _int_bits(version, 6) + "".join(_int_bits(values.get(n, 0), 2) for n in names)
    core += "0" * 24
    out = _to_base64(core)
    if gpc is not None:
        out += "." + _to_base64("01" + ("1" if gpc else "0"))
    return out


def encode_gpp(sections: Sequence[tuple[int, str]]) -> str:
    """``[(7, encode_us_section(7, ...)), (6, "1YNN")]`` -> a GPP string."""
    ordered = sorted(sections)
    return "~".join([_header([sid for sid, _ in ordered]), *(text for _, text in ordered)])
