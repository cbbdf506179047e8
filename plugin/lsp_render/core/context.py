"""What a render knows: flags, the Argo CD environment and the app's location (pure data).

Everything here is immutable and built once per render by ``cli.py`` (or by
render-all and diff); every later stage reads it and none changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AppInfo",
    "PluginParams",
    "RenderRequest",
    "SecretOptions",
]


@dataclass(frozen=True, slots=True)
class AppInfo:
    """The Argo CD application, as the Jinja2 context exposes it under ``app``.

    Attributes
    ----------
    name
        ``ARGOCD_APP_NAME``, else the app directory's name.
    namespace
        ``ARGOCD_APP_NAMESPACE`` (the destination namespace), else ``""``.
    project
        ``ARGOCD_APP_PROJECT_NAME``, else ``""``.
    revision
        ``ARGOCD_APP_REVISION``, else ``""``.
    """

    name: str
    namespace: str = ""
    project: str = ""
    revision: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the mapping templates see as ``app``."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "project": self.project,
            "revision": self.revision,
        }


@dataclass(frozen=True, slots=True)
class PluginParams:
    """Argo CD plugin parameters (``ARGOCD_APP_PARAMETERS``) that lsp-render honours.

    Attributes
    ----------
    env
        Parameter ``env`` (string).
    values_files
        Parameter ``values-files`` (array), in order.
    helm_parameters
        Parameter ``helm-parameters`` (map), as ``(key, value)`` pairs in the
        order Argo CD sent them; applied with ``--set`` semantics.
    release_name
        Parameter ``release-name`` (string).
    namespace
        Parameter ``namespace`` (string).
    raw
        Every parameter by name, for templates (``params``): a string, a list or
        a mapping.
    """

    env: str | None = None
    values_files: tuple[str, ...] = ()
    helm_parameters: tuple[tuple[str, str], ...] = ()
    release_name: str | None = None
    namespace: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SecretOptions:
    """How placeholders are resolved.

    Attributes
    ----------
    secrets_file
        ``--secrets-file``: the file backend's YAML file.
    no_secrets
        ``--no-secrets``: leave placeholders as they are.
    mask_secrets
        ``--mask-secrets``: resolve, but print masked values.
    """

    secrets_file: Path | None = None
    no_secrets: bool = False
    mask_secrets: bool = False


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """Everything one render of one application needs to know.

    Attributes
    ----------
    app_dir
        Absolute, resolved application directory.
    repo_root
        Absolute, resolved repository root; nothing outside it is ever read.
    app
        The Argo CD application (``app.*`` in templates).
    env
        The environment (``--env``, parameter ``env``, ``ARGOCD_ENV_ENV``).
    kube_version
        Target Kubernetes version (``--kube-version``, else ``KUBE_VERSION``).
    api_versions
        Extra API versions (``--api-versions``, else ``KUBE_API_VERSIONS``).
    params
        Argo CD plugin parameters.
    release_name, namespace
        Command-line overrides (win over config and parameters).
    value_files
        ``-f/--values`` from the command line, relative to the app directory.
    set_values
        ``--set`` from the command line, in order.
    secrets
        Secret backend options.
    environ
        The process environment of the sidecar (or the laptop). Vault settings
        and the policy come from here, never from ``ARGOCD_ENV_*``.
    verbose
        ``--verbose``: more detail on stderr (never a secret value).
    kube_version_from_flag, api_versions_from_flag
        Whether those came from the command line (which beats ``lsp-render.yaml``)
        rather than from Argo CD's environment (which it beats).
    """

    app_dir: Path
    repo_root: Path
    app: AppInfo
    env: str | None = None
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    params: PluginParams = field(default_factory=PluginParams)
    release_name: str | None = None
    namespace: str | None = None
    value_files: tuple[str, ...] = ()
    set_values: tuple[str, ...] = ()
    secrets: SecretOptions = field(default_factory=SecretOptions)
    environ: Mapping[str, str] = field(default_factory=dict)
    verbose: bool = False
    kube_version_from_flag: bool = False
    api_versions_from_flag: bool = False

    @property
    def label(self) -> str:
        """Name the app in messages: its path relative to the repository root."""
        try:
            rel = self.app_dir.relative_to(self.repo_root)
        except ValueError:
            return str(self.app_dir)
        return str(rel) if str(rel) != "." else self.app_dir.name
