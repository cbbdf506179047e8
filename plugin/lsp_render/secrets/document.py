"""Placeholders in one manifest document: find them (plan), then write their values (apply).

Planning parses a document that the raw-text check flagged (PyYAML's C composer,
which keeps every node's position), reads its AVP annotations and records each
string scalar that holds placeholders, with the secret each placeholder reads.
Applying replaces only those scalars' text; every other byte of the document,
comments and formatting included, stays as it was.

Rules (AVP's, see ``reference/avp.md``): only string values of maps and lists,
never keys; generic ``<KEY>`` only under ``avp.kubernetes.io/path``;
``avp.kubernetes.io/ignore`` leaves the document alone and reads nothing; in a
``Secret``, a ``data`` value that is base64 of text holding a placeholder is
decoded, substituted and encoded again; in a ``ConfigMap`` every substituted
value is a string; ``avp.kubernetes.io/remove-missing`` (Secret and ConfigMap
only) drops a map entry whose key is missing from its secret.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.manifests import Document
from lsp_render.core.yamlfile import yaml_error_position
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.secrets.modifiers import ModifierError
from lsp_render.secrets.placeholders import (
    Placeholder,
    PlaceholderSyntaxError,
    find_placeholders,
    kv_read_version,
    might_hold_placeholder,
)
from lsp_render.secrets.removal import block_entry_span, flow_removal_spans
from lsp_render.secrets.resolve import Bound, MissingKeyError, resolve_string, stringify
from lsp_render.secrets.scan import ANNOTATION_PREFIX, is_candidate
from lsp_render.secrets.shield import Shield
from lsp_render.secrets.yamltext import replacement_text

__all__ = [
    "ANNOTATION_PREFIX",
    "DocumentPlan",
    "apply_plan",
    "is_candidate",
    "plan_document",
]

PATH_ANNOTATION = ANNOTATION_PREFIX + "path"
IGNORE_ANNOTATION = ANNOTATION_PREFIX + "ignore"
KV_VERSION_ANNOTATION = ANNOTATION_PREFIX + "kv-version"
SECRET_VERSION_ANNOTATION = ANNOTATION_PREFIX + "secret-version"
REMOVE_MISSING_ANNOTATION = ANNOTATION_PREFIX + "remove-missing"

_STR_TAG = "tag:yaml.org,2002:str"
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_PROPERTIES = re.compile(r"(?:[&!][^ \t\r\n]*[ \t\r\n]+)+")


@dataclass(slots=True)
class _Site:
    """One string scalar whose value holds placeholders."""

    node: yaml.ScalarNode
    field: str
    text: str
    bounds: list[Bound]
    base64: bool
    flow: bool
    indent: int
    key_node: yaml.Node | None  # set for a map value that remove-missing may drop
    parent: yaml.MappingNode | None  # the map holding it, when remove-missing may drop it


@dataclass(slots=True)
class DocumentPlan:
    """What substituting one document takes.

    Attributes
    ----------
    doc
        The document.
    label
        ``Kind/name (source)``, for messages.
    sites
        The scalars to rewrite.
    refs
        Every secret the document reads.
    """

    doc: Document
    label: str
    sites: list[_Site] = field(default_factory=list)
    refs: set[SecretRef] = field(default_factory=set)
    stringify_all: bool = False
    shared: set[int] = field(default_factory=set)  # ids of nodes an alias repeats


@dataclass(frozen=True, slots=True)
class _Settings:
    generic_path: str | None
    secret_version: str | None
    kv_version: int | None
    remove_missing: bool
    secret: bool
    configmap: bool


def _compose(doc: Document) -> yaml.Node | None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.compose(doc.text, Loader=loader)
    except yaml.YAMLError as err:
        position = yaml_error_position(err)
        where = f" at line {position[0]} column {position[1]}" if position is not None else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise InputError(f"{doc.source}: invalid YAML document{where}: {problem}") from None


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _label(root: yaml.Node | None, source: str) -> str:
    kind = _scalar(_get(root, "kind")) or "document"
    name = _scalar(_get(_get(root, "metadata"), "name"))
    return f"{kind}/{name} ({source})" if name else f"{kind} ({source})"


def _annotations(root: yaml.Node | None) -> dict[str, str]:
    node = _get(_get(root, "metadata"), "annotations")
    found: dict[str, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            value = _scalar(value_node)
            if key is not None and key.startswith(ANNOTATION_PREFIX) and value is not None:
                found[key] = value
    return found


def _kv_version(text: str, where: str) -> int:
    if text.strip() not in ("1", "2"):
        raise InputError(f"{where}: KV version must be 1 or 2, not {text!r}")
    return int(text)


def _settings(
    annotations: Mapping[str, str], kind: str | None, label: str, environ: Mapping[str, str]
) -> _Settings:
    kv: int | None = None
    if KV_VERSION_ANNOTATION in annotations:
        kv = _kv_version(annotations[KV_VERSION_ANNOTATION], f"{label}: {KV_VERSION_ANNOTATION}")
    elif environ.get("AVP_KV_VERSION"):
        kv = _kv_version(environ["AVP_KV_VERSION"], "AVP_KV_VERSION")
    secret_version = annotations.get(SECRET_VERSION_ANNOTATION)
    if secret_version is not None:
        try:
            secret_version = kv_read_version(
                secret_version.strip(), kv, what=f"{label}: {SECRET_VERSION_ANNOTATION}"
            )
        except PlaceholderSyntaxError:
            raise InputError(f"{label}: {SECRET_VERSION_ANNOTATION} must be a number") from None
    remove_missing = annotations.get(REMOVE_MISSING_ANNOTATION, "").strip() in _TRUE
    if remove_missing and kind not in ("Secret", "ConfigMap"):
        raise InputError(
            f"{label}: {REMOVE_MISSING_ANNOTATION} can only be used on Secret or ConfigMap "
            "resources"
        )
    generic_path = annotations.get(PATH_ANNOTATION)
    return _Settings(
        generic_path=generic_path.strip() if generic_path is not None else None,
        secret_version=secret_version,
        kv_version=kv,
        remove_missing=remove_missing,
        secret=kind == "Secret",
        configmap=kind == "ConfigMap",
    )


def plan_document(
    doc: Document, environ: Mapping[str, str], *, shield: Shield | None = None
) -> DocumentPlan | None:
    """Find the placeholders of one document.

    Parameters
    ----------
    doc
        A document that :func:`is_candidate` flagged.
    environ
        The sidecar's environment (``AVP_KV_VERSION``).
    shield
        Texts resolved before the render, whose placeholders are content.

    Returns
    -------
    DocumentPlan or None
        ``None`` when the document holds no placeholder (or is ignored).

    Raises
    ------
    InputError
        Malformed YAML, a malformed placeholder, an unknown modifier or a bad
        annotation.
    """
    root = _compose(doc)
    if root is None:
        return None
    label = _label(root, doc.source)
    annotations = _annotations(root)
    if annotations.get(IGNORE_ANNOTATION, "").strip() in _TRUE:
        return None
    kind = _scalar(_get(root, "kind"))
    settings = _settings(annotations, kind, label, environ)
    plan = DocumentPlan(doc, label, stringify_all=settings.configmap)
    _Walker(plan, settings, shield or Shield()).walk(root, [], flow=False, data_map=False)
    return plan if plan.sites else None


def _field_name(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(document)"


class _Walker:
    def __init__(self, plan: DocumentPlan, settings: _Settings, shield: Shield) -> None:
        self.plan = plan
        self.settings = settings
        self.shield = shield
        self.generic = settings.generic_path is not None
        self.seen: set[int] = set()
        self.keys: set[int] = set()

    def walk(self, node: yaml.Node, path: list[str | int], *, flow: bool, data_map: bool) -> None:
        if id(node) in self.seen:
            self.plan.shared.add(id(node))
            return
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            inner_flow = flow or bool(node.flow_style)
            is_secret_data = self.settings.secret and not path
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                if id(key_node) in self.keys:
                    self.plan.shared.add(id(key_node))
                self.keys.add(id(key_node))
                if isinstance(value_node, yaml.ScalarNode):
                    self.scalar(
                        value_node,
                        [*path, key],
                        flow=inner_flow,
                        indent=key_node.start_mark.column + 2,
                        key_node=key_node,
                        base64_ok=data_map,
                        parent=node,
                    )
                else:
                    self.walk(
                        value_node,
                        [*path, key],
                        flow=inner_flow,
                        data_map=is_secret_data and key == "data",
                    )
        elif isinstance(node, yaml.SequenceNode):
            inner_flow = flow or bool(node.flow_style)
            for index, item in enumerate(node.value):
                if isinstance(item, yaml.ScalarNode):
                    self.scalar(
                        item,
                        [*path, index],
                        flow=inner_flow,
                        indent=item.start_mark.column,
                        key_node=None,
                        base64_ok=False,
                        parent=None,
                    )
                else:
                    self.walk(item, [*path, index], flow=inner_flow, data_map=False)

    def scalar(
        self,
        node: yaml.ScalarNode,
        path: list[str | int],
        *,
        flow: bool,
        indent: int,
        key_node: yaml.Node | None,
        base64_ok: bool,
        parent: yaml.MappingNode | None,
    ) -> None:
        if id(node) in self.seen:
            self.plan.shared.add(id(node))
            return
        self.seen.add(id(node))
        if node.tag != _STR_TAG:
            return
        value: str = node.value
        text = value
        encoded = False
        if base64_ok and value:
            decoded = _decode_base64(value)
            if decoded is not None and might_hold_placeholder(decoded, generic=self.generic):
                text, encoded = decoded, True
        if not might_hold_placeholder(text, generic=self.generic):
            return
        field_name = _field_name(path)
        try:
            found = find_placeholders(self.shield.blank(text), generic=self.generic)
        except PlaceholderSyntaxError as err:
            raise InputError(f"{self.plan.label}: {err} in {field_name}") from None
        if not found and encoded:
            text, encoded = value, False
            try:
                found = find_placeholders(self.shield.blank(text), generic=self.generic)
            except PlaceholderSyntaxError as err:
                raise InputError(f"{self.plan.label}: {err} in {field_name}") from None
        if not found:
            return
        bounds = []
        for placeholder in found:
            ref = self.ref(placeholder, field_name)
            bounds.append(Bound(placeholder, ref))
            self.plan.refs.add(ref)
        removable = self.settings.remove_missing and key_node is not None
        self.plan.sites.append(
            _Site(
                node=node,
                field=field_name,
                text=text,
                bounds=bounds,
                base64=encoded,
                flow=flow,
                indent=indent,
                key_node=key_node if removable else None,
                parent=parent if removable else None,
            )
        )

    def ref(self, placeholder: Placeholder, field_name: str) -> SecretRef:
        kv = self.settings.kv_version
        if placeholder.path is None:
            assert self.settings.generic_path is not None  # noqa: S101 - generic only then
            return SecretRef(self.settings.generic_path, self.settings.secret_version, kv)
        try:
            version = kv_read_version(
                placeholder.version, kv, what=f"{self.plan.label}: {placeholder.label}"
            )
        except PlaceholderSyntaxError as err:
            raise InputError(
                f"{self.plan.label}: malformed placeholder {placeholder.label}: {err} "
                f"in {field_name}"
            ) from None
        return SecretRef(placeholder.path, version, kv)


def _decode_base64(value: str) -> str | None:
    """Decode as Go's ``base64.StdEncoding`` does (and AVP with it): line breaks are skipped.

    A ``data`` value wrapped over lines (a ``|`` block, as ``base64`` prints it)
    decodes; any other character outside the alphabet, or bad padding, does not.
    """
    try:
        compact = value.replace("\r", "").replace("\n", "")
        return base64.b64decode(compact, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _line_rest(text: str, index: int) -> str:
    end = text.find("\n", index)
    return text[index : end if end >= 0 else len(text)]


def _removal_edits(plan: DocumentPlan, gone: list[_Site]) -> list[tuple[int, int, str]]:
    """Edits that drop the entries of ``gone`` (remove-missing), grouped by their map."""
    text = plan.doc.text
    edits: list[tuple[int, int, str]] = []
    by_parent: dict[int, tuple[yaml.MappingNode, bool, set[int]]] = {}
    for site in gone:
        assert site.parent is not None and site.key_node is not None  # noqa: S101 - removable
        if id(site.node) in plan.shared or id(site.key_node) in plan.shared:
            raise InputError(
                f"{plan.label}: cannot remove {site.field} (remove-missing): an alias elsewhere "
                "in the document repeats it"
            )
        position = next(i for i, (key, _) in enumerate(site.parent.value) if key is site.key_node)
        by_parent.setdefault(id(site.parent), (site.parent, site.flow, set()))[2].add(position)
    for parent, flow, positions in by_parent.values():
        entries = list(parent.value)
        if flow:
            edits.extend(
                (a, b, "") for a, b in flow_removal_spans(text, entries, sorted(positions))
            )
            continue
        for position in sorted(positions):
            key_node, value_node = entries[position]
            span = block_entry_span(text, key_node, value_node)
            if span is None:
                field_name = next(s.field for s in gone if s.key_node is key_node)
                raise InputError(
                    f"{plan.label}: cannot remove {field_name} (remove-missing needs each "
                    "entry of a block mapping on lines of its own)"
                )
            edits.append((span[0], span[1], ""))
    return edits


def _replacement_edit(plan: DocumentPlan, site: _Site, value: Any) -> tuple[int, int, str]:
    text = plan.doc.text
    node = site.node
    try:
        if site.base64:
            value = base64.b64encode(stringify(value).encode()).decode("ascii")
        elif plan.stringify_all:
            value = stringify(value)
    except ModifierError as err:
        labels = ", ".join(bound.placeholder.label for bound in site.bounds)
        raise InputError(f"{plan.label}: {err} for placeholder {labels} in {site.field}") from None
    start, end = node.start_mark.index, node.end_mark.index
    properties = _PROPERTIES.match(text, start, end)
    if properties is not None:  # an anchor or a tag stays in front of the new value
        start = properties.end()
    return (
        start,
        end,
        replacement_text(
            value,
            original=text[start:end],
            style=node.style,
            flow=site.flow,
            indent=site.indent,
            line_rest=_line_rest(text, end),
        ),
    )


def apply_plan(
    plan: DocumentPlan, results: Mapping[SecretRef, SecretResult], *, mask: bool
) -> Document:
    """Write the values into one document.

    Parameters
    ----------
    plan
        From :func:`plan_document`.
    results
        The backend's answer for every secret of the render.
    mask
        Write ``********`` for every value.

    Returns
    -------
    Document
        The document with its placeholders substituted.

    Raises
    ------
    SecretError
        A secret, a key or a version is missing, or a modifier failed.
    InputError
        An entry ``remove-missing`` must drop cannot be cut out of the text.
    """
    edits: list[tuple[int, int, str]] = []
    gone: list[_Site] = []
    for site in plan.sites:
        try:
            value: Any = resolve_string(
                site.text, site.bounds, results, where=plan.label, field=site.field, mask=mask
            )
        except MissingKeyError:
            if site.key_node is None:
                raise
            gone.append(site)
            continue
        edits.append(_replacement_edit(plan, site, value))
    if gone:
        edits.extend(_removal_edits(plan, gone))
    edits.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(edits):
        if start < end:  # pragma: no cover - the spans are disjoint by construction
            raise RenderError(f"{plan.label}: overlapping substitutions (a bug in lsp-render)")
    text = plan.doc.text
    pieces: list[str] = []
    cursor = 0
    for start, end, new in edits:
        pieces.append(text[cursor:start])
        pieces.append(new)
        cursor = end
    pieces.append(text[cursor:])
    return plan.doc.with_text("".join(pieces))
