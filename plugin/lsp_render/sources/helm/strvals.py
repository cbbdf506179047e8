"""Helm's ``--set`` parser, applied *into* existing values as the CLI does (``ParseInto``).

``helm_python.parse_set_string`` parses an expression on its own; Helm's CLI
instead parses each ``--set`` into the values already gathered from ``-f``
files, which differs for list indexes (``--set list[1]=x`` patches one element
of a list from a file) and fails where a key path crosses a value of the
wrong type. This is a port of ``pkg/strvals/parser.go`` (the typed, non-JSON
parser); its results on empty values are checked against Helm's own parser in
``tests/helm_strvals_test.py``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

__all__ = ["SetValueError", "parse_in_place", "parse_into"]

MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
_INT = re.compile(r"[+-]?[0-9]+")
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0")


class SetValueError(ValueError):
    """A malformed ``--set`` expression (Helm's message)."""


class _NotListError(Exception):
    """The value is not a ``{...}`` list (Go's ``ErrNotList``)."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        char = self.text[self.pos]
        self.pos += 1
        return char

    def unread(self) -> None:
        self.pos -= 1

    def until(self, stop: str) -> tuple[str, str | None]:
        """Read up to a stop character (returned; ``None`` at the end), honouring escapes."""
        out: list[str] = []
        while True:
            char = self.read()
            if char is None:
                return "".join(out), None
            if char in stop:
                return "".join(out), char
            if char == "\\":
                escaped = self.read()
                if escaped is None:
                    return "".join(out), None
                out.append(escaped)
            else:
                out.append(char)


_GO_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),
    (int, "int64"),
    (float, "float64"),
    (str, "string"),
    (list, "[]interface {}"),
    (dict, "map[string]interface {}"),
)


def _go_type(value: Any) -> str:
    for python_type, go_type in _GO_TYPES:
        if isinstance(value, python_type):
            return go_type
    return "nil"


def _conversion_error(value: Any, want: str) -> SetValueError:
    return SetValueError(
        f"unable to parse key: interface conversion: interface {{}} is {_go_type(value)}, "
        f"not {want}"
    )


def _typed(text: str) -> Any:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0" and _INT.fullmatch(text):
        number = int(text)
        if -(2**63) <= number < 2**63:
            return number
    return text


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key:
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index < 0:
        raise SetValueError(f"negative {index} index not allowed")
    if index > MAX_INDEX:
        raise SetValueError(
            f"index of {index} is greater than maximum supported index of {MAX_INDEX}"
        )
    if len(items) <= index:
        items = items + [None] * (index + 1 - len(items))
    items[index] = value
    return items


class _Parser:
    """The parser; ``True`` from a method means Go's ``io.EOF`` came back from it."""

    def __init__(self, text: str, data: dict[str, Any], *, as_string: bool = False) -> None:
        self.scanner = _Scanner(text)
        self.data = data
        self.as_string = as_string

    def typed(self, text: str) -> Any:
        """Type a value like ``--set``, or keep it a string like ``--set-string``."""
        return text if self.as_string else _typed(text)

    def parse(self) -> None:
        while not self.key(self.data, 0):
            pass

    def key(self, data: dict[str, Any], level: int) -> bool:
        name, last = self.scanner.until("=[,.")
        if last is None:
            if not name:
                return True
            raise SetValueError(f'key "{name}" has no value')
        if last == "[":
            return self._key_index(data, name, level)
        if last == "=":
            return self._key_value(data, name)
        if last == ",":
            _set(data, name, "")
            raise SetValueError(f'key "{name}" has no value (cannot end with ,)')
        return self._key_map(data, name, level + 1)

    def _key_index(self, data: dict[str, Any], name: str, level: int) -> bool:
        index = self.key_index()
        existing = data.get(name, [])
        if name in data and not isinstance(existing, list):
            raise _conversion_error(existing, "[]interface {}")
        items, eof = self.list_item(list(existing), index, level)
        _set(data, name, items)
        return eof

    def _key_value(self, data: dict[str, Any], name: str) -> bool:
        try:
            values = self.value_list()
        except _NotListError:
            _set(data, name, self.typed(self.value()))
            return False
        if values is None:
            _set(data, name, "")
            return True
        _set(data, name, values)
        return False

    def _key_map(self, data: dict[str, Any], name: str, level: int) -> bool:
        if level > MAX_NESTED_NAME_LEVEL:
            raise SetValueError(
                "value name nested level is greater than maximum supported nested level of "
                f"{MAX_NESTED_NAME_LEVEL}"
            )
        inner: dict[str, Any] = {}
        if name in data:
            if not isinstance(data[name], dict):
                raise _conversion_error(data[name], "map[string]interface {}")
            inner = data[name]
        eof = self.key(inner, level)
        if not eof and not inner:
            raise SetValueError(f'key map "{name}" has no value')
        if inner:
            _set(data, name, inner)
        return eof

    def key_index(self) -> int:
        text, last = self.scanner.until("]")
        if last is None:
            raise SetValueError("error parsing index: EOF")
        if not _INT.fullmatch(text):
            raise SetValueError(
                f'error parsing index: strconv.Atoi: parsing "{text}": invalid syntax'
            )
        return int(text)

    def list_item(self, items: list[Any], index: int, level: int) -> tuple[list[Any], bool]:
        if index < 0:
            raise SetValueError(f"negative {index} index not allowed")
        text, last = self.scanner.until("[.=")
        if text:
            runes = " ".join(f"'{char}'" for char in text)  # Go's %q of a []rune
            raise SetValueError(f"unexpected data at end of array index: [{runes}]")
        if last is None:
            return items, True
        if last == "=":
            try:
                values = self.value_list()
            except _NotListError:
                return _set_index(items, index, self.typed(self.value())), False
            return _set_index(items, index, "" if values is None else values), False
        if last == "[":
            return self._list_in_list(items, index, level)
        return self._map_in_list(items, index, level)

    def _list_in_list(self, items: list[Any], index: int, level: int) -> tuple[list[Any], bool]:
        next_index = self.key_index()
        current: list[Any] = []
        if len(items) > index and items[index] is not None:
            if not isinstance(items[index], list):
                raise _conversion_error(items[index], "[]interface {}")
            current = list(items[index])
        nested, eof = self.list_item(current, next_index, level)
        if eof:
            return items, True
        return _set_index(items, index, nested), False

    def _map_in_list(self, items: list[Any], index: int, level: int) -> tuple[list[Any], bool]:
        inner: dict[str, Any] = {}
        if len(items) > index:
            if isinstance(items[index], dict):
                inner = items[index]
            else:
                items[index] = inner
        if self.key(inner, level):
            return items, True
        return _set_index(items, index, inner), False

    def value(self) -> str:
        text, _ = self.scanner.until(",")
        return text

    def value_list(self) -> list[Any] | None:
        """Read ``{a,b}``; ``None`` at the end of input, :class:`_NotListError` for a scalar."""
        first = self.scanner.read()
        if first is None:
            return None
        if first != "{":
            self.scanner.unread()
            raise _NotListError
        values: list[Any] = []
        while True:
            text, last = self.scanner.until(",}")
            if last is None:
                raise SetValueError("list must terminate with '}'")
            values.append(self.typed(text))
            if last == "}":
                following = self.scanner.read()
                if following is not None and following != ",":
                    self.scanner.unread()
                return values


def parse_into(
    expression: str, values: dict[str, Any], *, as_string: bool = False
) -> dict[str, Any]:
    """Apply one ``--set`` expression to a copy of ``values``, as Helm's ``ParseInto``.

    Parameters
    ----------
    expression
        ``a.b=1,c={x,y},list[0].name=z`` and the rest of Helm's syntax.
    values
        The values so far (not modified).
    as_string
        Keep every value a string, as ``--set-string`` (``ParseIntoString``) does.

    Returns
    -------
    dict
        The new values.

    Raises
    ------
    SetValueError
        With Helm's message, when the expression is malformed or a key path
        crosses a value of another type.
    """
    data = copy.deepcopy(values)
    parse_in_place(expression, data, as_string=as_string)
    return data


def parse_in_place(expression: str, values: dict[str, Any], *, as_string: bool = False) -> None:
    """Apply one ``--set`` expression to ``values`` itself (:func:`parse_into` without the copy).

    For a caller that applies several expressions to one copy it owns: a
    failing expression may leave ``values`` half changed.

    Raises
    ------
    SetValueError
        As :func:`parse_into`.
    """
    _Parser(expression, values, as_string=as_string).parse()
