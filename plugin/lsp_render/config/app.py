"""``lsp-render.yaml``: the per-application configuration (SPEC section 4).

Loaded with the line of every key, templated with Jinja2 in the sandbox, then
validated strictly: unknown keys, wrong types and paths that leave the
repository are errors naming the file, the key and the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from lsp_render.config.setargs import ScalarValue
from lsp_render.config.templating import render_template
from lsp_render.core.errors import InputError
from lsp_render.core.paths import CONFIG_FILE, inside
from lsp_render.core.yamlfile import LoadedYaml, load_yaml_file

__all__ = [
    "CONFIG_FILE",
    "AppConfig",
    "HelmConfig",
    "KustomizeConfig",
    "PlainConfig",
    "SecretsConfig",
    "load_app_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        strict=True,
        frozen=True,
    )


class HelmConfig(_Model):
    """The ``helm`` section: what Helm renders and with which inputs."""

    chart: str = Field(".", description="Local chart directory, relative to the app directory.")
    repo: str | None = Field(None, description="Remote chart repository (https:// or oci://).")
    name: str | None = Field(None, description="Chart name in the remote repository.")
    version: str | None = Field(None, description="Chart version in the remote repository.")
    release_name: str | None = Field(None, description="Release name; default ARGOCD_APP_NAME.")
    namespace: str | None = Field(None, description="Namespace; default ARGOCD_APP_NAMESPACE.")
    value_files: list[str] | None = Field(None, description="Value files, in order.")
    ignore_missing_value_files: bool = Field(False, description="Skip value files that are absent.")
    values: dict[str, Any] = Field(default_factory=dict, description="Inline values.")
    set: dict[str, ScalarValue] = Field(default_factory=dict, description="--set parameters.")
    include_crds: bool = Field(
        True, alias="includeCRDs", description="Render the chart's crds/ directory."
    )
    skip_tests: bool = Field(False, description="Leave out test hooks.")
    kube_version: str | None = Field(None, description="Kubernetes version; default KUBE_VERSION.")
    api_versions: list[str] | None = Field(
        None, description="API versions; default KUBE_API_VERSIONS."
    )


class KustomizeConfig(_Model):
    """The ``kustomize`` section: where the (last-mile) kustomization lives."""

    path: str = Field(".", description="Directory of the kustomization, relative to the app.")
    enable_helm: bool = Field(
        False,
        description="Inflate helmCharts: (kustomize --enable-helm) with the helm binary, "
        "else lsp-render's embedded engine.",
    )


class PlainConfig(_Model):
    """The ``plain`` section: which manifest files a plain app holds."""

    recursive: bool = Field(False, description="Also read manifests in subdirectories.")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of files to skip.")


class SecretsConfig(_Model):
    """The ``secrets`` section."""

    resolve_in_values: bool = Field(
        False, description="Resolve placeholders in Helm values before rendering."
    )
    delivery: Literal["inline", "external-secrets", "vault-secrets-operator", "vault-secret"] = (
        Field(
            "inline",
            description="How secrets reach the cluster: substituted in the manifests (inline) or "
            "by an operator from each Secret turned into its custom resource.",
        )
    )
    secret_stores: dict[str, str] = Field(
        default_factory=dict,
        description="Vault mount to External Secrets store name (delivery: external-secrets).",
    )
    secret_store_kind: Literal["ClusterSecretStore", "SecretStore"] = Field(
        "ClusterSecretStore", description="Kind of the External Secrets stores."
    )


class AppConfig(_Model):
    """A whole ``lsp-render.yaml``."""

    kind: Literal["helm", "kustomize", "plain", "hybrid"] | None = Field(
        None, description="Force the application kind instead of detecting it."
    )
    helm: HelmConfig | None = None
    kustomize: KustomizeConfig | None = None
    plain: PlainConfig | None = None
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    allow_empty: bool = Field(
        False,
        description="Accept a render without any object (else it fails: Argo CD would prune).",
    )


def load_app_config(
    app_dir: Path, repo_root: Path, context: Mapping[str, Any], *, label: str
) -> AppConfig | None:
    """Load, template and validate ``lsp-render.yaml`` from ``app_dir`` if it exists.

    Parameters
    ----------
    app_dir, repo_root
        Absolute, resolved directories; every path in the file must stay in
        ``repo_root``.
    context
        The Jinja2 context (``app``, ``env``, ``kube_version``, ``params``, ``envdata``).
    label
        How messages name the file (its path relative to the repository).

    Raises
    ------
    InputError
        For malformed YAML, unknown keys, wrong types, template errors and paths
        that leave the repository.
    """
    path = app_dir / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if not inside(repo_root, path):
        msg = f"{label}: symlink leaves the repository"
        raise InputError(msg)
    loaded = load_yaml_file(path, label=label)
    raw = loaded.data
    if raw is None:
        return AppConfig()
    if not isinstance(raw, dict):
        msg = f"{label}: must be a mapping of sections (helm, kustomize, plain, secrets)"
        raise InputError(msg)
    templated = _render(raw, (), context, loaded)
    try:
        config = AppConfig.model_validate(templated)
    except ValidationError as exc:
        raise InputError(_describe(exc, loaded)) from None
    _check_paths(config, app_dir, repo_root, loaded)
    return config


def _render(
    value: Any, loc: tuple[str | int, ...], context: Mapping[str, Any], loaded: LoadedYaml
) -> Any:
    """Render the Jinja2 in every string, naming ``file:line: key`` in template errors."""
    if isinstance(value, str):
        return render_template(value, context, where=loaded.where(loc))
    if isinstance(value, dict):
        return {k: _render(v, (*loc, str(k)), context, loaded) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, (*loc, i), context, loaded) for i, v in enumerate(value)]
    return value


def _describe(exc: ValidationError, loaded: LoadedYaml) -> str:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{loaded.where(loc)}: unknown key"
    return f"{loaded.where(loc)}: {error['msg']}"


def _check_paths(config: AppConfig, app_dir: Path, repo_root: Path, loaded: LoadedYaml) -> None:
    checks: list[tuple[tuple[str | int, ...], str]] = []
    if config.helm is not None:
        checks.append((("helm", "chart"), config.helm.chart))
        for i, name in enumerate(config.helm.value_files or []):
            checks.append((("helm", "valueFiles", i), name))
    if config.kustomize is not None:
        checks.append((("kustomize", "path"), config.kustomize.path))
    for loc, rel in checks:
        if not inside(repo_root, app_dir / rel):
            msg = f"{loaded.where(loc)}: path '{rel}' leaves the repository"
            raise InputError(msg)
