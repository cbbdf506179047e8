"""The inputs of a Helm render: chart, release, namespace, value files, values and ``--set``.

The precedence rules (flags > plugin parameters > ``lsp-render.yaml`` > the Argo CD
environment > ``lsp-render-repo.yaml`` > defaults) live here, shared by ``render`` and
``lsp-render parameters``, so what the UI announces is what a render uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import InputError
from lsp_render.core.paths import CONFIG_FILE, resolve_inside

if TYPE_CHECKING:
    from lsp_render.config.app import HelmConfig, SecretsConfig
    from lsp_render.config.repo import RepoConfig
    from lsp_render.core.context import RenderRequest
    from lsp_render.pipeline import RenderPlan
    from lsp_render.sources.helm import HelmInputs

__all__ = ["helm_inputs", "helm_release", "helm_value_files"]


@dataclass(frozen=True)
class _HelmDefaults:
    """``HelmConfig()`` for Helm apps without ``lsp-render.yaml`` (kept equal by a test)."""

    chart: str = "."
    repo: str | None = None
    name: str | None = None
    version: str | None = None
    release_name: str | None = None
    namespace: str | None = None
    value_files: list[str] | None = None
    ignore_missing_value_files: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)
    include_crds: bool = True
    skip_tests: bool = False
    kube_version: str | None = None
    api_versions: list[str] | None = None


def helm_inputs(
    request: RenderRequest,
    the_plan: RenderPlan,
    *,
    secret_texts: set[str] | None = None,
    resolve_secrets: bool = True,
    shielded: set[str] | None = None,
) -> HelmInputs:
    """Decide every input of the Helm render (flags > parameters > config > environment).

    Parameters
    ----------
    request, the_plan
        The render and its plan.
    secret_texts
        Receives every value string that came from a secret (``resolveInValues``),
        so that error messages can be scrubbed of them.
    shielded
        Receives every string a secret put into the values (``resolveInValues``),
        which the final substitution must not scan again.
    resolve_secrets
        Resolve placeholders in values when the config asks for it (``init``
        needs only the chart and passes False: no Vault traffic).
    """
    from lsp_render.sources.helm import HelmInputs

    config = the_plan.config
    section = config.helm if config is not None else None
    helm: HelmConfig | _HelmDefaults = section if section is not None else _HelmDefaults()
    where = f"{request.label}/{CONFIG_FILE}"
    chart_root = request.repo_root
    if helm.repo is not None or helm.name is not None or helm.version is not None:
        from lsp_render.sources.helm.remote import fetch_remote_chart

        chart_dir = fetch_remote_chart(helm, where=where, environ=request.environ)
        chart_root = chart_dir  # an unpacked archive: nothing of it may point outside it
    else:
        chart_dir = resolve_inside(
            request.repo_root, request.app_dir, helm.chart, what=f"{where}: helm.chart"
        )
    if not (chart_dir / "Chart.yaml").is_file():
        msg = f"{request.label}: no Chart.yaml in chart directory '{helm.chart}'"
        raise InputError(msg)
    value_files = _value_files(request, helm, chart_dir)
    sets: list[str] = []
    if the_plan.repo_config is not None and request.env is not None:
        from lsp_render.config.repo import helm_set_args

        sets.extend(helm_set_args(the_plan.repo_config, request.app_dir, the_plan.context))
    if helm.set or request.params.helm_parameters:
        from lsp_render.config.setargs import format_set

        sets.extend(format_set(k, v) for k, v in helm.set.items())
        sets.extend(format_set(k, v) for k, v in request.params.helm_parameters)
    sets.extend(request.set_values)
    kube_version = _kube_version(request, helm, the_plan.repo_config)
    api_versions = request.api_versions if request.api_versions_from_flag else ()
    if not api_versions:
        api_versions = tuple(helm.api_versions) if helm.api_versions else request.api_versions
    release_name, namespace = helm_release(request, the_plan)
    values: dict[str, Any] = dict(helm.values)
    files: tuple[Path, ...] = tuple(value_files)
    if config is not None and config.secrets.resolve_in_values and resolve_secrets:
        values, resolved, written = _resolved_values(
            request, value_files, values, chart_dir, chart_root, config=config.secrets
        )
        if secret_texts is not None:
            secret_texts.update(resolved)
        if shielded is not None:
            shielded.update(written)
        files = ()
    return HelmInputs(
        chart_dir=chart_dir,
        repo_root=chart_root,
        release_name=release_name,
        namespace=namespace,
        value_files=files,
        values=values,
        set_values=tuple(sets),
        include_crds=helm.include_crds,
        skip_tests=helm.skip_tests,
        kube_version=kube_version,
        api_versions=tuple(api_versions),
    )


def helm_release(request: RenderRequest, the_plan: RenderPlan) -> tuple[str, str]:
    """Return the release name and namespace a Helm render of ``the_plan`` uses.

    Release name: ``--release-name`` > parameter ``release-name`` > ``helm.releaseName``
    > ``lsp-render-repo.yaml`` > the app's name. Namespace: ``--namespace`` >
    parameter ``namespace`` > ``helm.namespace`` > ``ARGOCD_APP_NAMESPACE`` >
    ``lsp-render-repo.yaml`` > ``default``. ``lsp-render parameters`` announces
    the same.
    """
    config = the_plan.config
    helm = config.helm if config is not None and config.helm is not None else _HelmDefaults()
    repo_release, repo_namespace = None, None
    if the_plan.repo_config is not None:
        from lsp_render.config.repo import helm_identity

        repo_release, repo_namespace = helm_identity(
            the_plan.repo_config, request.app_dir, the_plan.context
        )
    release_name = (
        request.release_name
        or request.params.release_name
        or helm.release_name
        or repo_release
        or request.app.name
    )
    namespace = (
        request.namespace
        or request.params.namespace
        or helm.namespace
        or request.app.namespace
        or repo_namespace
        or "default"
    )
    return release_name, namespace


def helm_value_files(request: RenderRequest, the_plan: RenderPlan) -> list[Path]:
    """Return the value files a Helm render of ``the_plan`` reads, in order (no chart fetched).

    ``lsp-render parameters`` announces exactly these.

    Raises
    ------
    InputError
        When a value file is missing, not a regular file, or leaves the repository.
    """
    config = the_plan.config
    helm = config.helm if config is not None and config.helm is not None else _HelmDefaults()
    chart_dir = None
    if helm.repo is None and helm.name is None and helm.version is None:
        chart_dir = resolve_inside(
            request.repo_root,
            request.app_dir,
            helm.chart,
            what=f"{request.label}/{CONFIG_FILE}: helm.chart",
        )
    return _value_files(request, helm, chart_dir)


def _kube_version(
    request: RenderRequest, helm: HelmConfig | _HelmDefaults, repo_config: RepoConfig | None
) -> str:
    """Pick ``.Capabilities.KubeVersion``: one answer whatever the engine (README: kube version).

    ``--kube-version`` > ``helm.kubeVersion`` of ``lsp-render.yaml`` > ``KUBE_VERSION``
    (Argo CD sends the cluster's) > ``helm.kubeVersion`` of ``lsp-render-repo.yaml``
    > :data:`~lsp_render.sources.helm.capabilities.DEFAULT_KUBE_VERSION`.
    """
    from lsp_render.sources.helm.capabilities import DEFAULT_KUBE_VERSION

    if request.kube_version_from_flag and request.kube_version:
        return request.kube_version
    repo_default = None
    if repo_config is not None and repo_config.covers(request.app_dir):
        repo_default = repo_config.kube_version
    return helm.kube_version or request.kube_version or repo_default or DEFAULT_KUBE_VERSION


def _value_files(
    request: RenderRequest, helm: HelmConfig | _HelmDefaults, chart_dir: Path | None
) -> list[Path]:
    app_dir = request.app_dir
    if request.params.values_files:
        names = list(request.params.values_files)
        origin = "plugin parameter values-files"
    elif helm.value_files is not None:
        names = list(helm.value_files)
        origin = f"{request.label}/{CONFIG_FILE}: helm.valueFiles"
    elif request.env:
        names = ["values.yaml", f"values-{request.env}.yaml"]
        origin = f"environment '{request.env}'"
    else:
        has_own = (app_dir / "values.yaml").is_file() and chart_dir != app_dir
        names = ["values.yaml"] if has_own else []
        origin = "default value files"
    paths: list[Path] = []
    for name in names:
        path = resolve_inside(request.repo_root, app_dir, name, what=origin)
        if not path.exists() and helm.ignore_missing_value_files:
            continue
        paths.append(_regular_file(path, _rel(path, request.repo_root), origin, request.label))
    paths.extend(
        _regular_file(Path(name).resolve(), name, "--values", request.label)
        for name in request.value_files
    )
    return paths


def _regular_file(path: Path, shown: str, origin: str, label: str) -> Path:
    """Insist on an existing regular file (a FIFO or a device would hang or never end)."""
    if not path.exists():
        msg = f"{label}: value file '{shown}' ({origin}) does not exist"
        raise InputError(msg)
    if not path.is_file():
        msg = f"{label}: value file '{shown}' ({origin}) is not a regular file"
        raise InputError(msg)
    return path


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _resolved_values(
    request: RenderRequest,
    value_files: list[Path],
    inline: dict[str, Any],
    chart_dir: Path,
    chart_root: Path,
    *,
    config: SecretsConfig,
) -> tuple[dict[str, Any], set[str], set[str]]:
    """Resolve placeholders in the merged values (the chart's own defaults included).

    Also return the strings that changed and the strings the secrets wrote.
    """
    from lsp_render import secrets
    from lsp_render.secrets.recorder import leaf_strings, recording
    from lsp_render.secrets.values import placeholder_overlay
    from lsp_render.sources.helm.values import load_values_file, merge_values

    merged: dict[str, Any] = {}
    own = chart_dir / "values.yaml"
    if own.is_file() and own.resolve() not in {path.resolve() for path in value_files}:
        # The chart's own defaults: Helm reads them itself, so the parts holding
        # placeholders go under the user's values, resolved (nothing is written).
        own = resolve_inside(chart_root, chart_dir, "values.yaml", what=f"{request.label}: chart")
        overlay = placeholder_overlay(load_values_file(own, label=_rel(own, request.repo_root)))
        if isinstance(overlay, dict):
            merged = overlay
    for path in value_files:
        merged = merge_values(merged, load_values_file(path, label=_rel(path, request.repo_root)))
    merged = merge_values(merged, inline)
    written: set[str] = set()
    with recording() as seen:
        resolved = secrets.resolve_values(
            merged,
            request,
            source=f"{request.label} (Helm values)",
            written=written,
            config=config,
        )
    changed: set[str] = set()
    _changed_strings(merged, resolved, changed)
    changed.update(text for text in written if len(text) >= 3)
    # The values themselves too: a template may print a part of a longer resolved string.
    changed |= {text for text in leaf_strings(seen) if len(text) >= 3}
    return resolved, changed, written


def _changed_strings(before: Any, after: Any, out: set[str]) -> None:
    if isinstance(after, dict):
        for key, value in after.items():
            _changed_strings(before.get(key) if isinstance(before, dict) else None, value, out)
    elif isinstance(after, list):
        old = before if isinstance(before, list) else []
        for i, value in enumerate(after):
            _changed_strings(old[i] if i < len(old) else None, value, out)
    elif after != before and after is not None and not isinstance(after, bool):
        text = str(after)
        if len(text) >= 3:  # shorter ones would scrub ordinary words from messages
            out.add(text)
