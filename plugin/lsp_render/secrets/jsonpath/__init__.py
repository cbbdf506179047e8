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

The package reads a template in three steps, one module each: :mod:`.lexer` (the
character cursor and Go string literals), :mod:`.parser` (the syntax tree of
:mod:`.nodes`) and :mod:`.evaluator` (walking the tree over the data); :mod:`.gofmt`
prints the results as Go would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lsp_render.secrets.jsonpath.evaluator import execute
from lsp_render.secrets.jsonpath.gofmt import format_value, go_json
from lsp_render.secrets.jsonpath.nodes import JSONPathError, JSONPathSyntaxError, Node
from lsp_render.secrets.jsonpath.parser import parse

__all__ = [
    "JSONPath",
    "JSONPathError",
    "JSONPathSyntaxError",
    "format_value",
    "go_json",
    "render",
]


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A parsed JSONPath template.

    Attributes
    ----------
    template
        The template text as given.
    """

    template: str
    _nodes: tuple[Node, ...] = field(repr=False, compare=False, default=())

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
        return cls(template, parse(template))

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
        return execute(self._nodes, data, allow_missing_keys=allow_missing_keys)


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
