"""Parsing a JSONPath template into its syntax tree (client-go's ``jsonpath/parser.go``).

The grammar and its error messages follow client-go. One difference in timing: unknown
identifiers and a stray ``{end}`` are refused here, at parse time, where client-go
refuses them only when executing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsp_render.secrets.jsonpath.lexer import EOF, TERMINATORS, Cursor, unquote
from lsp_render.secrets.jsonpath.nodes import (
    Action,
    Bool,
    Field,
    Filter,
    Float,
    Identifier,
    Int,
    JSONPathSyntaxError,
    Node,
    Recursive,
    Slice,
    Text,
    Union,
    Wildcard,
)

__all__ = ["parse"]

_DICT_KEY = re.compile(r"^'([^']*)'$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=~]+)([!<>=~]+)(.+?)$", re.DOTALL)


def parse(template: str) -> tuple[Node, ...]:
    """Parse ``template`` into its text and action nodes.

    Parameters
    ----------
    template
        Text with ``{...}`` actions.

    Returns
    -------
    tuple[Node, ...]
        :class:`~lsp_render.secrets.jsonpath.nodes.Text` and
        :class:`~lsp_render.secrets.jsonpath.nodes.Action` nodes, in order.

    Raises
    ------
    JSONPathSyntaxError
        The template is malformed (unclosed action, bad index, unknown character).
    """
    nodes = _Parser(template).parse_template()
    _check_ranges(nodes)
    return tuple(nodes)


class _Parser(Cursor):
    """Recursive-descent parser following client-go's ``jsonpath/parser.go``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.root: list[Node] = []

    # --- grammar
    def parse_template(self) -> list[Node]:
        while True:
            brace = self.input.find("{", self.pos)
            if brace < 0:
                self.pos = len(self.input)
                if self.pos > self.start:
                    self.root.append(Text(self.consume()))
                return self.root
            self.pos = brace
            if self.pos > self.start:
                self.root.append(Text(self.consume()))
            self.pos += 1
            self.consume()
            action: list[Node] = []
            self.parse_action(action)
            self.root.append(Action(tuple(action)))

    def parse_action(self, cur: list[Node]) -> None:
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
            if char == EOF or char in "\r\n":
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

    def parse_identifier(self, cur: list[Node]) -> None:
        while True:
            char = self.next()
            if char == EOF or char in TERMINATORS:
                self.backup()
                break
        value = self.consume()
        if value in ("true", "false"):
            cur.append(Bool(value == "true"))
        else:
            cur.append(Identifier(value))

    def parse_number(self, cur: list[Node]) -> None:
        if self.peek() in ("+", "-"):
            self.next()
        while True:
            char = self.next()
            if char != "." and not char.isdigit():
                self.backup()
                break
        value = self.consume()
        try:
            cur.append(Int(int(value)))
        except ValueError:
            try:
                cur.append(Float(float(value)))
            except ValueError:
                raise JSONPathSyntaxError(f"cannot parse number {value}") from None

    def parse_field(self, cur: list[Node]) -> None:
        self.consume()
        while True:
            char = self.next()
            if char == "\\":
                self.next()
            elif char == EOF or char in TERMINATORS:
                self.backup()
                break
        value = self.consume()
        if value == "*":
            cur.append(Wildcard())
        else:
            cur.append(Field(value.replace("\\", "")))

    def parse_recursive(self, cur: list[Node]) -> None:
        if cur and isinstance(cur[-1], Recursive):
            raise JSONPathSyntaxError("invalid multiple recursive descent")
        self.pos += 2
        self.consume()
        cur.append(Recursive())
        nxt = self.peek()
        if nxt and (nxt == "_" or nxt.isalnum()):
            self.parse_field(cur)

    def parse_quote(self, cur: list[Node], end: str) -> None:
        while True:
            char = self.next()
            if char in (EOF, "\n"):
                raise JSONPathSyntaxError("unterminated quoted string")
            if char == "\\":
                if self.next() in (EOF, "\n"):
                    raise JSONPathSyntaxError("unterminated quoted string")
                continue
            if char == end:
                break
        value = self.consume()
        cur.append(Text(unquote(value)))

    def parse_array(self, cur: list[Node]) -> None:
        while True:
            char = self.next()
            if char in (EOF, "\n"):
                raise JSONPathSyntaxError("unterminated array")
            if char == "]":
                break
        text = self.consume()[1:-1]
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            cur.append(Union(tuple(_parse_sub(f"[{part.strip(' ')}]") for part in parts)))
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
        cur.append(Slice(start, stop, derived, step))

    def parse_filter(self, cur: list[Node]) -> None:
        self.pos += 3
        self.consume()
        begin = end = False
        pair = ""
        while True:
            char = self.next()
            if char in (EOF, "\n"):
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
            cur.append(Filter(_parse_sub(text), Action(()), "exists"))
        else:
            left, operator, right = match.groups()
            cur.append(Filter(_parse_sub(left), _parse_sub(right), operator))


def _slice_int(text: str) -> int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise JSONPathSyntaxError(f"array index {text} is not a number") from None


def _parse_sub(text: str) -> Action:
    """Parse a sub-expression (filter side, union part) as one action."""
    parser = _Parser("{" + text + "}")
    nodes = parser.parse_template()
    first = nodes[0] if nodes else None
    if not isinstance(first, Action):
        raise JSONPathSyntaxError(f"invalid expression {text}")
    return first


def _check_ranges(nodes: Sequence[Node]) -> None:
    """Refuse what client-go only refuses when executing: unknown identifiers, a stray end."""
    depth = 0
    for node in nodes:
        if not isinstance(node, Action):
            continue
        for position, child in enumerate(node.nodes):
            if isinstance(child, Identifier) and (
                child.name not in ("range", "end") or position > 0
            ):
                raise JSONPathSyntaxError(f"unrecognized identifier {child.name}")
        if node.nodes and isinstance(node.nodes[0], Identifier):
            name = node.nodes[0].name
            if name == "range":
                depth += 1
            elif name == "end":
                if depth == 0:
                    raise JSONPathSyntaxError("not in range, nothing to end")
                depth -= 1
