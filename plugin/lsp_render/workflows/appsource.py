"""Render one Argo CD Application exactly as Argo CD's repo-server renders it.

Per source (``reposerver/repository/repository.go``):

- **Helm** (``helm:`` given, or a ``Chart.yaml``): ``helm template`` with the
  release name ``helm.releaseName`` or the Application's name, the namespace
  ``helm.namespace`` or ``spec.destination.namespace``, ``valueFiles`` relative
  to the source path (absolute ones to the repository root, ``$ref/...`` to a
  ``ref`` source), ``ignoreMissingValueFiles``, ``values``/``valuesObject`` as a
  last value file, ``parameters`` as ``--set`` (``forceString``: ``--set-string``,
  commas escaped as Argo CD does), ``skipCrds``, ``skipTests``, ``kubeVersion``,
  ``apiVersions``. No placeholder substitution: Argo CD's Helm source has none.
- **Kustomize** (``kustomize:`` given, or a kustomization file): the ``kustomize
  edit`` changes (:mod:`.kustomize_edit`) in a scratch copy, then a build.
- **Plugin** ``lsp-render``: ``lsp-render render`` with the environment the
  sidecar receives: Argo CD's build variables, ``ARGOCD_ENV_<name>`` for each
  ``plugin.env`` entry and ``ARGOCD_APP_PARAMETERS``, so ``spec.project``
  selects the operator policy.
- **Directory**: the plain manifests.

Multi-source Applications render each source in order; ``ref``-only sources
supply ``$ref/`` value files and render nothing.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from lsp_render.argocd.application import (
    Application,
    HelmSource,
    Source,
    envsubst,
    plugin_parameters_json,
)
from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import InputError
from lsp_render.core.manifests import Document, is_blank
from lsp_render.core.paths import inside
from lsp_render.detect import kustomization_file

__all__ = ["PLUGIN_NAME", "build_env", "clean_set_value", "render_application", "source_kind"]

PLUGIN_NAME = "lsp-render"
_GLOB_CHARS = frozenset("*?[")


def clean_set_value(value: str) -> str:
    """Escape commas the way Argo CD does before ``--set`` (``cleanSetParameters``)."""
    if value.startswith("{") and value.endswith("}"):
        return value
    out: list[str] = []
    previous = ""
    for char in value:
        out.append("\\," if char == "," and previous != "\\" else char)
        previous = char
    return "".join(out)


def build_env(app: Application, source: Source, revision: str) -> dict[str, str]:
    """Argo CD's build environment of one source (``newEnv``)."""
    return {
        "ARGOCD_APP_NAME": app.name,
        "ARGOCD_APP_NAMESPACE": app.namespace,
        "ARGOCD_APP_PROJECT_NAME": app.project,
        "ARGOCD_APP_REVISION": revision,
        "ARGOCD_APP_REVISION_SHORT": revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": revision[:8],
        "ARGOCD_APP_SOURCE_REPO_URL": source.repo_url,
        "ARGOCD_APP_SOURCE_PATH": source.path or "",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": source.target_revision,
    }


_EXPLICIT = (("plugin", "plugin"), ("helm", "helm"), ("kustomize", "kustomize"))


def source_kind(source: Source, app_path: Path) -> str:
    """Decide how Argo CD renders a source: ``plugin``, ``helm``, ``kustomize`` or ``directory``."""
    for attribute, kind in _EXPLICIT:
        if getattr(source, attribute) is not None:
            return kind
    if not source.directory:
        if (app_path / "Chart.yaml").is_file():
            return "helm"
        if kustomization_file(app_path) is not None:
            return "kustomize"
    return "directory"


@dataclass(frozen=True, slots=True)
class _SourceJob:
    """One source of one Application, with everything its render reads."""

    app: Application
    source: Source
    app_path: Path
    repo_root: Path
    build: Mapping[str, str]
    environ: Mapping[str, str]

    @property
    def label(self) -> str:
        return f"Application {self.app.name}"


def _source_dir(repo_root: Path, path: str, label: str) -> Path:
    candidate = repo_root / path.strip("/")
    if not inside(repo_root, candidate):
        msg = f"{label}: source path '{path}' leaves the repository"
        raise InputError(msg)
    resolved = candidate.resolve()
    if not resolved.is_dir():
        msg = f"{label}: source path '{path}' is not a directory"
        raise InputError(msg)
    return resolved


def _locate(job: _SourceJob, raw: str) -> tuple[Path, str]:
    """Return the base directory and relative text of one ``valueFiles`` entry."""
    refs = {f"${s.ref}" for s in job.app.sources if s.ref}
    head = raw.split("/", 1)[0]
    if head in refs:  # $ref/...: relative to that source's repository (this one)
        return job.repo_root, envsubst(raw[len(head) :], job.build).lstrip("/")
    text = envsubst(raw, job.build)
    if urlparse(text).scheme:
        msg = f"{job.label}: value file '{raw}' is a URL; only files of the repository render"
        raise InputError(msg)
    if text.startswith("/"):  # absolute: from the repository root
        return job.repo_root, text.lstrip("/")
    return job.app_path, text


def _matches(job: _SourceJob, helm: HelmSource, raw: str) -> list[Path]:
    base, text = _locate(job, raw)
    candidate = base / text
    if not inside(job.repo_root, candidate):
        msg = f"{job.label}: value file '{raw}' leaves the repository"
        raise InputError(msg)
    if not _GLOB_CHARS & set(text):
        path = candidate.resolve()
        if path.exists() or not helm.ignore_missing_value_files:
            return [path]
        return []
    found = sorted(glob.glob(str(candidate), recursive=True))  # noqa: PTH207 - ** patterns
    if not found and not helm.ignore_missing_value_files:
        msg = f"{job.label}: value file pattern '{raw}' matches no file"
        raise InputError(msg)
    for match in found:
        if not inside(job.repo_root, Path(match)):
            msg = f"{job.label}: value file '{match}' leaves the repository"
            raise InputError(msg)
    return [Path(match).resolve() for match in found]


def _value_files(job: _SourceJob, helm: HelmSource) -> list[Path]:
    """Resolve ``valueFiles`` as ``getResolvedValueFiles`` does (local files only)."""
    resolved: list[Path] = []
    for raw in helm.value_files:
        for path in _matches(job, helm, raw):
            if not path.exists():
                msg = f"{job.label}: value file '{raw}' does not exist"
                raise InputError(msg)
            if not path.is_file():
                msg = f"{job.label}: value file '{raw}' is not a regular file"
                raise InputError(msg)
            if path not in resolved:
                resolved.append(path)
    return resolved


def _render_helm(job: _SourceJob) -> list[Document]:
    from lsp_render.argocd.env import kube_api_versions, release_name_from_app
    from lsp_render.sources.helm import HelmInputs, render_chart

    helm = job.source.helm or HelmSource()
    if helm.file_parameters:
        msg = f"{job.label}: helm.fileParameters (--set-file) is not supported by lsp-render"
        raise InputError(msg)
    sets: dict[str, str] = {}
    set_strings: dict[str, str] = {}
    for param in helm.parameters:  # a map in Argo CD: the last of a name wins
        (set_strings if param.force_string else sets)[param.name] = param.value
    api_versions = helm.api_versions or kube_api_versions(job.environ)
    inputs = HelmInputs(
        chart_dir=job.app_path,
        repo_root=job.repo_root,
        release_name=helm.release_name or release_name_from_app(job.app.name),
        namespace=helm.namespace or job.app.namespace or "default",
        value_files=tuple(_value_files(job, helm)),
        values=dict(helm.values),
        set_values=tuple(f"{k}={clean_set_value(envsubst(v, job.build))}" for k, v in sets.items()),
        set_string_values=tuple(
            f"{k}={clean_set_value(envsubst(v, job.build))}" for k, v in set_strings.items()
        ),
        include_crds=not helm.skip_crds,
        skip_tests=helm.skip_tests,
        kube_version=helm.kube_version or job.environ.get("KUBE_VERSION") or None,
        api_versions=tuple(api_versions),
    )
    return render_chart(inputs)


def _render_kustomize(job: _SourceJob) -> list[Document]:
    from lsp_render.core.scratch import mirror, scratch_dir
    from lsp_render.sources import kustomize
    from lsp_render.workflows.kustomize_edit import apply_edits, has_edits

    options = job.source.kustomize
    if options is None or not has_edits(options):
        return kustomize.build(
            job.app_path, label=job.label, environ=job.environ, repo_root=job.repo_root
        )
    kust_file = kustomization_file(job.app_path)
    if kust_file is None:
        msg = f"{job.label}: no kustomization file in '{job.source.path}'"
        raise InputError(msg)
    kustomize.check_references(job.app_path, job.repo_root, label=job.label)
    for component in options.components:  # added to the kustomization: confined like it
        if "://" in component or component.startswith("git@"):
            msg = f"{job.label}: kustomize component '{component}' is remote"
            raise InputError(msg)
        if not inside(job.repo_root, job.app_path / component):
            msg = f"{job.label}: kustomize component '{component}' leaves the repository"
            raise InputError(msg)
    for patch in options.patches:  # a patch file must be in the repository too
        file = patch.get("path")
        if isinstance(file, str) and not inside(job.repo_root, job.app_path / file):
            msg = f"{job.label}: kustomize patch '{file}' leaves the repository"
            raise InputError(msg)
    with scratch_dir() as scratch:
        copy = mirror(job.repo_root, job.app_path, scratch)
        apply_edits(copy / kust_file.name, options, job.build, label=job.label)
        return kustomize.build(copy, label=job.label, environ=job.environ)


def _render_plugin(job: _SourceJob, secrets: SecretOptions, env_flag: str | None) -> list[Document]:
    from lsp_render.argocd.request import build_request
    from lsp_render.pipeline import render

    plugin = job.source.plugin
    assert plugin is not None  # noqa: S101 - source_kind said plugin
    # What Argo CD substitutes in plugin.env: its build variables and KUBE_*, never
    # the sidecar's own environment (which holds Vault settings).
    visible = dict(job.build)
    visible["KUBE_VERSION"] = job.environ.get("KUBE_VERSION", "")
    visible["KUBE_API_VERSIONS"] = job.environ.get("KUBE_API_VERSIONS", "")
    sidecar: dict[str, str] = {**job.environ, **visible}
    for name, value in plugin.env:
        sidecar[f"ARGOCD_ENV_{name}"] = envsubst(value, visible)
    # Argo CD always sets it for a plugin source: Go marshals no parameters as null.
    sidecar["ARGOCD_APP_PARAMETERS"] = (
        plugin_parameters_json(plugin.parameters) if plugin.parameters else "null"
    )
    request = build_request(
        job.app_path, environ=sidecar, env=env_flag, secrets=secrets, repo_root=job.repo_root
    )
    return render(request)


_MAX_OVERRIDE_BYTES = 1 << 20


def _overridden(source: Source, app_path: Path, repo_root: Path, app_name: str) -> Source:
    """Apply ``.argocd-source.yaml`` and ``.argocd-source-<app>.yaml`` of the source path."""
    import yaml

    from lsp_render.core.yamlfile import check_alias_expansion

    patches: list[tuple[str, object]] = []
    for name in (".argocd-source.yaml", f".argocd-source-{app_name}.yaml"):
        path = app_path / name
        if not path.is_file():
            continue
        shown = f"{source.path}/{name}"
        if not inside(repo_root, path) or path.stat().st_size > _MAX_OVERRIDE_BYTES:
            msg = f"{shown}: leaves the repository or is larger than 1 MiB"
            raise InputError(msg)
        text = path.read_text(encoding="utf-8", errors="replace")
        check_alias_expansion(text, label=shown)
        try:
            patches.append((shown, yaml.safe_load(text)))
        except yaml.YAMLError:
            msg = f"{shown}: not valid YAML"
            raise InputError(msg) from None
    if not patches:
        return source
    from lsp_render.argocd.application import with_overrides

    return with_overrides(source, patches, app_name)


def render_application(
    app: Application,
    repo_root: Path,
    *,
    environ: Mapping[str, str],
    secrets: SecretOptions,
    revision: str = "",
    env: str | None = None,
) -> list[Document]:
    """Render every source of ``app`` and return the documents, in source order.

    Parameters
    ----------
    app
        The Application (already checked to point into this repository).
    repo_root
        The repository root (absolute, resolved).
    environ
        The process environment (``KUBE_VERSION``, ``KUBE_API_VERSIONS``, engines,
        Vault settings for plugin sources); no per-application Argo CD variable.
    secrets
        Secret backend options for plugin sources.
    revision
        ``ARGOCD_APP_REVISION`` (the commit, when known).
    env
        An environment that wins over the Application's for ``lsp-render``
        plugin sources (``render --application FILE --env ENV``).

    Raises
    ------
    LspRenderError
        The first source that fails.
    """
    docs: list[Document] = []
    label = f"Application {app.name}"
    for declared in app.sources:
        if declared.ref_only:
            continue
        if declared.path is None:
            msg = f"{label}: a source without path (a Helm repository chart) cannot render here"
            raise InputError(msg)
        app_path = _source_dir(repo_root, declared.path, label)
        source = _overridden(declared, app_path, repo_root, app.name)
        job = _SourceJob(
            app, source, app_path, repo_root, build_env(app, source, revision), environ
        )
        kind = source_kind(source, app_path)
        if kind == "plugin":
            found = _render_plugin(job, secrets, env)
        elif kind == "helm":
            found = _render_helm(job)
        elif kind == "kustomize":
            found = _render_kustomize(job)
        else:
            from lsp_render.config.app import PlainConfig
            from lsp_render.sources.plain import load_plain

            plain = PlainConfig(recursive=True) if source.recurse else None
            found = load_plain(app_path, repo_root, plain, label=declared.path.strip("/"))
        docs.extend(doc for doc in found if not is_blank(doc.text))
    return docs


def plugin_names(app: Application) -> Sequence[str]:
    """Name the plugins an Application's sources use (for skipping other plugins)."""
    return [s.plugin.name for s in app.sources if s.plugin is not None]
