"""Build a :class:`RenderRequest` from flags and the environment (Argo CD's or a laptop's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lsp_render.argocd_env import app_info, env_name, kube_api_versions, plugin_params
from lsp_render.context import RenderRequest, SecretOptions
from lsp_render.errors import InputError
from lsp_render.paths import find_repo_root

__all__ = ["build_request"]


def build_request(
    app_dir: Path,
    *,
    environ: Mapping[str, str],
    env: str | None = None,
    release_name: str | None = None,
    namespace: str | None = None,
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    value_files: Sequence[str] = (),
    set_values: Sequence[str] = (),
    secrets: SecretOptions | None = None,
    repo_root: Path | None = None,
    verbose: bool = False,
) -> RenderRequest:
    """Resolve the app directory and merge flags with Argo CD's environment.

    Flags win over the environment; ``lsp-render.yaml`` is applied later, by
    the pipeline (flags > parameters > config > environment).

    Raises
    ------
    InputError
        When the directory does not exist or the parameters are malformed.
    """
    if not app_dir.is_dir():
        msg = f"{app_dir}: no such application directory"
        raise InputError(msg)
    resolved = app_dir.resolve()
    root = repo_root.resolve() if repo_root is not None else find_repo_root(resolved, environ)
    params = plugin_params(environ)
    versions: list[str] = []
    for item in api_versions:
        versions.extend(part.strip() for part in item.split(",") if part.strip())
    return RenderRequest(
        app_dir=resolved,
        repo_root=root,
        app=app_info(environ, resolved),
        env=env_name(environ, params, env),
        kube_version=kube_version or environ.get("KUBE_VERSION") or None,
        api_versions=tuple(versions) if versions else kube_api_versions(environ),
        params=params,
        release_name=release_name,
        namespace=namespace,
        value_files=tuple(value_files),
        set_values=tuple(set_values),
        secrets=secrets or SecretOptions(),
        environ=dict(environ),
        verbose=verbose,
        kube_version_from_flag=bool(kube_version),
        api_versions_from_flag=bool(versions),
    )
