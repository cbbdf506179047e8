"""What ``helm template`` prints, rebuilt from the engine's rendered templates.

Helm's engine returns one text per template. ``helm template`` then drops
``NOTES.txt`` and partials, splits each file on ``---``, sorts the resources by
kind (Helm's ``InstallOrder``), prints CRDs first when asked, and prints the
hooks last. This module does the same, from Helm's ``pkg/release/util``
(``manifest.go``, ``manifest_sorter.go``, ``kind_sorter.go``),
``pkg/action/action.go`` (``renderResources``) and ``pkg/cmd/template.go``.
Both engines' streams end in :func:`stream_documents`, so they yield the same
documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from lsp_render.core.errors import RenderError
from lsp_render.core.manifests import Document, split_stream
from lsp_render.core.memo import TextMemo
from lsp_render.core.yamlfile import yaml_error_line
from lsp_render.sources.helm.head import read_head
from lsp_render.sources.helm.values import load_yaml_first_document

__all__ = [
    "INSTALL_ORDER",
    "SEPARATOR",
    "CrdFile",
    "Release",
    "assemble_parts",
    "crd_section",
    "split_manifests",
    "split_on_separators",
    "stream_documents",
]

INSTALL_ORDER: tuple[str, ...] = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_ORDER = {kind: index for index, kind in enumerate(INSTALL_ORDER)}

_HOOK_ANNOTATION = "helm.sh/hook"
_HOOK_EVENTS = frozenset(
    {
        "pre-install",
        "post-install",
        "pre-delete",
        "post-delete",
        "pre-upgrade",
        "post-upgrade",
        "pre-rollback",
        "post-rollback",
        "test",
        "test-success",
    }
)
_TEST_EVENTS = frozenset({"test", "test-success"})
_NOTES_SUFFIX = "NOTES.txt"

# Go's regexp `(?:^|\s*\n)---\s*`, where \s is [\t\n\f\r ] and ^ is the start of text.
SEPARATOR = re.compile(r"(?:\A|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")
_GO_REGEXP_SPACE = "\t\n\f\r "  # Go's \s, what SEPARATOR's classes hold
_SPACE_RUN = re.compile(f"[{_GO_REGEXP_SPACE}]*")
# Go's unicode.IsSpace, for TrimSpace.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SOURCE = re.compile(r"\A# Source: (.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CrdFile:
    """A file of a chart's ``crds/`` directory, as Helm lists it.

    Attributes
    ----------
    filename
        Its path with the chart's name in front (``chart/crds/x.yaml``).
    data
        Its content, unchanged.
    """

    filename: str
    data: str


@dataclass(frozen=True, slots=True)
class _Manifest:
    path: str
    content: str
    kind: str
    test: bool


def split_manifests(text: str) -> list[str]:
    """Split one rendered template on ``---`` exactly as Helm 4.2's ``SplitManifests``.

    Pieces that are only whitespace are dropped; the others lose their leading
    whitespace and keep their trailing one (the last piece of a template keeps
    its final newline, so ``helm template`` prints a blank line after it).
    """
    text = text.lstrip(_GO_SPACE)
    pieces = split_on_separators(text) if "---" in text else [text]
    return [piece.lstrip(_GO_SPACE) for piece in pieces if piece.strip(_GO_SPACE)]


def split_on_separators(text: str) -> list[str]:
    """Return ``SEPARATOR.split(text)``, found by substring search rather than by the regex.

    The regex tries its whitespace class at every character (about 10 ms on
    kube-prometheus-stack's templates); a separator always holds a newline and ``---``
    (or starts the text with ``---``), so ``str.find`` jumps from one to the
    next. A match then spans the blanks before that newline (back to the end of
    the previous match) and the blanks after ``---``, as the regex's greedy
    runs do (tests/helm_output_test.py compares both on generated texts).
    """
    pieces: list[str] = []
    start = 0  # where the current piece begins: the end of the previous match
    if text.startswith("---"):
        pieces.append("")
        start = _blanks_end(text, 3)
    newline = text.find("\n---", start)
    while newline != -1:
        begin = newline
        while begin > start and text[begin - 1] in _GO_REGEXP_SPACE:
            begin -= 1
        pieces.append(text[start:begin])
        start = _blanks_end(text, newline + 4)
        newline = text.find("\n---", start)
    pieces.append(text[start:])
    return pieces


def _blanks_end(text: str, at: int) -> int:
    match = _SPACE_RUN.match(text, at)
    return match.end() if match is not None else at


def _head(path: str, content: str) -> tuple[str, Mapping[str, Any] | None]:
    """Read kind and annotations like Helm's ``SimpleHead`` (strict about their types).

    libyaml checks the whole document and composes it with no Python call per
    node (:func:`.head.read_head`); only the few scalars of the head are typed.
    A document that needs more (a tag, a merge key, anything that is not a
    plain mapping with the usual head) is loaded in full, which also gives the
    error messages.
    """
    known = _HEADS.get(content)
    if known is not None:
        return known
    try:
        head = read_head(content)
    except yaml.YAMLError as exc:
        raise _parse_error(path, exc) from exc
    if head is None:
        head = _loaded_head(path, content)
    _HEADS.put(content, head)
    return head


# What each manifest text's head is, for the engine child's life: render-all renders a
# chart for every environment, and most of its manifests come out the same each time.
_HEADS: TextMemo[str, tuple[str, Mapping[str, Any] | None]] = TextMemo(16 << 20)


def _parse_error(path: str, exc: yaml.YAMLError) -> RenderError:
    line = yaml_error_line(exc)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {line}: " if line is not None else ""
    return RenderError(f"YAML parse error on {path}: {where}{problem}")


def _loaded_head(path: str, content: str) -> tuple[str, Mapping[str, Any] | None]:
    """:func:`_head` by loading the document into Python objects (the general case)."""
    try:
        data = load_yaml_first_document(content)
    except yaml.YAMLError as exc:
        raise _parse_error(path, exc) from exc
    if data is None:
        return "", None
    if not isinstance(data, dict):
        raise RenderError(
            f"YAML parse error on {path}: a manifest must be a mapping, not a {type(data).__name__}"
        )
    for field in ("apiVersion", "kind"):
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            raise RenderError(f"YAML parse error on {path}: {field} must be a string")
    metadata = data.get("metadata")
    if metadata is None:
        return data.get("kind") or "", None
    if not isinstance(metadata, dict):
        raise RenderError(f"YAML parse error on {path}: metadata must be a mapping")
    name = metadata.get("name")
    if name is not None and not isinstance(name, str):
        raise RenderError(f"YAML parse error on {path}: metadata.name must be a string")
    annotations = metadata.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            raise RenderError(f"YAML parse error on {path}: metadata.annotations must be a mapping")
        for key, value in annotations.items():
            if value is not None and not isinstance(value, str):
                raise RenderError(f"YAML parse error on {path}: annotation {key} must be a string")
    return data.get("kind") or "", annotations


def _hook_events(annotations: Mapping[str, Any] | None) -> list[str] | None:
    """Return the hook's events, ``None`` when not a hook, ``[]`` for an unknown hook type."""
    if not annotations or _HOOK_ANNOTATION not in annotations:
        return None
    raw = annotations[_HOOK_ANNOTATION] or ""
    events = [event.strip().lower() for event in str(raw).split(",")]
    if any(event not in _HOOK_EVENTS for event in events):
        return []
    return events


def _kind_key(manifest: _Manifest) -> tuple[int, str]:
    position = _ORDER.get(manifest.kind)
    if position is None:
        return (len(INSTALL_ORDER), manifest.kind)
    return (position, "")


def assemble_parts(
    files: Mapping[str, str],
    crds: Iterable[CrdFile],
    *,
    include_crds: bool,
    skip_tests: bool,
    skip_hooks: bool = False,
) -> list[str]:
    """Build the text ``helm template`` prints for one chart, as pieces to be joined.

    The engine child sends the pieces without joining them (a 5 MB copy less
    at its peak of memory).

    Parameters
    ----------
    files
        Template path (``chart/templates/x.yaml``) to rendered text, as Helm's
        engine returns it (``NOTES.txt``, partials and empty renders included).
    crds
        The chart's and its subcharts' ``crds/`` files, in Helm's order.
    include_crds
        Print the CRDs first (``--include-crds``).
    skip_tests
        Leave out test hooks (``--skip-tests``).
    skip_hooks
        Leave out every hook (``--no-hooks``).

    Returns
    -------
    list of str
        The stream's pieces: every document preceded by ``---`` and a ``# Source:`` line.

    Raises
    ------
    RenderError
        When a rendered manifest is not valid YAML (``YAML parse error on ...``).
    """
    release = Release(files, skip_hooks=skip_hooks)
    return release.parts(crds if include_crds else (), skip_tests=skip_tests)


class Release:
    """A chart's rendered files as ``helm template`` orders them: resources, then hooks.

    Raises
    ------
    RenderError
        When a rendered manifest is not valid YAML (``YAML parse error on ...``).
    """

    __slots__ = ("_generic", "_hooks")

    def __init__(self, files: Mapping[str, str], *, skip_hooks: bool = False) -> None:
        self._generic, self._hooks = _manifests(files, skip_hooks=skip_hooks)

    @property
    def has_resources(self) -> bool:
        """Whether the release manifest holds a resource outside the hooks.

        Without one, Helm's trim of the release manifest reaches the end of the
        last CRD file, so the CRD sections cannot be printed apart from
        :meth:`parts` of the rest.
        """
        return bool(self._generic)

    def parts(self, crds: Iterable[CrdFile], *, skip_tests: bool) -> list[str]:
        """Print ``crds`` (each a :func:`crd_section`), the resources, then the hooks: pieces."""
        return _print(crds, self._generic, self._hooks, skip_tests=skip_tests)


def crd_section(filename: str, data: str) -> str:
    """Return what ``helm template --include-crds`` prints for one CRD file."""
    return f"---\n# Source: {filename}\n{data}\n"


def _manifests(
    files: Mapping[str, str], *, skip_hooks: bool
) -> tuple[list[_Manifest], list[_Manifest]]:
    """Split the rendered files into resources and hooks, each sorted in install order."""
    generic: list[_Manifest] = []
    hooks: list[_Manifest] = []
    for path in sorted(files):
        content = files[path]
        if path.endswith(_NOTES_SUFFIX) or path.rsplit("/", 1)[-1].startswith("_"):
            continue
        if not content.strip(_GO_SPACE):
            continue
        for piece in split_manifests(content):
            kind, annotations = _head(path, piece)
            events = _hook_events(annotations)
            if events is None:
                generic.append(_Manifest(path, piece, kind, test=False))
            elif events and not skip_hooks:
                hooks.append(_Manifest(path, piece, kind, test=bool(_TEST_EVENTS & set(events))))
    generic.sort(key=_kind_key)
    hooks.sort(key=_kind_key)
    return generic, hooks


def _print(
    crds: Iterable[CrdFile], generic: list[_Manifest], hooks: list[_Manifest], *, skip_tests: bool
) -> list[str]:
    """Print the CRDs and resources (the release manifest, trimmed), then the hooks."""
    # Each part starts "---" and holds more than blanks, so trimming the joined release
    # manifest (helm template's TrimSpace) only trims the end of its last part: done
    # there, the megabytes of CRDs are copied once, by the final join.
    parts: list[str] = []
    for crd in crds:
        parts += ("---\n# Source: ", crd.filename, "\n", crd.data, "\n")
    for m in generic:
        parts += ("---\n# Source: ", m.path, "\n", m.content, "\n")
    while parts and not parts[-1].strip(_GO_SPACE):
        parts.pop()
    if parts:
        parts[-1] = parts[-1].rstrip(_GO_SPACE)
    parts.append("\n")
    for m in hooks:
        if not (skip_tests and m.test):
            parts += ("---\n# Source: ", m.path, "\n", m.content, "\n")
    return parts


def stream_documents(stream: str) -> list[Document]:
    """Split a ``helm template`` stream into documents named by their ``# Source:`` line.

    Nothing is dropped or trimmed, so :func:`~lsp_render.core.manifests.join_stream`
    gives back ``helm template``'s bytes: the comment-only ``# Source:`` document
    of a CRD file that begins with a comment and ``---`` (kube-prometheus-stack's
    CRDs) stays, and so do the blank lines Helm prints after a CRD file. A
    document without its own ``# Source:`` line (the second document of a
    multi-document CRD file) takes the name of the one before it.
    """
    documents: list[Document] = []
    source = "helm"
    for doc in split_stream(stream, "helm", keep_blank=True):
        match = _SOURCE.match(doc.text)
        if match is not None:
            source = match.group(1).strip()
        documents.append(Document(doc.text, source, doc.separator))
    return documents
