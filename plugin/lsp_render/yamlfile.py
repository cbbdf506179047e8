"""Load small YAML files (configuration) with the line of every key, for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsp_render.errors import InputError

__all__ = ["LoadedYaml", "load_yaml_file", "yaml_error_line"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Configuration files are small; anything larger is not a configuration file.
_MAX_CONFIG_BYTES = 1 << 20
# A configuration that expands past this many nodes through aliases is an alias bomb.
_MAX_EXPANDED_NODES = 100_000


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed YAML file and the 1-based line of each key path in it."""

    path: Path
    label: str
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """Return the line of ``loc`` or of its nearest ancestor that has one."""
        probe = tuple(loc)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None

    def where(self, loc: tuple[str | int, ...]) -> str:
        """Format ``file:line: key.path`` for an error message."""
        line = self.line_of(loc)
        key = _dotted(loc)
        prefix = f"{self.label}:{line}" if line else self.label
        return f"{prefix}: {key}" if key else prefix


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    """Return the 1-based line a PyYAML error points at, if it says."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return None if mark is None else int(mark.line) + 1


def load_yaml_file(path: Path, *, label: str) -> LoadedYaml:
    """Read and parse one YAML document, recording the line of every key.

    Raises
    ------
    InputError
        When the file cannot be read, is not a regular file, is too large, or
        is not valid YAML (the message names the file and line).
    """
    if not path.is_file():
        msg = f"{label}: not a regular file"
        raise InputError(msg)
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        msg = f"{label}: cannot read: {exc.strerror}"
        raise InputError(msg) from None
    if len(raw) > _MAX_CONFIG_BYTES:
        msg = f"{label}: larger than {_MAX_CONFIG_BYTES} bytes"
        raise InputError(msg)
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError:
        msg = f"{label}: not UTF-8 text"
        raise InputError(msg) from None
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        msg = f"{label}:{line}: {problem}" if line else f"{label}: {problem}"
        raise InputError(msg) from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        if _expanded_size(node, {}) > _MAX_EXPANDED_NODES:
            msg = f"{label}: aliases expand to more than {_MAX_EXPANDED_NODES} nodes"
            raise InputError(msg)
        _index(node, (), lines)
    return LoadedYaml(path=path, label=label, data=data, lines=lines)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Count the nodes ``node`` expands to with aliases followed (memoised: no blow-up)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo) + _expanded_size(value_node, memo)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo)
    memo[id(node)] = size
    return size


def _index(
    node: yaml.Node, loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(item, (*loc, i), lines)
