"""Printing values as Go does: ``json.Marshal`` for maps and lists, ``fmt.Print`` for the rest.

Integers stay integers (kubectl's decoder keeps ``int64``), so ``{.port}`` of
``{"port": 1000000}`` prints ``1000000``, while the float one million prints ``1e+06``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from lsp_render.secrets.jsonpath.nodes import JSONPathError

__all__ = ["format_value", "go_json"]


def _shortest(number: float) -> tuple[str, int]:
    """Return the shortest round-trip digits of ``number`` and its decimal point position."""
    sign, digits, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    del sign
    text = "".join(str(d) for d in digits)
    assert isinstance(exponent, int)  # noqa: S101 - finite numbers only
    return text, len(text) + exponent


def _go_float(number: float, *, for_json: bool) -> str:
    """Format a float as Go's ``fmt.Print`` (``%v``) or ``json.Marshal`` would."""
    if number != number or number in (float("inf"), float("-inf")):  # noqa: PLR0124
        if for_json:
            raise JSONPathError("unsupported value: NaN or Inf")
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(number)]
    if number == 0:
        return "-0" if repr(number).startswith("-") and not for_json else "0"
    sign = "-" if number < 0 else ""
    digits, point = _shortest(number)
    exp = point - 1
    # json.Marshal switches to exponents outside [1e-6, 1e21); fmt's %v (shortest 'g')
    # when the decimal exponent is below -4 or at least 6 (so 1e+06, not 1000000).
    use_exp = (abs(number) < 1e-6 or abs(number) >= 1e21) if for_json else (exp < -4 or exp >= 6)
    if use_exp:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "-" if exp < 0 else "+"
        width = 1 if for_json and exp < 0 else 2
        return f"{sign}{mantissa}e{exp_sign}{abs(exp):0{width}d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_json(value: Any) -> str:  # noqa: PLR0911
    r"""Encode ``value`` as Go's ``json.Marshal`` does: compact, sorted keys, HTML-safe escapes.

    Parameters
    ----------
    value
        JSON-like data.

    Returns
    -------
    str
        The JSON text (``<``, ``>``, ``&`` as ``\u003c``, ``\u003e``, ``\u0026``).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value, for_json=True)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, Mapping):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{_go_json_string(k)}:{go_json(v)}" for k, v in items) + "}"
    if isinstance(value, Sequence | bytes):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    return _go_json_string(str(value))


def _go_json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def format_value(value: Any) -> str:
    """Print one result: JSON for maps and lists, Go's ``fmt.Print`` for the rest.

    Parameters
    ----------
    value
        One value a template selected.

    Returns
    -------
    str
        Its text (``1e+06`` for the float one million, as Go prints it).
    """
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    ):
        return go_json(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value, for_json=False)
    return str(value)
