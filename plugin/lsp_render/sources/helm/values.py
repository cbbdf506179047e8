"""Helm values: read value files, layer them as ``helm -f`` does, apply ``--set``.

Value files are read by Helm itself: their bytes go to Helm's ``LoadValues``
inside the embedded engine (:func:`parse_values`), never to a Python YAML
parser, so ``2:30``, ``5e3``, ``0o10``, ``y:``/``on:`` keys, ``!!binary`` and
multi-document files mean what they mean to ``helm template -f``. The helm
binary engine hands the files themselves to ``helm``. Files, then inline
values, then ``--set`` are layered in Helm's CLI order (``MergeValues``); the
result reaches the engine as JSON, which Go reads with the same types
(``float64`` numbers) as a value file.

:class:`HelmYamlLoader` is the go-yaml-like PyYAML loader the Helm source uses
for what is not values: rendered manifests' heads and ``Chart.yaml`` fields.
"""

from __future__ import annotations

import copy
import io
import json
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.mappings import deep_merge
from lsp_render.core.memo import TextMemo
from lsp_render.sources.helm.strvals import SetValueError, parse_in_place

__all__ = [
    "MAX_VALUE_FILE_BYTES",
    "HelmYamlLoader",
    "apply_set_values",
    "ensure_json_values",
    "load_values_file",
    "load_yaml_first_document",
    "merge_values",
    "parse_values",
    "plain_values",
    "values_error",
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
    try:
        return next(documents, None)
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise these for a tagged scalar they cannot build (`!!int x`)
        problem = f"cannot construct a tagged value: {exc}"
        raise yaml.constructor.ConstructorError(None, None, problem) from exc


MAX_VALUE_FILE_BYTES = 5 << 20
"""The largest value file read (Helm's own limit on a chart file, which the reader applies)."""

_PROBE_CHART_YAML = b"apiVersion: v2\nname: values\nversion: 0.0.0\n"
_LINE_ERROR = re.compile(r"yaml: line (\d+): (.*)$")
_NOT_A_MAP = re.compile(r"cannot unmarshal (\w+) into Go value of type map")


def _probe_archive(data: bytes) -> bytes:
    """Pack a chart archive in memory whose ``values.yaml`` is ``data``, unchanged."""
    buffer = io.BytesIO()
    files = (("values/Chart.yaml", _PROBE_CHART_YAML), ("values/values.yaml", data))
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def values_error(detail: str, label: str) -> InputError:
    """Turn Helm's value-file reader error into one line naming the file (and its line)."""
    detail = " ".join(detail.split()).removeprefix("cannot load values.yaml: ")
    match = _LINE_ERROR.search(detail)
    if match is not None:
        return InputError(f"{label}: invalid YAML at line {match[1]}: {match[2]}")
    match = _NOT_A_MAP.search(detail)
    if match is not None:
        return InputError(
            f"{label}: a value file must hold a mapping at the top level, not a {match[1]}"
        )
    detail = detail.removeprefix("cannot unmarshal yaml document: ")
    detail = detail.removeprefix("error converting YAML to JSON: ")
    return InputError(f"{label}: invalid YAML: {detail}")


def parse_values(data: bytes, *, label: str) -> dict[str, Any]:
    """Read value-file bytes with Helm's own reader (what ``helm -f`` does with them).

    Helm's ``loader.LoadValues`` (sigs.k8s.io/yaml over go-yaml v2) runs inside
    the embedded engine on the bytes as they are: ``2:30`` stays a string,
    ``5e3`` and ``0o10`` are numbers, ``y``/``n``/``on``/``off`` keys are
    booleans (``"true"``/``"false"``), ``!!binary`` is decoded, and every
    document of the file is merged into the one before it.

    Parameters
    ----------
    data
        The file's bytes.
    label
        How error messages name the file.

    Returns
    -------
    dict
        The values, as Helm holds them (JSON types: numbers are ``int`` or ``float``).

    Raises
    ------
    InputError
        When Helm cannot read the bytes (the message gives the line when Helm does),
        or the file is larger than :data:`MAX_VALUE_FILE_BYTES`.
    RenderError
        When the embedded engine is not installed.
    """
    if len(data) > MAX_VALUE_FILE_BYTES:
        raise InputError(f"{label}: value file larger than {MAX_VALUE_FILE_BYTES >> 20} MiB")
    import os

    from lsp_render.core.engines import engine_timeout
    from lsp_render.sources.helm.engine_child import call_engine

    # In the engine child, like every call of Helm's Go engine: the render process
    # never loads it, so the child stays killable (timeout, SIGTERM) and forkable.
    values: dict[str, Any] = call_engine(
        __name__,
        "parse_values_here",
        (data, label),
        timeout=engine_timeout(os.environ),
        what=label,
    )
    return values


# Helm's parse of each value file's bytes, for the engine child's life.
_PARSED: TextMemo[bytes, dict[str, Any]] = TextMemo(8 << 20)  # bytes of YAML held


def parse_values_here(data: bytes, label: str) -> dict[str, Any]:
    """:func:`parse_values` in this process (the engine child runs it).

    What Helm read is kept for the child's life, keyed by the bytes
    themselves: render-all reads an app's ``values.yaml`` once per environment
    (Phalanx: 25 times). The mapping is shared: callers never modify it
    (:func:`merge_values` copies, :func:`apply_set_values` works on a copy).
    """
    cached = _PARSED.get(data)
    if cached is not None:
        return cached
    from lsp_render.sources.helm import sdk

    try:
        values = sdk.chart_values(_probe_archive(data))
    except sdk.SdkError as exc:
        raise values_error(str(exc), label) from exc
    _PARSED.put(data, values)
    return values


def load_values_file(path: Path, *, label: str) -> dict[str, Any]:
    """Read one Helm value file into a mapping, with Helm's own reader (:func:`parse_values`).

    Parameters
    ----------
    path
        The file to read (absolute).
    label
        How error messages name the file (usually its path relative to the app).

    Returns
    -------
    dict
        The file's values; ``{}`` for an empty file.

    Raises
    ------
    InputError
        When the file cannot be read, is too large, is not valid YAML (the
        message gives the line), or does not hold a mapping.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_VALUE_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot read value file: {exc.strerror or exc}") from exc
    return parse_values(data, label=label)


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
    if not set_values:
        return base
    out = copy.deepcopy(base)  # one copy for all of them (Phalanx passes ~6 --set per render)
    for expression in set_values:
        try:
            parse_in_place(expression, out, as_string=as_string)
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
