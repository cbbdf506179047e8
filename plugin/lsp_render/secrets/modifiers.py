"""AVP's placeholder modifiers: ``<placeholder | base64encode | jsonPath {.a} | indent 4>``.

- ``base64encode``: standard base64 of a string;
- ``base64decode``: standard base64 decode (line breaks ignored, as Go does); invalid
  input is an error (AVP ignores it);
- ``jsonPath TEMPLATE``: Kubernetes JSONPath over the value (a string is JSON-parsed
  first), giving a string; the template is kept as written (AVP collapses its blanks);
- ``jsonParse``: JSON text to a value;
- ``yamlParse``: YAML text to a value (JSON-like: keys become strings, timestamps stay
  as written; a value whose aliases loop or explode is refused);
- ``indent N``: later lines indented by N spaces; blank lines stay empty and inner
  indentation is kept (AVP trims lines and drops blank ones);
- ``sha256sum``: lowercase hex SHA-256 of a string.

Errors name the modifier and the value's type, never the value.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsp_render.core.yamlfile import yaml_error_position
from lsp_render.secrets.jsonpath import JSONPath, JSONPathError

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

__all__ = ["MODIFIERS", "Modifier", "ModifierError", "apply_modifiers", "parse_modifier"]

MODIFIERS = frozenset(
    {"base64encode", "base64decode", "jsonPath", "jsonParse", "yamlParse", "indent", "sha256sum"}
)
"""Every modifier name (case-sensitive, as in AVP)."""


class ModifierError(ValueError):
    """A modifier failed on a value (the message holds no value).

    Parameters
    ----------
    message
        What went wrong.
    bad_input
        The value is unusable input (exit 2), not a failed render (exit 1).
    """

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True, slots=True)
class Modifier:
    """One parsed modifier.

    Attributes
    ----------
    name
        One of :data:`MODIFIERS`.
    argument
        The text after the name, stripped (``""`` when none).
    template
        The parsed template of ``jsonPath``.
    width
        The indentation of ``indent``.
    """

    name: str
    argument: str = ""
    template: JSONPath | None = None
    width: int = 0


def parse_modifier(segment: str) -> Modifier:
    """Parse one ``| name args`` segment (without the bar).

    Parameters
    ----------
    segment
        The text between two bars.

    Returns
    -------
    Modifier
        The modifier.

    Raises
    ------
    ValueError
        Unknown modifier, missing or extra arguments, malformed JSONPath.
    """
    text = segment.strip()
    if not text:
        raise ValueError("empty modifier")
    name, argument = (*text.split(maxsplit=1), "")[:2]
    if name not in MODIFIERS:
        raise ValueError(f"invalid modifier {name!r}")
    if name == "jsonPath":
        if not argument:
            raise ValueError("jsonPath: invalid parameters (a template is required)")
        try:
            return Modifier(name, argument, template=JSONPath.parse(argument))
        except JSONPathError as err:
            raise ValueError(f"jsonPath: {err}") from None
    if name == "indent":
        if not argument or len(argument.split()) != 1:
            raise ValueError("indent: invalid parameters (one indentation level is required)")
        if not argument.isdigit():
            raise ValueError("indent: invalid indentation level")
        return Modifier(name, argument, width=int(argument))
    if argument:
        raise ValueError(f"{name}: invalid parameters (it takes none)")
    return Modifier(name)


def apply_modifiers(value: Any, modifiers: Sequence[Modifier]) -> Any:
    """Run ``value`` through ``modifiers`` in order.

    Parameters
    ----------
    value
        The secret's value.
    modifiers
        The chain.

    Returns
    -------
    Any
        The final value (a string, or any JSON-like value after ``jsonParse`` or
        ``yamlParse``).

    Raises
    ------
    ModifierError
        A modifier got a value it cannot take.
    """
    for modifier in modifiers:
        value = _apply(modifier, value)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "list"
    if value is None:
        return "null"
    return type(value).__name__


def _need_string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ModifierError(f"{name}: invalid datatype {_kind(value)}, expected string")
    return value


def _apply(modifier: Modifier, value: Any) -> Any:  # noqa: PLR0911
    name = modifier.name
    if name == "base64encode":
        return base64.b64encode(_need_string(name, value).encode()).decode("ascii")
    if name == "base64decode":
        text = _need_string(name, value).replace("\r", "").replace("\n", "")
        try:
            return base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ModifierError("base64decode: value is not valid base64 of UTF-8 text") from None
    if name == "jsonPath":
        data = value
        if isinstance(value, str):
            data = _json_loads(name, value)
        assert modifier.template is not None  # noqa: S101 - set by parse_modifier
        try:
            return modifier.template.execute(data)
        except JSONPathError as err:
            raise ModifierError(f"jsonPath: {err}") from None
    if name == "jsonParse":
        return _json_loads(name, _need_string(name, value))
    if name == "yamlParse":
        return _yaml_loads(_need_string(name, value))
    if name == "indent":
        return _indent(_need_string(name, value), modifier.width)
    if name == "sha256sum":
        return hashlib.sha256(_need_string(name, value).encode()).hexdigest()
    raise ModifierError(f"invalid modifier {name!r}")  # pragma: no cover - parse refuses it


MAX_DEPTH = 200
"""How deep a parsed value may nest (deeper would exhaust the writers' recursion)."""


def _too_deep(name: str) -> ModifierError:
    return ModifierError(f"{name}: value nests deeper than {MAX_DEPTH} levels", bad_input=True)


def _check_depth(name: str, value: Any) -> Any:
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep(name)
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return value


def _json_loads(name: str, text: str) -> Any:
    try:
        return _check_depth(name, json.loads(text))
    except json.JSONDecodeError as err:
        # err.msg and the position only: the document itself stays out of the message
        raise ModifierError(
            f"{name}: value is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    except RecursionError:
        raise _too_deep(name) from None


_MAX_NODES = 1_000_000
"""Nodes a ``yamlParse`` value may expand to (aliases can multiply a small text)."""


@functools.cache
def _loader() -> type:
    """Return a safe loader that keeps timestamps as the strings they are written as.

    go-yaml (through ``sigs.k8s.io/yaml``) gives a plain timestamp as its text when
    it decodes into a generic value; converting it to a ``datetime`` and back
    would rewrite it (``2001-12-14t21:59:43.10-05:00`` ->
    ``2001-12-14T21:59:43.100000-05:00``). Built on first use: PyYAML is not
    imported by a render without ``yamlParse``.
    """
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != _TIMESTAMP_TAG]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    return type("NoTimestampLoader", (base,), {"yaml_implicit_resolvers": resolvers})


def _yaml_loads(text: str) -> Any:
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader
    except RecursionError:
        raise _too_deep("yamlParse") from None
    except yaml.YAMLError as err:
        position = yaml_error_position(err)
        where = f" at line {position[0]} column {position[1]}" if position is not None else ""
        raise ModifierError(f"yamlParse: value is not valid YAML{where}") from None
    return _jsonable(data, [], [0])


def _jsonable(value: Any, stack: list[int], count: list[int]) -> Any:
    """Make YAML data JSON-like, as sigs.k8s.io/yaml does (string keys, no cycles)."""
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise ModifierError(
            f"yamlParse: value expands to more than {_MAX_NODES} nodes (through aliases)",
            bad_input=True,
        )
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if id(value) in stack:
            raise ModifierError("yamlParse: value holds an alias to itself", bad_input=True)
        if len(stack) >= MAX_DEPTH:
            raise _too_deep("yamlParse")
        stack.append(id(value))
        try:
            if isinstance(value, Mapping):
                return {
                    _scalar_key(key): _jsonable(item, stack, count) for key, item in value.items()
                }
            if isinstance(value, set | frozenset):  # !!set: a map of keys to null
                return {_scalar_key(key): None for key in value}
            return [_jsonable(item, stack, count) for item in value]
        finally:
            stack.pop()
    if isinstance(value, dt.datetime | dt.date):  # an explicit !!timestamp
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _scalar_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _indent(text: str, width: int) -> str:
    """Indent every line but the first by ``width`` spaces; blank lines stay empty."""
    lines = text.split("\n")
    pad = " " * width
    return "\n".join([lines[0], *((pad + line) if line.strip() else "" for line in lines[1:])])
