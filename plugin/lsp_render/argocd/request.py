"""Build a :class:`RenderRequest` from flags and the environment (Argo CD's or a laptop's)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lsp_render.argocd.env import app_info, env_name, kube_api_versions, plugin_params
from lsp_render.core.context import RenderRequest, SecretOptions
from lsp_render.core.errors import InputError
from lsp_render.core.paths import find_repo_root

__all__ = ["build_request"]

# An environment name becomes part of file names (values-ENV.yaml, data files).
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


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
    try:
        is_dir = app_dir.is_dir()
    except OSError as exc:  # a name too long, a directory we may not search
        msg = f"{app_dir}: cannot read the application directory: {exc.strerror}"
        raise InputError(msg) from None
    if not is_dir:
        msg = f"{app_dir}: no such application directory"
        raise InputError(msg)
    resolved = app_dir.resolve()
    if repo_root is not None:
        root = repo_root.resolve()
    else:
        # Found from the path as given, so an app directory that is a symlink cannot
        # take the repository root along with it to wherever it points.
        lexical = Path(os.path.abspath(app_dir))  # noqa: PTH100 - symlinks not followed
        root = find_repo_root(lexical, environ).resolve()
    if not resolved.is_relative_to(root):
        msg = f"{app_dir}: the application directory leaves the repository {root}"
        raise InputError(msg)
    params = plugin_params(environ)
    versions: list[str] = []
    for item in api_versions:
        versions.extend(part.strip() for part in item.split(",") if part.strip())
    environment = env_name(environ, params, env)
    if environment is not None and not _ENV_NAME.match(environment):
        msg = (
            f"environment name '{environment}' is not allowed: at most 63 letters, digits, "
            "'.', '_' and '-', starting with a letter or digit"
        )
        raise InputError(msg)
    return RenderRequest(
        app_dir=resolved,
        repo_root=root,
        app=app_info(environ, resolved),
        env=environment,
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
