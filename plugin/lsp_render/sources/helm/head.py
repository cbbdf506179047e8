"""A manifest's head (kind and annotations) read from libyaml's nodes, without loading it.

Helm unmarshals every rendered manifest into ``SimpleHead`` (apiVersion, kind,
metadata.name, metadata.annotations) to sort it and to find hooks; a manifest
that is not valid YAML fails the render. Loading each manifest into Python
objects only to read those four fields cost ``helm template`` of
kube-prometheus-stack about 30 ms. Here libyaml composes the document with the
resolver replaced by a builtin (no Python frame per node, as
:mod:`lsp_render.core.yamlfile` does for plain files), which still checks the
whole document, and only the head's few scalars are typed with Helm's resolver
(:class:`~.values.HelmYamlLoader`'s rules).

:func:`read_head` answers ``None`` for anything it does not handle exactly as
the loader would -- a tag or a merge key anywhere (the loader would construct or
refuse them), a root that is not a mapping, a head field of another type -- and
the caller then loads the document, which gives the same answer or the same
error as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from yaml._yaml import CParser

from lsp_render.sources.helm.values import HelmYamlLoader

__all__ = ["read_head"]

# A tag no YAML text can give: what the builtin resolver stamps on every untagged node.
_UNTYPED = "\x00untyped"
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


class _ComposingLoader(HelmYamlLoader):
    """libyaml's composer; every untagged node left :data:`_UNTYPED` by a builtin."""

    resolve = _UNTYPED.format
    descend_resolver = "".format
    ascend_resolver = "".format


class _Resolver(yaml.resolver.BaseResolver):
    """Helm's implicit scalar types (HelmYamlLoader's resolvers), for the head's scalars."""

    yaml_implicit_resolvers = HelmYamlLoader.yaml_implicit_resolvers


_RESOLVER = _Resolver()


class _NotSimpleError(Exception):
    """The document needs the full loader."""


def _text(node: yaml.Node) -> str | None:
    """Return the string or null a scalar loads as; raise for anything else."""
    if not isinstance(node, yaml.ScalarNode) or node.tag != _UNTYPED:
        raise _NotSimpleError
    if node.style:  # quoted or block: a string
        return str(node.value)
    tag = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    if tag == _STR:
        return str(node.value)
    if tag == _NULL:
        return None
    raise _NotSimpleError


def _mapping(node: yaml.Node) -> dict[str, yaml.Node] | None:
    """Return a mapping's entries by string key (the last repeated key wins), None for null."""
    if isinstance(node, yaml.ScalarNode) and _text(node) is None:
        return None
    if not isinstance(node, yaml.MappingNode) or node.tag != _UNTYPED:
        raise _NotSimpleError
    entries: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = _text(key)
        if name is None:
            raise _NotSimpleError
        entries[name] = value
    return entries


def read_head(content: str) -> tuple[str, Mapping[str, Any] | None] | None:
    """Return ``(kind, annotations)`` of one manifest, or None when it must be loaded.

    Raises
    ------
    yaml.YAMLError
        When the document is not valid YAML.
    """
    head = _head_from_prefix(content)
    if head is not None:
        return head
    return _head_composed(content)


def _head_composed(content: str) -> tuple[str, Mapping[str, Any] | None] | None:
    """:func:`read_head` by composing the whole document."""
    loader = _ComposingLoader(content)
    try:
        root = loader.get_node() if loader.check_node() else None
    finally:
        loader.dispose()
    if root is not None and ("!" in content or "<<" in content) and not _untagged(root):
        return None
    try:
        return _head_of(root)
    except _NotSimpleError:
        return None


# A line after the first that starts at column 0 with something other than a comment
# (a leading literal lets the regex engine skip from newline to newline).
_NEXT_TOP_LINE = re.compile(r"\n[^ \t\n#]")
# A block mapping key at column 0 that is a plain scalar of these characters.
_KEY_LINE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*):(?:[ \t\n]|$)")
_HEAD_KEYS = frozenset(("apiVersion", "kind", "metadata"))
# What needs the whole document: anchors, aliases, tags, merge keys, CR line breaks.
_WHOLE = ("&", "*", "!", "<<", "\r")


def _head_from_prefix(content: str) -> tuple[str, Mapping[str, Any] | None] | None:
    """Read the head from the top-level entries before the first non-head key, or answer None.

    libyaml checks the whole document without building anything (``raw_parse``)
    and composes only the text up to the first top-level key at column 0 that is
    not ``apiVersion``, ``kind`` or ``metadata`` (usually ``spec:`` or
    ``data:``). That text holds the same head entries as the whole document
    when the cut is a real boundary: a quoted scalar or a flow collection
    running across it leaves the prefix unterminated (a YAML error here), and a
    line at column 0 ends every block and plain scalar. Every later line at
    column 0 must be another plain key or a sequence entry, so no head key
    hides after the cut. Anything else answers None: the caller composes the
    whole document as before.
    """
    if any(mark in content for mark in _WHOLE):
        return None
    cut = -1
    for at in _top_lines(content):
        key = _KEY_LINE.match(content, at)
        if key is None:
            if not _entry_line(content, at):
                return None
        elif key.group(1) in _HEAD_KEYS:
            if cut >= 0:
                return None  # a head key after the cut
        elif cut < 0:
            cut = at
    if cut < 0:
        return None  # nothing to leave out
    parser = CParser(content)
    try:
        parser.raw_parse()
        loader = _ComposingLoader(content[:cut])
        try:
            root = loader.get_node() if loader.check_node() else None
        finally:
            loader.dispose()
        return _head_of(root)
    except (yaml.YAMLError, _NotSimpleError):
        return None
    finally:
        parser.dispose()


def _top_lines(content: str) -> Iterator[int]:
    """Yield where each line that starts at column 0 with content (not a comment) starts."""
    if content[:1] not in ("", " ", "\t", "\n", "#"):
        yield 0
    for line in _NEXT_TOP_LINE.finditer(content):
        yield line.start() + 1


def _entry_line(content: str, at: int) -> bool:
    """Tell whether the line at ``at`` is a block sequence entry (``- x`` or ``-``)."""
    return content.startswith(("- ", "-\n"), at) or (at == len(content) - 1 and content[at] == "-")


def _untagged(root: yaml.Node) -> bool:
    """Tell whether no node has a tag and no key is a merge key (``<<``).

    Only for documents whose text holds ``!`` or ``<<`` (PromQL's ``!=``, shell
    in a ConfigMap); every node is visited once, aliases included.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag != _UNTYPED:
            return False
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "<<" and not key.style:
                    return False
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return True


def _head_of(root: yaml.Node | None) -> tuple[str, Mapping[str, Any] | None]:
    top = _mapping(root) if root is not None else None
    if top is None:
        return "", None
    if "apiVersion" in top:
        _text(top["apiVersion"])
    kind = (_text(top["kind"]) if "kind" in top else None) or ""
    metadata = _mapping(top["metadata"]) if "metadata" in top else None
    if metadata is None:
        return kind, None
    if "name" in metadata:
        _text(metadata["name"])
    annotations = _mapping(metadata["annotations"]) if "annotations" in metadata else None
    if annotations is None:
        return kind, None
    return kind, {key: _text(value) for key, value in annotations.items()}
