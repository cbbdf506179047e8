r"""Kubernetes' JSONPath template language, as ``kubectl -o jsonpath`` and AVP accept it.

A template is plain text with actions in braces: ``{.a.b}``, ``{.items[*].name}``,
``{range .items[*]}{.name}{"\n"}{end}``, ``{.a[?(@.k=="v")].b}``, ``{..name}``,
``{'['}``. The grammar, the evaluation order and the output format follow
``k8s.io/client-go/util/jsonpath``: results of one action are joined by a space,
maps and lists print as compact JSON with sorted keys (Go's ``json.Marshal``),
other values print as Go's ``fmt.Print`` would. Missing keys are an error
(``AllowMissingKeys(false)``, as AVP sets it) unless ``allow_missing_keys``.

Deliberate differences, both from Go's map and number types rather than from the
language: map entries are visited in sorted key order (Go's order is random), and
integers stay integers (kubectl's decoder keeps ``int64``), so ``{.port}`` of
``{"port": 1000000}`` prints ``1000000`` and ``[?(@.x<5)]`` compares numbers of
either kind. Error messages name fields and types, never values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "JSONPath",
    "JSONPathError",
    "JSONPathSyntaxError",
    "format_value",
    "go_json",
    "render",
]


class JSONPathError(ValueError):
    """A template failed to evaluate (missing key, index out of range, bad comparison)."""


class JSONPathSyntaxError(JSONPathError):
    """A template failed to parse."""


# ---------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Field:
    name: str


@dataclass(frozen=True, slots=True)
class _Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class _Recursive:
    pass


@dataclass(frozen=True, slots=True)
class _Int:
    value: int


@dataclass(frozen=True, slots=True)
class _Float:
    value: float


@dataclass(frozen=True, slots=True)
class _Bool:
    value: bool


@dataclass(frozen=True, slots=True)
class _Identifier:
    name: str


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    stop: int | None
    stop_derived: bool
    step: int | None


@dataclass(frozen=True, slots=True)
class _List:
    nodes: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Union:
    parts: tuple[_List, ...]


@dataclass(frozen=True, slots=True)
class _Filter:
    left: _List
    right: _List
    operator: str


_Node = (
    _Text
    | _Field
    | _Wildcard
    | _Recursive
    | _Int
    | _Float
    | _Bool
    | _Identifier
    | _Slice
    | _List
    | _Union
    | _Filter
)

# ---------------------------------------------------------------------------- parser

_EOF = ""
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=~]+)([!<>=~]+)(.+?)$", re.DOTALL)
_MAX_RECURSION_NODES = 1


class _Parser:
    """Recursive-descent parser following client-go's ``jsonpath/parser.go``."""

    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.root: list[_Node] = []

    # --- cursor helpers
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1
            return _EOF
        char = self.input[self.pos]
        self.pos += 1
        return char

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else _EOF

    def backup(self) -> None:
        self.pos -= 1

    def consume(self) -> str:
        value = self.input[self.start : self.pos]
        self.start = self.pos
        return value

    # --- grammar
    def parse_template(self) -> list[_Node]:
        while True:
            brace = self.input.find("{", self.pos)
            if brace < 0:
                self.pos = len(self.input)
                if self.pos > self.start:
                    self.root.append(_Text(self.consume()))
                return self.root
            self.pos = brace
            if self.pos > self.start:
                self.root.append(_Text(self.consume()))
            self.pos += 1
            self.consume()
            action: list[_Node] = []
            self.parse_action(action)
            self.root.append(_List(tuple(action)))

    def parse_action(self, cur: list[_Node]) -> None:
        """Parse inside ``{...}`` until the closing brace (or end, for sub-expressions)."""
        while True:
            rest = self.input[self.pos :]
            if rest.startswith("}"):
                self.pos += 1
                self.consume()
                return
            if rest.startswith("[?("):
                self.parse_filter(cur)
                continue
            if rest.startswith(".."):
                self.parse_recursive(cur)
                continue
            char = self.next()
            if char == _EOF or char in "\r\n":
                raise JSONPathSyntaxError("unclosed action")
            if char in " @$":
                self.consume()
            elif char == "[":
                self.parse_array(cur)
            elif char in "\"'":
                self.parse_quote(cur, char)
            elif char == ".":
                self.parse_field(cur)
            elif char in "+-" or char.isdigit():
                self.backup()
                self.parse_number(cur)
            elif char == "_" or char.isalnum():
                self.backup()
                self.parse_identifier(cur)
            else:
                raise JSONPathSyntaxError(
                    f"unrecognized character in action: U+{ord(char):04X} {char!r}"
                )

    def parse_identifier(self, cur: list[_Node]) -> None:
        while True:
            char = self.next()
            if char == _EOF or char in _TERMINATORS:
                self.backup()
                break
        value = self.consume()
        if value in ("true", "false"):
            cur.append(_Bool(value == "true"))
        else:
            cur.append(_Identifier(value))

    def parse_number(self, cur: list[_Node]) -> None:
        if self.peek() in ("+", "-"):
            self.next()
        while True:
            char = self.next()
            if char != "." and not char.isdigit():
                self.backup()
                break
        value = self.consume()
        try:
            cur.append(_Int(int(value)))
        except ValueError:
            try:
                cur.append(_Float(float(value)))
            except ValueError:
                raise JSONPathSyntaxError(f"cannot parse number {value}") from None

    def parse_field(self, cur: list[_Node]) -> None:
        self.consume()
        while True:
            char = self.next()
            if char == "\\":
                self.next()
            elif char == _EOF or char in _TERMINATORS:
                self.backup()
                break
        value = self.consume()
        if value == "*":
            cur.append(_Wildcard())
        else:
            cur.append(_Field(value.replace("\\", "")))

    def parse_recursive(self, cur: list[_Node]) -> None:
        if cur and isinstance(cur[-1], _Recursive):
            raise JSONPathSyntaxError("invalid multiple recursive descent")
        self.pos += 2
        self.consume()
        cur.append(_Recursive())
        nxt = self.peek()
        if nxt and (nxt == "_" or nxt.isalnum()):
            self.parse_field(cur)

    def parse_quote(self, cur: list[_Node], end: str) -> None:
        while True:
            char = self.next()
            if char in (_EOF, "\n"):
                raise JSONPathSyntaxError("unterminated quoted string")
            if char == "\\":
                if self.next() in (_EOF, "\n"):
                    raise JSONPathSyntaxError("unterminated quoted string")
                continue
            if char == end:
                break
        value = self.consume()
        cur.append(_Text(_unquote(value)))

    def parse_array(self, cur: list[_Node]) -> None:
        while True:
            char = self.next()
            if char in (_EOF, "\n"):
                raise JSONPathSyntaxError("unterminated array")
            if char == "]":
                break
        text = self.consume()[1:-1]
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            cur.append(_Union(tuple(_parse_sub(f"[{part.strip(' ')}]") for part in parts)))
            return
        key = _DICT_KEY.match(text)
        if key is not None:
            cur.extend(_parse_sub(f".{key.group(1)}").nodes)
            return
        match = _SLICE.match(text)
        if match is None:
            raise JSONPathSyntaxError(f"invalid array index {text}")
        raw = [match.group(1) or "", match.group(2) or "", match.group(3) or ""]
        start = int(raw[0]) if raw[0] not in ("", "-") else None
        if raw[0] == "-":
            raise JSONPathSyntaxError("array index - is not a number")
        stop: int | None
        derived = False
        if raw[1]:
            stop = _slice_int(raw[1][1:])
        else:
            stop = (start or 0) + 1
            derived = True
        step = _slice_int(raw[2][1:]) if raw[2] else None
        cur.append(_Slice(start, stop, derived, step))

    def parse_filter(self, cur: list[_Node]) -> None:
        self.pos += 3
        self.consume()
        begin = end = False
        pair = ""
        while True:
            char = self.next()
            if char in (_EOF, "\n"):
                raise JSONPathSyntaxError("unterminated filter")
            if char in "\"'":
                if not begin:
                    begin, pair = True, char
                    continue
                if self.input[self.pos - 2] != "\\" and char == pair:
                    end = True
            elif char == ")" and begin == end:
                break
        if self.next() != "]":
            raise JSONPathSyntaxError("unclosed array expect ]")
        text = self.consume()[:-2]
        match = _FILTER.match(text)
        if match is None:
            cur.append(_Filter(_parse_sub(text), _List(()), "exists"))
        else:
            left, operator, right = match.groups()
            cur.append(_Filter(_parse_sub(left), _parse_sub(right), operator))


def _slice_int(text: str) -> int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise JSONPathSyntaxError(f"array index {text} is not a number") from None


def _parse_sub(text: str) -> _List:
    """Parse a sub-expression (filter side, union part) as one action."""
    parser = _Parser("{" + text + "}")
    nodes = parser.parse_template()
    first = nodes[0] if nodes else None
    if not isinstance(first, _List):
        raise JSONPathSyntaxError(f"invalid expression {text}")
    return first


_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _unquote(quoted: str) -> str:
    """Unquote a Go-style string literal (``"..."`` or ``'...'``) with Go's escapes."""
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(body):
            raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
        esc = body[i + 1]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
    return "".join(out)


# ---------------------------------------------------------------------------- evaluation

_MISSING = object()


def _type_name(value: Any) -> str:  # noqa: PLR0911
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, Sequence):
        return "[]interface {}"
    return type(value).__name__


def _children(value: Any) -> list[Any]:
    """Elements of a container, for ``*`` and ``..`` (maps in sorted key order)."""
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value, key=str)]
    if isinstance(value, str):
        return list(value.encode())
    if isinstance(value, Sequence):
        return list(value)
    return []


@dataclass
class _Evaluator:
    allow_missing_keys: bool
    out: list[str] = field(default_factory=list)

    def run(self, nodes: Sequence[_Node], data: Any) -> None:
        index = 0
        while index < len(nodes):
            node = nodes[index]
            if isinstance(node, _Text):
                self.out.append(node.text)
                index += 1
                continue
            assert isinstance(node, _List)  # noqa: S101 - the parser only makes these
            keyword = _keyword(node)
            if keyword == "end":
                raise JSONPathError("not in range, nothing to end")
            if keyword == "range":
                body_end = _matching_end(nodes, index)
                body = nodes[index + 1 : body_end]
                expression = _List(node.nodes[1:])
                for item in self.eval_list([data], expression):
                    self.run(body, item)
                index = body_end + 1
                continue
            self.print_results(self.eval_list([data], node))
            index += 1

    def print_results(self, results: list[Any]) -> None:
        self.out.append(" ".join(format_value(value) for value in results))

    def eval_list(self, values: list[Any], node: _List) -> list[Any]:
        current = values
        for child in node.nodes:
            current = self.walk(current, child)
        return current

    def walk(self, values: list[Any], node: _Node) -> list[Any]:  # noqa: PLR0911
        if isinstance(node, _List):
            return self.eval_list(values, node)
        if isinstance(node, _Text):
            return [node.text]
        if isinstance(node, _Int | _Float | _Bool):
            return [node.value]
        if isinstance(node, _Field):
            return self.eval_field(values, node)
        if isinstance(node, _Slice):
            return _eval_slice(values, node)
        if isinstance(node, _Union):
            return [item for part in node.parts for item in self.eval_list(values, part)]
        if isinstance(node, _Wildcard):
            return [child for value in values if value is not None for child in _children(value)]
        if isinstance(node, _Recursive):
            return _eval_recursive(values)
        if isinstance(node, _Filter):
            return self.eval_filter(values, node)
        raise JSONPathError(f"unrecognized identifier {node.name}")

    def eval_field(self, values: list[Any], node: _Field) -> list[Any]:
        if node.name == "" or not values:
            return values
        results = []
        for value in values:
            if isinstance(value, Mapping):
                found = value.get(node.name, _MISSING)
                if found is not _MISSING:
                    results.append(found)
        if not results and not self.allow_missing_keys:
            raise JSONPathError(f"{node.name} is not found")
        return results

    def eval_filter(self, values: list[Any], node: _Filter) -> list[Any]:
        results: list[Any] = []
        for value in values:
            if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
                raise JSONPathError(
                    f"{_type_name(value)} is not array or slice and cannot be filtered"
                )
            for item in value:
                if node.operator == "exists":
                    try:
                        lefts = self.eval_list([item], node.left)
                    except JSONPathError:
                        lefts = []
                    if lefts:
                        results.append(item)
                    continue
                lefts = self.eval_list([item], node.left)
                if not lefts:
                    continue
                if len(lefts) > 1:
                    raise JSONPathError("can only compare one element at a time")
                rights = self.eval_list([item], node.right)
                if not rights:
                    continue
                if len(rights) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if _compare(lefts[0], rights[0], node.operator):
                    results.append(item)
        return results


def _keyword(node: _List) -> str | None:
    first = node.nodes[0] if node.nodes else None
    if isinstance(first, _Identifier):
        if first.name in ("range", "end"):
            if first.name == "end" and len(node.nodes) > 1:
                raise JSONPathError("unrecognized identifier end")
            return first.name
        raise JSONPathError(f"unrecognized identifier {first.name}")
    for child in node.nodes[1:]:
        if isinstance(child, _Identifier):
            raise JSONPathError(f"unrecognized identifier {child.name}")
    return None


def _matching_end(nodes: Sequence[_Node], index: int) -> int:
    depth = 0
    for position in range(index, len(nodes)):
        node = nodes[position]
        if isinstance(node, _List):
            keyword = _keyword(node)
            if keyword == "range":
                depth += 1
            elif keyword == "end":
                depth -= 1
                if depth == 0:
                    return position
    return len(nodes)


def _eval_slice(values: list[Any], node: _Slice) -> list[Any]:
    results: list[Any] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
            raise JSONPathError(f"{_type_name(value)} is not array or slice")
        length = len(value)
        start = node.start if node.start is not None else 0
        if start < 0:
            start += length
        stop = node.stop if node.stop is not None else length
        if stop < 0 or (stop == 0 and node.stop_derived):
            stop += length
        if stop == start:
            return results
        if start >= length or start < 0:
            raise JSONPathError(f"array index out of bounds: index {start}, length {length}")
        if stop > length or stop < 0:
            raise JSONPathError(f"array index out of bounds: index {stop - 1}, length {length}")
        if start > stop:
            raise JSONPathError(f"starting index {start} is greater than ending index {stop}")
        step = 1
        if node.step is not None:
            if node.step <= 0:
                raise JSONPathError("step must be > 0")
            step = node.step
        results.extend(value[start:stop:step])
    return results


def _eval_recursive(values: list[Any]) -> list[Any]:
    result: list[Any] = []
    for value in values:
        if value is None:
            continue
        children = _children(value)
        if children:
            result.append(value)
            result.extend(_eval_recursive(children))
    return result


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise JSONPathError("invalid type for comparison")


def _compare(left: Any, right: Any, operator: str) -> bool:  # noqa: PLR0911
    if operator == "=~":
        if not isinstance(left, str) or not isinstance(right, str):
            raise JSONPathError("regexp match is supported for strings only")
        try:
            return re.search(right, left) is not None
        except re.error:
            raise JSONPathError("invalid regular expression in filter") from None
    if operator not in ("==", "!=", "<", ">", "<=", ">="):
        raise JSONPathError(f"unrecognized filter operator {operator}")
    kind = _kind(left)
    if kind != _kind(right):
        raise JSONPathError("incompatible types for comparison")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if kind == "bool":
        raise JSONPathError("invalid type for comparison")
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


# ---------------------------------------------------------------------------- output


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


# ---------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A parsed JSONPath template.

    Attributes
    ----------
    template
        The template text as given.
    """

    template: str
    _nodes: tuple[_Node, ...] = field(repr=False, compare=False, default=())

    @classmethod
    def parse(cls, template: str) -> JSONPath:
        """Parse ``template``.

        Parameters
        ----------
        template
            Text with ``{...}`` actions.

        Returns
        -------
        JSONPath
            The parsed template.

        Raises
        ------
        JSONPathSyntaxError
            The template is malformed (unclosed action, bad index, unknown character).
        """
        nodes = _Parser(template).parse_template()
        _check_ranges(nodes)
        return cls(template, tuple(nodes))

    def execute(self, data: Any, *, allow_missing_keys: bool = False) -> str:
        """Evaluate the template over ``data`` and return the printed text.

        Parameters
        ----------
        data
            JSON-like data (mappings, sequences, strings, numbers, booleans, None).
        allow_missing_keys
            Print nothing for a missing key instead of failing.

        Returns
        -------
        str
            What ``kubectl -o jsonpath=TEMPLATE`` prints for ``data``.

        Raises
        ------
        JSONPathError
            A key is missing, an index is out of range, or a comparison is invalid.
        """
        evaluator = _Evaluator(allow_missing_keys)
        evaluator.run(self._nodes, data)
        return "".join(evaluator.out)


def _check_ranges(nodes: Sequence[_Node]) -> None:
    """Refuse what client-go only refuses when executing: unknown identifiers, a stray end."""
    depth = 0
    for node in nodes:
        if not isinstance(node, _List):
            continue
        for position, child in enumerate(node.nodes):
            if isinstance(child, _Identifier) and (
                child.name not in ("range", "end") or position > 0
            ):
                raise JSONPathSyntaxError(f"unrecognized identifier {child.name}")
        if node.nodes and isinstance(node.nodes[0], _Identifier):
            name = node.nodes[0].name
            if name == "range":
                depth += 1
            elif name == "end":
                if depth == 0:
                    raise JSONPathSyntaxError("not in range, nothing to end")
                depth -= 1


def render(template: str, data: Any, *, allow_missing_keys: bool = False) -> str:
    """Parse and evaluate ``template`` over ``data`` in one call.

    Parameters
    ----------
    template
        The JSONPath template.
    data
        JSON-like data.
    allow_missing_keys
        Print nothing for a missing key instead of failing.

    Returns
    -------
    str
        What ``kubectl -o jsonpath=TEMPLATE`` prints.
    """
    return JSONPath.parse(template).execute(data, allow_missing_keys=allow_missing_keys)
