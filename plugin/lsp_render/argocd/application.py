"""Argo CD ``Application`` manifests as plain data (``argoproj.io/v1alpha1``).

Only what decides a render is kept: the name, project, destination namespace
and each source with its Helm, Kustomize, plugin or directory options. The
field names and defaults are Argo CD's (``pkg/apis/application/v1alpha1/types.go``).
Parsing never touches the file system.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lsp_render.core.errors import InputError

__all__ = [
    "API_VERSION",
    "Application",
    "HelmParameter",
    "HelmSource",
    "KustomizeSource",
    "PluginSource",
    "Source",
    "envsubst",
    "is_application",
    "merge_patch",
    "normalize_repo_url",
    "parse_application",
    "plugin_parameters_json",
    "with_overrides",
]

API_VERSION = "argoproj.io/v1alpha1"
_KIND = "Application"
# metadata.name: a DNS-1123 subdomain (it also names the output file, so no "/" or "..").
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_NAME = 253


@dataclass(frozen=True, slots=True)
class HelmParameter:
    """One ``spec.source.helm.parameters`` entry (``forceString``: ``--set-string``)."""

    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True, slots=True)
class HelmSource:
    """``spec.source.helm`` (``file_parameters``: how many ``fileParameters`` it names)."""

    value_files: tuple[str, ...] = ()
    ignore_missing_value_files: bool = False
    parameters: tuple[HelmParameter, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    release_name: str = ""
    namespace: str = ""
    skip_crds: bool = False
    skip_tests: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    file_parameters: int = 0


@dataclass(frozen=True, slots=True)
class KustomizeSource:
    """``spec.source.kustomize`` (what ``kustomize edit`` is asked to change)."""

    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    force_common_labels: bool = False
    force_common_annotations: bool = False
    namespace: str = ""
    replicas: tuple[tuple[str, int], ...] = ()
    components: tuple[str, ...] = ()
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    patches: tuple[Mapping[str, Any], ...] = ()
    label_without_selector: bool = False
    label_include_templates: bool = False
    common_annotations_envsubst: bool = False
    ignore_missing_components: bool = False


@dataclass(frozen=True, slots=True)
class PluginSource:
    """``spec.source.plugin``: its name, ``env`` and ``parameters`` (kept as written)."""

    name: str = ""
    env: tuple[tuple[str, str], ...] = ()
    parameters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """One source of an Application (``spec.source`` or an entry of ``spec.sources``)."""

    repo_url: str
    path: str | None = None
    chart: str | None = None
    target_revision: str = ""
    ref: str = ""
    helm: HelmSource | None = None
    kustomize: KustomizeSource | None = None
    plugin: PluginSource | None = None
    directory: bool = False
    recurse: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ref_only(self) -> bool:
        """Whether Argo CD skips this source (a ``ref`` source with no path or chart)."""
        return bool(self.ref) and self.path is None and self.chart is None


@dataclass(frozen=True, slots=True)
class Application:
    """An Argo CD Application, as far as rendering goes.

    Attributes
    ----------
    name
        ``metadata.name``.
    project
        ``spec.project``.
    namespace
        ``spec.destination.namespace`` (``""`` when unset).
    sources
        ``spec.sources``, or ``spec.source`` alone.
    origin
        Where the manifest came from, for messages.
    """

    name: str
    project: str
    namespace: str
    sources: tuple[Source, ...]
    origin: str = ""


def is_application(obj: Any) -> bool:
    """Tell whether a parsed document is an ``argoproj.io/v1alpha1`` ``Application``."""
    return (
        isinstance(obj, dict) and obj.get("apiVersion") == API_VERSION and obj.get("kind") == _KIND
    )


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, what: str) -> InputError:
        return InputError(f"{self.where}: {path}: {what}")

    def mapping(self, obj: Any, path: str) -> dict[str, Any]:
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            raise self.fail(path, "must be a mapping")
        return obj

    def string(self, obj: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        value = obj.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"{path}.{key}", "must be a string")
        return str(value)

    def boolean(self, obj: Mapping[str, Any], key: str, path: str) -> bool:
        value = obj.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{path}.{key}", "must be true or false")
        return value

    def strings(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{path}.{key}", "must be a list of strings")
        return tuple(value)

    def string_map(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        value = self.mapping(obj.get(key), f"{path}.{key}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if (
                not isinstance(k, str)
                or isinstance(v, bool)
                or not isinstance(v, str | int | float)
            ):
                raise self.fail(f"{path}.{key}", "must map strings to strings")
            out[k] = str(v)
        return out


def _helm(r: _Reader, obj: Any, path: str) -> HelmSource:
    helm = r.mapping(obj, path)
    params: list[HelmParameter] = []
    raw_params = helm.get("parameters") or []
    if not isinstance(raw_params, list):
        raise r.fail(f"{path}.parameters", "must be a list")
    for i, item in enumerate(raw_params):
        where = f"{path}.parameters[{i}]"
        entry = r.mapping(item, where)
        name = r.string(entry, "name", where)
        if not name:
            raise r.fail(where, "has no name")
        params.append(
            HelmParameter(
                name, r.string(entry, "value", where), r.boolean(entry, "forceString", where)
            )
        )
    values: dict[str, Any] = {}
    if helm.get("valuesObject") is not None:
        values = r.mapping(helm["valuesObject"], f"{path}.valuesObject")
    elif helm.get("values") not in (None, ""):
        values = _values_text(r, helm["values"], f"{path}.values")
    return HelmSource(
        value_files=r.strings(helm, "valueFiles", path),
        ignore_missing_value_files=r.boolean(helm, "ignoreMissingValueFiles", path),
        parameters=tuple(params),
        values=values,
        release_name=r.string(helm, "releaseName", path),
        namespace=r.string(helm, "namespace", path),
        skip_crds=r.boolean(helm, "skipCrds", path),
        skip_tests=r.boolean(helm, "skipTests", path),
        kube_version=r.string(helm, "kubeVersion", path),
        api_versions=r.strings(helm, "apiVersions", path),
        file_parameters=len(helm.get("fileParameters") or []),
    )


def _values_text(r: _Reader, value: Any, path: str) -> dict[str, Any]:
    """``helm.values``: a YAML string (or, as Argo CD also accepts, a mapping)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise r.fail(path, "must be a YAML string")
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise r.fail(path, f"is not valid YAML ({type(exc).__name__})") from None
    if parsed is None:
        return {}
    return r.mapping(parsed, path)


def _kustomize(r: _Reader, obj: Any, path: str) -> KustomizeSource:
    kust = r.mapping(obj, path)
    replicas: list[tuple[str, int]] = []
    raw = kust.get("replicas") or []
    if not isinstance(raw, list):
        raise r.fail(f"{path}.replicas", "must be a list")
    for i, item in enumerate(raw):
        where = f"{path}.replicas[{i}]"
        entry = r.mapping(item, where)
        count = entry.get("count")
        if isinstance(count, str) and re.fullmatch(r"-?[0-9]+", count):
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int):
            raise r.fail(f"{where}.count", "must be an integer")
        replicas.append((r.string(entry, "name", where), count))
    return KustomizeSource(
        name_prefix=r.string(kust, "namePrefix", path),
        name_suffix=r.string(kust, "nameSuffix", path),
        images=r.strings(kust, "images", path),
        common_labels=r.string_map(kust, "commonLabels", path),
        common_annotations=r.string_map(kust, "commonAnnotations", path),
        force_common_labels=r.boolean(kust, "forceCommonLabels", path),
        force_common_annotations=r.boolean(kust, "forceCommonAnnotations", path),
        namespace=r.string(kust, "namespace", path),
        replicas=tuple(replicas),
        components=r.strings(kust, "components", path),
        kube_version=r.string(kust, "kubeVersion", path),
        api_versions=r.strings(kust, "apiVersions", path),
        patches=_patches(r, kust.get("patches"), f"{path}.patches"),
        label_without_selector=r.boolean(kust, "labelWithoutSelector", path),
        label_include_templates=r.boolean(kust, "labelIncludeTemplates", path),
        common_annotations_envsubst=r.boolean(kust, "commonAnnotationsEnvsubst", path),
        ignore_missing_components=r.boolean(kust, "ignoreMissingComponents", path),
    )


def _patches(r: _Reader, raw: Any, path: str) -> tuple[Mapping[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.fail(path, "must be a list")
    return tuple(r.mapping(item, f"{path}[{i}]") for i, item in enumerate(raw))


def _plugin(r: _Reader, obj: Any, path: str) -> PluginSource:
    plugin = r.mapping(obj, path)
    env: list[tuple[str, str]] = []
    raw_env = plugin.get("env") or []
    if not isinstance(raw_env, list):
        raise r.fail(f"{path}.env", "must be a list")
    for i, item in enumerate(raw_env):
        entry = r.mapping(item, f"{path}.env[{i}]")
        env.append((r.string(entry, "name", path), r.string(entry, "value", path)))
    raw_params = plugin.get("parameters") or []
    if not isinstance(raw_params, list):
        raise r.fail(f"{path}.parameters", "must be a list")
    params = tuple(r.mapping(item, f"{path}.parameters[{i}]") for i, item in enumerate(raw_params))
    return PluginSource(r.string(plugin, "name", path), tuple(env), params)


def _source(r: _Reader, obj: Any, path: str) -> Source:
    src = r.mapping(obj, path)
    raw_path = src.get("path")
    chart = src.get("chart")
    return Source(
        repo_url=r.string(src, "repoURL", path),
        path=r.string(src, "path", path) if raw_path is not None else None,
        chart=r.string(src, "chart", path) if chart is not None else None,
        target_revision=r.string(src, "targetRevision", path),
        ref=r.string(src, "ref", path),
        helm=_helm(r, src["helm"], f"{path}.helm") if src.get("helm") is not None else None,
        kustomize=(
            _kustomize(r, src["kustomize"], f"{path}.kustomize")
            if src.get("kustomize") is not None
            else None
        ),
        plugin=_plugin(r, src["plugin"], f"{path}.plugin")
        if src.get("plugin") is not None
        else None,
        directory=src.get("directory") is not None,
        recurse=_recurse(r, src.get("directory"), f"{path}.directory"),
        raw=src,
    )


def _recurse(r: _Reader, directory: Any, path: str) -> bool:
    return r.boolean(r.mapping(directory, path), "recurse", path) if directory else False


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7386), as Argo CD applies ``.argocd-source.yaml``."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def with_overrides(source: Source, patches: list[tuple[str, Any]], app_name: str) -> Source:
    """Merge ``.argocd-source.yaml`` and ``.argocd-source-<app>.yaml`` into a source.

    As Argo CD's ``mergeSourceParameters``: each file is a JSON merge patch of the
    source, and ``repoURL``, ``path``, ``chart`` and ``targetRevision`` are kept.

    Raises
    ------
    InputError
        When a patch is not a mapping or the merged source is malformed.
    """
    merged: Any = dict(source.raw)
    for origin, patch in patches:
        if patch is None:
            continue
        if not isinstance(patch, dict):
            msg = f"{origin}: must be a mapping (a patch of the Application's source)"
            raise InputError(msg)
        merged = merge_patch(merged, patch)
    for key in ("repoURL", "path", "chart", "targetRevision"):
        merged.pop(key, None)
        if key in source.raw:
            merged[key] = source.raw[key]
    where = patches[-1][0] if patches else "source"
    return _source(_Reader(f"{where}: Application {app_name}"), merged, "source")


def parse_application(obj: Mapping[str, Any], *, origin: str) -> Application:
    """Read an Application manifest (already parsed from YAML).

    Parameters
    ----------
    obj
        The manifest.
    origin
        Where it came from (a file, a template), for messages.

    Returns
    -------
    Application
        The Application.

    Raises
    ------
    InputError
        When a field has the wrong type, or neither ``spec.source`` nor
        ``spec.sources`` is given.
    """
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        msg = f"{origin}: an Application without metadata.name"
        raise InputError(msg)
    if len(name) > _MAX_NAME or not _NAME.match(name):
        msg = f"{origin}: Application name {name[:80]!r} is not a Kubernetes object name"
        raise InputError(msg)
    r = _Reader(f"{origin}: Application {name}")
    spec = r.mapping(obj.get("spec"), "spec")
    destination = r.mapping(spec.get("destination"), "spec.destination")
    if spec.get("sources"):
        raw = spec["sources"]
        if not isinstance(raw, list):
            raise r.fail("spec.sources", "must be a list")
        sources = tuple(_source(r, item, f"spec.sources[{i}]") for i, item in enumerate(raw))
    elif spec.get("source") is not None:
        sources = (_source(r, spec["source"], "spec.source"),)
    else:
        raise r.fail("spec", "has neither source nor sources")
    return Application(
        name=name,
        project=r.string(spec, "project", "spec"),
        namespace=r.string(destination, "namespace", "spec.destination"),
        sources=sources,
        origin=origin,
    )


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.*)$")


def normalize_repo_url(url: str) -> str:
    """Normalise a Git URL the way Argo CD compares them (``git.NormalizeGitURL``).

    ``https://github.com/org/repo.git``, ``git@github.com:org/repo`` and
    ``ssh://git@github.com/org/repo`` all become ``github.com/org/repo``.
    """
    text = url.strip().lower()
    scp = _SCP_LIKE.match(text)
    if scp and "://" not in text:
        text = f"{scp.group(1)}/{scp.group(2)}"
    else:
        text = re.sub(r"^[a-z0-9+.-]+://", "", text)
        text = text.split("@", 1)[-1] if "@" in text.split("/", 1)[0] else text
    return text.rstrip("/").removesuffix(".git").rstrip("/")


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$VAR`` and ``${VAR}`` like Go's ``os.Expand`` over Argo CD's build environment.

    Unknown variables become empty; ``$$`` is a ``$``.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "{":
            end = text.find("}", i + 2)
            if end < 0:  # Go: a bad syntax eats the "${"
                i += 2
                continue
            name = text[i + 2 : end]
            out.append("$" if name == "$" else env.get(name, ""))
            i = end + 1
            continue
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        match = re.match(r"[A-Za-z0-9_]+", text[i + 1 :])
        if match is None:
            if nxt in "*#@!?-" or nxt.isdigit():
                out.append(env.get(nxt, ""))
                i += 2
            else:
                out.append(char)
                i += 1
            continue
        out.append(env.get(match.group(0), ""))
        i += 1 + len(match.group(0))
    return "".join(out)


def _go_json(value: Any) -> str:
    # encoding/json: keys of a map sorted, compact, and <, >, & escaped for HTML.
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def plugin_parameters_json(parameters: tuple[Mapping[str, Any], ...]) -> str:
    """``ARGOCD_APP_PARAMETERS`` exactly as Argo CD marshals ``plugin.parameters``.

    Each parameter keeps ``name`` and whichever of ``string``, ``array`` and
    ``map`` it sets (``ApplicationSourcePluginParameter.MarshalJSON``).
    """
    out: list[dict[str, Any]] = []
    for param in parameters:
        item: dict[str, Any] = {"name": str(param.get("name", ""))}
        if param.get("string") is not None:
            item["string"] = param["string"]
        if "map" in param:
            item["map"] = param["map"] if param["map"] is not None else {}
        if "array" in param:
            item["array"] = param["array"] if param["array"] is not None else []
        out.append(item)
    return _go_json(out)
