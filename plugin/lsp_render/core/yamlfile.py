"""Load small YAML files (configuration) with the line of every key, for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core.errors import InputError
from lsp_render.core.forkjoin import in_two
from lsp_render.core.manifests import simple_line_breaks

__all__ = [
    "MAX_ALIAS_NODES",
    "AliasBombError",
    "DocumentOutline",
    "LoadedYaml",
    "check_alias_expansion",
    "load_yaml_file",
    "outline_stream",
    "yaml_error_line",
    "yaml_error_position",
]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Configuration files are small; anything larger is not a configuration file.
_MAX_CONFIG_BYTES = 1 << 20
# A configuration that expands past this many nodes through aliases is an alias bomb.
_MAX_EXPANDED_NODES = 100_000
MAX_ALIAS_NODES = 1_000_000
"""Nodes that aliases may add to one document of a manifest or value file (alias bombs)."""


class AliasBombError(ValueError):
    """A YAML document whose aliases expand to too many nodes.

    Attributes
    ----------
    line
        The 1-based line where the document starts.
    """

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"aliases expand to more than {limit} nodes")
        self.line = line


@dataclass(frozen=True, slots=True)
class DocumentOutline:
    """The shape of one document of a stream, read from parser events (nothing built).

    Attributes
    ----------
    line
        The 1-based line where the document's content starts.
    root
        ``"mapping"``, ``"sequence"``, ``"scalar"``, ``"alias"`` or ``"null"`` (an
        empty document).
    keys
        The plain scalar keys of a top-level mapping.
    """

    line: int
    root: str
    keys: frozenset[str]


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


def yaml_error_position(exc: yaml.YAMLError) -> tuple[int, int] | None:
    """Return the 1-based (line, column) a PyYAML error points at, if it says."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return None if mark is None else (int(mark.line) + 1, int(mark.column) + 1)


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    """Return the 1-based line a PyYAML error points at, if it says."""
    position = yaml_error_position(exc)
    return None if position is None else position[0]


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


def outline_stream(text: str, *, max_alias_nodes: int = MAX_ALIAS_NODES) -> list[DocumentOutline]:
    """Parse a YAML stream into events once and outline each document.

    Nothing is constructed, so the pass costs no more memory than the text (a
    document at a time); aliases are counted by the size of what they would
    expand to. A stream without anchors is composed by libyaml a document at a
    time; one with anchors, or an invalid one, goes through the parser's events.

    Parameters
    ----------
    text
        The whole stream.
    max_alias_nodes
        How many nodes aliases may add to one document.

    Returns
    -------
    list of DocumentOutline
        One per document, in order.

    Raises
    ------
    yaml.YAMLError
        When the stream is not valid YAML.
    AliasBombError
        When a document's aliases would add more than ``max_alias_nodes`` nodes.
    """
    if "&" not in text or _ANCHOR.search(text) is None:
        # No anchor, so no alias and no alias bomb: let libyaml compose each
        # document (no Python work per event) and read only its top level.
        try:
            return _outline_in_halves(text)
        except Exception:  # noqa: S110 - libyaml's composer has quirks of its own
            pass  # the event pass below decides, and reports an error exactly
    outliner = _Outliner(max_alias_nodes)
    for event in yaml.parse(text, Loader=_Loader):
        outliner.feed(event)
    return outliner.outlines


# An anchor property (``&name``) where a node may start. Text without one holds no
# alias either (an alias must name an anchor of its document).
_ANCHOR = re.compile(r"(?:^|[\s\[\]{},])&[^\s\[\]{},]")


class _ComposingLoader(_Loader):  # type: ignore[misc,valid-type]
    """libyaml's composer with every scalar left untyped (no Python resolver per scalar)."""

    # A builtin bound method ignores the (kind, value, implicit) arguments and costs no
    # Python frame: the outline needs no tags, only the shape of each document.
    resolve = "tag:yaml.org,2002:str".format
    # The composer calls these for every node to track paths for path resolvers,
    # which the safe loader has none of.
    descend_resolver = "".format
    ascend_resolver = "".format


_HALVES_FROM = 1 << 20  # below this, a fork costs more than half the work saves


def _outline_in_halves(text: str) -> list[DocumentOutline]:
    """:func:`_outline_composed`, a big stream's second half in a forked child meanwhile.

    The stream is cut at a ``---`` line past its middle (a document start
    wherever it appears, so the halves are whole documents), only when its
    lines break at newlines alone and it has no directive or ``...`` (the line
    numbers of the second half are then offset by a count of newlines). When
    anything fails the caller's event pass decides, as for a whole stream.
    """
    at = _cut(text) if len(text) >= _HALVES_FROM else None
    if at is None:
        return _outline_composed(text)
    halves = in_two(_outline_composed, text[:at], text[at:])
    if halves is None:
        return _outline_composed(text)
    first, second = halves
    offset = text.count("\n", 0, at)
    return first + [DocumentOutline(o.line + offset, o.root, o.keys) for o in second]


def _cut(text: str) -> int | None:
    """Return where a ``---`` line past the middle of ``text`` starts, if the text allows."""
    if not simple_line_breaks(text):
        return None
    at = text.find("\n---", len(text) // 2)
    while at != -1:
        if text[at + 4 : at + 5] in ("", "\n", " ", "\t"):
            return at + 1
        at = text.find("\n---", at + 1)
    return None


def _outline_composed(text: str) -> list[DocumentOutline]:
    """Outline each document from its composed node, one document at a time."""
    loader = _ComposingLoader(text)
    outlines: list[DocumentOutline] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            line = int(node.start_mark.line) + 1
            if isinstance(node, yaml.MappingNode):
                keys = frozenset(
                    key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)
                )
                outlines.append(DocumentOutline(line, "mapping", keys))
            elif isinstance(node, yaml.SequenceNode):
                outlines.append(DocumentOutline(line, "sequence", frozenset()))
            elif node.value == "" and not node.style:  # libyaml: plain is ""
                outlines.append(DocumentOutline(line, "null", frozenset()))
            else:
                outlines.append(DocumentOutline(line, "scalar", frozenset()))
    finally:
        loader.dispose()
    return outlines


class _Outliner:
    """Turn parser events into document outlines, counting what aliases expand to."""

    def __init__(self, max_alias_nodes: int) -> None:
        self.max_alias_nodes = max_alias_nodes
        self.outlines: list[DocumentOutline] = []
        self.anchors: dict[str, int] = {}
        # One frame per open collection: [size, anchor, is_mapping, items seen].
        self.stack: list[list[Any]] = []
        self.root = "null"
        self.line = 1
        self.keys: set[str] = set()
        self.added = 0

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors.clear()
            self.root, self.keys, self.added = "null", set(), 0
            self.line = _line(event.end_mark)
        elif isinstance(event, yaml.DocumentEndEvent):
            self.outlines.append(DocumentOutline(self.line, self.root, frozenset(self.keys)))
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor, _, _ = self.stack.pop()
            if anchor:
                self.anchors[anchor] = size
            self._add(size)
        elif isinstance(event, yaml.NodeEvent):
            self._node(event)

    def _node(self, event: yaml.NodeEvent) -> None:
        if not self.stack:
            self.line = _line(event.start_mark)
            self.root = _root_name(event)
        if isinstance(event, yaml.AliasEvent):
            size = self.anchors.get(event.anchor or "", 1)
            self.added += size
            if self.added > self.max_alias_nodes:
                raise AliasBombError(self.line, self.max_alias_nodes)
            self._add(size)
            return
        if isinstance(event, yaml.CollectionStartEvent):
            mapping = isinstance(event, yaml.MappingStartEvent)
            self.stack.append([1, event.anchor, mapping, 0])
            return
        # A scalar: a top-level key when it sits in the root mapping at a key position.
        frame = self.stack[0] if len(self.stack) == 1 else None
        if frame is not None and frame[2] and frame[3] % 2 == 0:
            value = getattr(event, "value", None)
            if isinstance(value, str):
                self.keys.add(value)
        if event.anchor:
            self.anchors[event.anchor] = 1
        self._add(1)

    def _add(self, size: int) -> None:
        if self.stack:
            self.stack[-1][0] += size
            self.stack[-1][3] += 1


def _line(mark: Any) -> int:
    return int(mark.line) + 1 if mark is not None else 1


def _root_name(event: yaml.Event) -> str:
    if isinstance(event, yaml.MappingStartEvent):
        return "mapping"
    if isinstance(event, yaml.SequenceStartEvent):
        return "sequence"
    if isinstance(event, yaml.AliasEvent):
        return "alias"
    if isinstance(event, yaml.ScalarEvent) and event.value == "" and event.implicit[0]:
        return "null"
    return "scalar"


def check_alias_expansion(text: str, *, label: str, max_alias_nodes: int = MAX_ALIAS_NODES) -> None:
    """Refuse a YAML text whose aliases expand past ``max_alias_nodes`` (an alias bomb).

    Cheap for texts without aliases (a substring test). Syntax errors are left
    to the caller's parser.

    Raises
    ------
    InputError
        Naming the file and the line of the document.
    """
    if "*" not in text:
        return
    try:
        outline_stream(text, max_alias_nodes=max_alias_nodes)
    except AliasBombError as exc:
        msg = f"{label}:{exc.line}: {exc}"
        raise InputError(msg) from None
    except yaml.YAMLError:
        return
