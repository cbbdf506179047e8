"""The errors and the syntax tree of a JSONPath template (client-go's ``jsonpath/node.go``).

A template parses to a sequence of :class:`Text` (literal output) and :class:`Action`
(one ``{...}``); an action holds the steps walked left to right over the data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Action",
    "Bool",
    "Field",
    "Filter",
    "Float",
    "Identifier",
    "Int",
    "JSONPathError",
    "JSONPathSyntaxError",
    "Node",
    "Recursive",
    "Slice",
    "Text",
    "Union",
    "Wildcard",
]


class JSONPathError(ValueError):
    """A template failed to evaluate (missing key, index out of range, bad comparison)."""


class JSONPathSyntaxError(JSONPathError):
    """A template failed to parse."""


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text: outside actions, or a quoted string inside one."""

    text: str


@dataclass(frozen=True, slots=True)
class Field:
    """``.name``: a map key (``""`` for a bare ``.``, which selects the current value)."""

    name: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``.*`` or ``[*]``: every element of a list or value of a map."""


@dataclass(frozen=True, slots=True)
class Recursive:
    """``..``: the value and every container below it."""


@dataclass(frozen=True, slots=True)
class Int:
    """An integer literal (filter operand)."""

    value: int


@dataclass(frozen=True, slots=True)
class Float:
    """A float literal (filter operand)."""

    value: float


@dataclass(frozen=True, slots=True)
class Bool:
    """``true`` or ``false``."""

    value: bool


@dataclass(frozen=True, slots=True)
class Identifier:
    """A bare word: only ``range`` and ``end`` mean something."""

    name: str


@dataclass(frozen=True, slots=True)
class Slice:
    """``[start:stop:step]``; ``stop_derived`` when ``[i]`` implied ``stop = i + 1``."""

    start: int | None
    stop: int | None
    stop_derived: bool
    step: int | None


@dataclass(frozen=True, slots=True)
class Action:
    """The steps of one ``{...}`` (or of a sub-expression), walked left to right."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Union:
    """``[a,b]``: the results of each part, concatenated."""

    parts: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Filter:
    """``[?(left OP right)]``, or ``[?(left)]`` with the operator ``exists``."""

    left: Action
    right: Action
    operator: str


Node = (
    Text
    | Field
    | Wildcard
    | Recursive
    | Int
    | Float
    | Bool
    | Identifier
    | Slice
    | Action
    | Union
    | Filter
)
