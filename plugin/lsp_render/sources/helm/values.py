"""Helm values: read value files, layer them as ``helm -f`` does, apply ``--set``.

YAML is read the way Helm reads it (``sigs.k8s.io/yaml`` over go-yaml v2):
timestamps and ``=`` stay strings, only the first document of a file counts,
and the top level must be a mapping. The result is handed to Helm as JSON, the
same route Helm's own value files take, so numbers and keys end up typed alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.mappings import deep_merge
from lsp_render.core.yamlfile import check_alias_expansion, yaml_error_line
from lsp_render.sources.helm.strvals import SetValueError, parse_into

__all__ = [
    "HelmYamlLoader",
    "apply_set_values",
    "ensure_json_values",
    "load_values_file",
    "load_yaml_first_document",
    "merge_values",
    "plain_values",
    "values_to_json",
]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HelmYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe YAML loader resolving scalars as go-yaml v2 does for ``interface{}``.

    Timestamps stay strings (go-yaml v2 keeps them as strings when the target is
    untyped) and ``=`` is a plain string rather than PyYAML's ``value`` tag.
    """


HelmYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def load_yaml_first_document(text: str) -> Any:
    """Parse the first YAML document of ``text`` (Go's ``yaml.Unmarshal`` reads only that).

    Raises
    ------
    yaml.YAMLError
        When the first document is not valid YAML.
    """
    documents = yaml.load_all(text, Loader=HelmYamlLoader)  # a generator: only the first is read
    return next(documents, None)


def _yaml_location(exc: yaml.YAMLError) -> str:
    line = yaml_error_line(exc)
    problem = getattr(exc, "problem", None) or str(exc)
    if line is not None:
        return f"line {line}: {problem}"
    return " ".join(str(problem).split())


def load_values_file(path: Path, *, label: str) -> dict[str, Any]:
    """Read one Helm value file into a mapping.

    Parameters
    ----------
    path
        The file to read (absolute).
    label
        How error messages name the file (usually its path relative to the app).

    Returns
    -------
    dict
        The file's top-level mapping; ``{}`` for an empty file.

    Raises
    ------
    InputError
        When the file cannot be read, is not valid YAML (the message gives the
        line), or does not hold a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"{label}: cannot read value file: {reason}") from exc
    check_alias_expansion(text, label=label)  # an alias bomb would blow up as JSON
    try:
        data = load_yaml_first_document(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{label}: invalid YAML at {_yaml_location(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"{label}: a value file must hold a mapping at the top level, not a "
            f"{type(data).__name__}"
        )
    try:
        values_to_json(data)
    except ValueError as exc:
        raise InputError(f"{label}: {exc}") from exc
    return data


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Layer ``override`` over ``base`` as Helm's CLI layers ``-f`` files (``mergeMaps``).

    Mappings merge key by key, recursively; anything else in ``override``
    (scalars, lists, ``None``) replaces what ``base`` holds. ``None`` is kept:
    Helm deletes such keys later, when it coalesces with the chart's defaults.
    Neither argument is modified.

    Parameters
    ----------
    base
        The values so far.
    override
        The values that win.

    Returns
    -------
    dict
        A new mapping.
    """
    return deep_merge(base, override)


def apply_set_values(
    base: dict[str, Any], set_values: tuple[str, ...], *, chart: str, as_string: bool = False
) -> dict[str, Any]:
    """Apply ``--set`` arguments in order, as Helm's CLI does (``strvals.ParseInto``).

    Typed like ``--set`` (``1`` is a number, ``true`` a boolean, ``null``
    deletes), not like ``--set-string``; each argument is parsed into the
    values so far, so ``list[1]=x`` patches one element of a list from a file.

    Parameters
    ----------
    base
        The values from files and inline values (not modified).
    set_values
        The ``--set`` arguments, e.g. ``"a.b=1,c=x"``.
    chart
        The chart's name, for error messages.
    as_string
        Apply them as ``--set-string`` arguments (every value stays a string).

    Returns
    -------
    dict
        The values with every argument applied.

    Raises
    ------
    InputError
        When an argument is malformed (Helm's message; the value is not shown).
    """
    out = base
    for expression in set_values:
        try:
            out = parse_into(expression, out, as_string=as_string)
        except SetValueError as exc:
            flag = "--set-string" if as_string else "--set"
            raise InputError(
                f"chart {chart}: failed parsing {flag} {_quote_key(expression)}: {exc}"
            ) from exc
    return out


_KEY = re.compile(r"^[^=]*")


def _quote_key(expression: str) -> str:
    """Name a ``--set`` argument by its key only: its value may be a secret."""
    match = _KEY.match(expression)
    key = match.group(0) if match else ""
    return repr(key + "=...")


def plain_values(values: Any) -> Any:
    """Copy ``values`` into plain dicts and lists (any Mapping or tuple inside included)."""
    if isinstance(values, Mapping):
        return {key: plain_values(value) for key, value in values.items()}
    if isinstance(values, list | tuple):
        return [plain_values(value) for value in values]
    return values


def values_to_json(values: Mapping[str, Any]) -> str:
    """Serialise values as JSON for Helm's engine.

    Raises
    ------
    ValueError
        When a value has no JSON form (``NaN``, infinities, binary data).
    """
    try:
        return json.dumps(plain_values(values), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value has no JSON form: {exc}") from exc


def ensure_json_values(values: Mapping[str, Any], *, chart: str) -> str:
    """Return ``values`` as JSON or raise :class:`RenderError` naming the chart."""
    try:
        return values_to_json(values)
    except ValueError as exc:
        raise RenderError(f"chart {chart}: {exc}") from exc
