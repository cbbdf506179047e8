"""Rendered documents as Kubernetes resources: parse, key and print them for a diff.

Resources are matched the way Argo CD matches them: by API group (not
version), kind, namespace and name. They are printed as normalised YAML
(keys sorted, multi-line strings as literal blocks), so formatting and
comments never show up as differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from lsp_render.core.errors import RenderError
from lsp_render.core.manifests import Document
from lsp_render.core.yamlfile import yaml_error_line

__all__ = ["ResourceKey", "dump_resource", "parse_document", "resource_key", "unique_keys"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Identity of a resource: group, kind, namespace, name (and a duplicate index).

    Attributes
    ----------
    group
        API group (``""`` for the core group).
    kind
        The kind.
    namespace
        ``metadata.namespace`` as rendered (``""`` when not set).
    name
        ``metadata.name``.
    index
        0, or the position of a duplicate of the same identity in one render.
    """

    group: str
    kind: str
    namespace: str
    name: str
    index: int = 0

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        dup = f" #{self.index + 1}" if self.index else ""
        return f"{kind}/{where}{dup}"


def parse_document(doc: Document) -> Any:
    """Parse one rendered document.

    Raises
    ------
    RenderError
        When the document is not valid YAML.
    """
    try:
        return yaml.load(doc.text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f" line {line}" if line is not None else ""
        msg = f"{doc.source}:{where}: rendered document is not valid YAML"
        raise RenderError(msg) from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def resource_key(obj: Any, position: int) -> ResourceKey:
    """Key one parsed object (``position`` names objects that have no identity)."""
    if not isinstance(obj, dict):
        return ResourceKey("", "(not an object)", "", f"document {position + 1}")
    api_version = _text(obj.get("apiVersion"))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return ResourceKey(
        group,
        _text(obj.get("kind")),
        _text(metadata.get("namespace")),
        _text(metadata.get("name") or metadata.get("generateName")),
    )


def unique_keys(objects: Sequence[Any]) -> list[ResourceKey]:
    """Key every object, numbering duplicates of one identity in order."""
    seen: dict[ResourceKey, int] = {}
    keys = []
    for position, obj in enumerate(objects):
        key = resource_key(obj, position)
        count = seen.get(key, 0)
        seen[key] = count + 1
        keys.append(
            ResourceKey(key.group, key.kind, key.namespace, key.name, count) if count else key
        )
    return keys


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Safe dumper printing multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_resource(obj: Any) -> str:
    """Print a parsed object as normalised YAML (sorted keys, block style)."""
    return yaml.dump(
        obj,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )
