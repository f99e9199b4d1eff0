"""Just enough inline CSS to tell whether an image can be seen.

Pixels hide with ``width:1px``, ``display:none``, ``opacity:0`` and friends in
a ``style`` attribute. Declarations are split on ``;`` and ``:``; the values
looked at are lengths and a few keywords, so nothing more of CSS is needed.
"""

from __future__ import annotations

__all__ = ["css_length_px", "hidden_by_style", "parse_dimension", "parse_style"]

_MAX_STYLE = 8192
_UNITS_TO_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
_RELATIVE = ("em", "rem", "ex", "ch", "vw", "vh", "vmin", "vmax")


def _strip_comments(text: str) -> str:
    out = []
    i = 0
    while True:
        start = text.find("/*", i)
        if start == -1:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.find("*/", start + 2)
        if end == -1:
            break
        i = end + 2
    return "".join(out)


def parse_style(style: str) -> dict[str, str]:
    """``{"width": "1px", "display": "none"}``; later declarations win."""
    text = _strip_comments(style[:_MAX_STYLE])
    decls: dict[str, str] = {}
    for decl in text.split(";"):
        name, colon, value = decl.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        value = value.strip().lower()
        if value.endswith("!important"):
            value = value[: -len("!important")].strip()
        if name:
            decls[name] = value
    return decls


def css_length_px(value: str) -> float | None:
    """A CSS length in pixels; ``None`` for percentages, ``auto`` and junk.

    Relative units count only when they are zero: ``0em`` hides, ``1em`` does
    not tell us the size.
    """
    text = value.strip().lower()
    if not text or len(text) > 32:
        return None
    for unit, factor in _UNITS_TO_PX.items():
        if text.endswith(unit):
            number = _number(text[: -len(unit)])
            return None if number is None else number * factor
    for unit in _RELATIVE:
        if text.endswith(unit):
            number = _number(text[: -len(unit)])
            return 0.0 if number == 0 else None
    return _number(text)


def parse_dimension(value: str | None) -> float | None:
    """An HTML ``width``/``height`` attribute: ``"1"``, ``"1px"``, ``" 0 "``."""
    if value is None:
        return None
    text = value.strip().lower()
    if text.endswith("%"):
        return None
    if text.endswith("px"):
        text = text[:-2]
    return _number(text)


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or len(text) > 24:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def hidden_by_style(decls: dict[str, str]) -> str | None:
    """Why these declarations make an element invisible, or ``None``."""
    if decls.get("display", "").startswith("none"):
        return "display:none"
    if decls.get("visibility", "") in ("hidden", "collapse"):
        return "visibility:hidden"
    opacity = _number(decls.get("opacity", ""))
    if opacity is not None and opacity <= 0.01:
        return "opacity:0"
    for prop in ("max-height", "max-width"):
        length = css_length_px(decls.get(prop, ""))
        if length is not None and length <= 0:
            return f"{prop}:0"
    if decls.get("mso-hide", "") == "all":
        return "mso-hide:all"
    return None
