"""Evaluating a parsed JSONPath template over data (client-go's ``jsonpath/jsonpath.go``).

Results of one action are joined by a space and printed by
:func:`~lsp_render.secrets.jsonpath.gofmt.format_value`; ``{range}...{end}`` repeats its
body for each result. Map entries are visited in sorted key order (Go's order is random).
Error messages name fields and types, never values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lsp_render.secrets.jsonpath.gofmt import format_value
from lsp_render.secrets.jsonpath.nodes import (
    Action,
    Bool,
    Field,
    Filter,
    Float,
    Identifier,
    Int,
    JSONPathError,
    Node,
    Recursive,
    Slice,
    Text,
    Union,
    Wildcard,
)

__all__ = ["execute"]


def execute(nodes: Sequence[Node], data: Any, *, allow_missing_keys: bool) -> str:
    """Evaluate parsed ``nodes`` over ``data`` and return the printed text.

    Parameters
    ----------
    nodes
        What :func:`~lsp_render.secrets.jsonpath.parser.parse` returned.
    data
        JSON-like data (mappings, sequences, strings, numbers, booleans, None).
    allow_missing_keys
        Print nothing for a missing key instead of failing.

    Returns
    -------
    str
        What ``kubectl -o jsonpath`` prints.

    Raises
    ------
    JSONPathError
        A key is missing, an index is out of range, or a comparison is invalid.
    """
    evaluator = _Evaluator(allow_missing_keys)
    evaluator.run(nodes, data)
    return "".join(evaluator.out)


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

    def run(self, nodes: Sequence[Node], data: Any) -> None:
        index = 0
        while index < len(nodes):
            node = nodes[index]
            if isinstance(node, Text):
                self.out.append(node.text)
                index += 1
                continue
            assert isinstance(node, Action)  # noqa: S101 - the parser only makes these
            keyword = _keyword(node)
            if keyword == "end":
                raise JSONPathError("not in range, nothing to end")
            if keyword == "range":
                body_end = _matching_end(nodes, index)
                body = nodes[index + 1 : body_end]
                expression = Action(node.nodes[1:])
                for item in self.eval_list([data], expression):
                    self.run(body, item)
                index = body_end + 1
                continue
            self.print_results(self.eval_list([data], node))
            index += 1

    def print_results(self, results: list[Any]) -> None:
        self.out.append(" ".join(format_value(value) for value in results))

    def eval_list(self, values: list[Any], node: Action) -> list[Any]:
        current = values
        for child in node.nodes:
            current = self.walk(current, child)
        return current

    def walk(self, values: list[Any], node: Node) -> list[Any]:  # noqa: PLR0911
        if isinstance(node, Action):
            return self.eval_list(values, node)
        if isinstance(node, Text):
            return [node.text]
        if isinstance(node, Int | Float | Bool):
            return [node.value]
        if isinstance(node, Field):
            return self.eval_field(values, node)
        if isinstance(node, Slice):
            return _eval_slice(values, node)
        if isinstance(node, Union):
            return [item for part in node.parts for item in self.eval_list(values, part)]
        if isinstance(node, Wildcard):
            return [child for value in values if value is not None for child in _children(value)]
        if isinstance(node, Recursive):
            return _eval_recursive(values)
        if isinstance(node, Filter):
            return self.eval_filter(values, node)
        raise JSONPathError(f"unrecognized identifier {node.name}")

    def eval_field(self, values: list[Any], node: Field) -> list[Any]:
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

    def eval_filter(self, values: list[Any], node: Filter) -> list[Any]:
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


def _keyword(node: Action) -> str | None:
    first = node.nodes[0] if node.nodes else None
    if isinstance(first, Identifier):
        if first.name in ("range", "end"):
            if first.name == "end" and len(node.nodes) > 1:
                raise JSONPathError("unrecognized identifier end")
            return first.name
        raise JSONPathError(f"unrecognized identifier {first.name}")
    for child in node.nodes[1:]:
        if isinstance(child, Identifier):
            raise JSONPathError(f"unrecognized identifier {child.name}")
    return None


def _matching_end(nodes: Sequence[Node], index: int) -> int:
    depth = 0
    for position in range(index, len(nodes)):
        node = nodes[position]
        if isinstance(node, Action):
            keyword = _keyword(node)
            if keyword == "range":
                depth += 1
            elif keyword == "end":
                depth -= 1
                if depth == 0:
                    return position
    return len(nodes)


def _eval_slice(values: list[Any], node: Slice) -> list[Any]:
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
