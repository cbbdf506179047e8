"""Write one YAML scalar in place of another, keeping the rest of the text as it is.

The substitution edits a document's text only where a scalar changes. The new
scalar keeps the old one's style when the value allows it (plain stays plain,
single-quoted stays single-quoted, a block scalar stays a block scalar); a value
that a style cannot hold safely gets a style that can: a quoted scalar, or a
literal block for several lines. Whatever the value holds (quotes, ``#``, ``: ``,
line breaks, ``---``), the result parses back to exactly that value, so a value
can never change the document's structure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["block_tail", "double_quoted", "replacement_text"]

_PLAIN_BLOCK = re.compile(r"[A-Za-z_./][A-Za-z0-9_./@%+=~:,-]*(?: [A-Za-z0-9_./@%+=~:,-]+)*")
_PLAIN_FLOW = re.compile(r"[A-Za-z_./][A-Za-z0-9_./@%+=~-]*")
_RESERVED = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "<<"}
)
_DOT_NUMBER = re.compile(r"\.(?:[0-9]|inf|nan)", re.IGNORECASE)
_LINE_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")
_NON_PRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff\ufffe\uffff]"
)
_TO_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_TRAILING_BLANKS = re.compile(r"\n(?:[ \t]*\n)*\Z")


def _plain_ok(value: str, *, flow: bool) -> bool:
    pattern = _PLAIN_FLOW if flow else _PLAIN_BLOCK
    if not pattern.fullmatch(value) or value.lower() in _RESERVED:
        return False
    if _DOT_NUMBER.match(value):  # .5, .inf, .NaN are floats
        return False
    # "a:b" is fine in a block, "a: b" and a trailing colon are not.
    return ": " not in value and not value.endswith(":")


def double_quoted(value: str) -> str:
    """Return ``value`` as a YAML double-quoted scalar (JSON escapes and YAML's non-printables).

    Parameters
    ----------
    value
        Any string.

    Returns
    -------
    str
        A one-line double-quoted scalar that parses back to ``value``.
    """
    encoded = json.dumps(value, ensure_ascii=False)
    return _TO_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def _single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal_block(value: str, indent: int) -> str | None:
    """Return a literal block scalar (header and content, no final line break), or None."""
    if _NON_PRINTABLE.search(value) or re.search("[\r\x85\u2028\u2029]", value):
        return None
    if value.endswith("\n\n") or value.startswith((" ", "\t", "\n")):
        # go-yaml finds a block scalar's indentation on its first line and refuses a tab
        # there ("found a tab character where an indentation space is expected")
        return None
    body = value[:-1] if value.endswith("\n") else value
    header = "|" if value.endswith("\n") else "|-"
    pad = " " * indent
    return header + "".join("\n" + (pad + line if line else "") for line in body.split("\n"))


def block_tail(original: str) -> str:
    """Return what follows the content of a block scalar's text (its last line break and blanks).

    Parameters
    ----------
    original
        A block scalar's text, from its header to its end mark.

    Returns
    -------
    str
        The trailing line break and blank lines that belong to the layout.
    """
    match = _TRAILING_BLANKS.search(original)
    return original[match.start() :] if match else ""


def _content_indent(original: str, fallback: int) -> int:
    for line in original.split("\n")[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return fallback


def replacement_text(  # noqa: PLR0911
    value: Any,
    *,
    original: str,
    style: str | None,
    flow: bool,
    indent: int,
    line_rest: str,
) -> str:
    """Return the YAML text that replaces a scalar's text.

    Parameters
    ----------
    value
        The new value: a string, or any JSON-like value (written as a YAML
        scalar or JSON flow collection).
    original
        The old scalar's text (from its start mark to its end mark).
    style
        The old scalar's style: ``""``/``None`` plain, ``"'"``, ``'"'``, ``"|"``, ``">"``.
    flow
        The scalar stands inside a flow collection (``[...]``/``{...}``).
    indent
        Content indentation for a literal block that replaces a flow scalar.
    line_rest
        The text after the old scalar up to the end of its line.

    Returns
    -------
    str
        The replacement text.
    """
    block = style in ("|", ">")
    tail = block_tail(original) if block else ""
    if not isinstance(value, str):
        return _non_string(value) + tail
    if _LINE_BREAKS.search(value):
        if not flow and (block or not line_rest.strip()):
            width = _content_indent(original, indent) if block else indent
            literal = _literal_block(value, width)
            if literal is not None:
                return literal + tail
        return double_quoted(value) + tail
    if block:
        literal = _literal_block(value, _content_indent(original, indent))
        if literal is not None:
            return literal + tail
        return double_quoted(value) + tail
    if not style and _plain_ok(value, flow=flow):
        return value
    if style != '"' and not _NON_PRINTABLE.search(value):
        return _single_quoted(value)
    return double_quoted(value)


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = json.dumps(value)
    if "e" in text and "." not in text:
        # YAML 1.1 floats need a dot: 1e+21 -> 1.0e+21
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _non_string(value: Any) -> str:  # noqa: PLR0911 - one return per type
    """Write a non-string value as a YAML flow node (JSON layout, YAML-safe strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return double_quoted(value)
    if isinstance(value, Mapping):
        items = (f"{double_quoted(str(key))}: {_non_string(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_non_string(item) for item in value) + "]"
    return double_quoted(str(value))
