"""Where the repository is, and whether a path stays inside it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lsp_render.argocd.env import repo_root_from_source_path
from lsp_render.core.errors import InputError
from lsp_render.core.filenames import CONFIG_FILE, REPO_CONFIG_FILE

__all__ = ["CONFIG_FILE", "REPO_CONFIG_FILE", "find_repo_root", "inside", "resolve_inside"]


def inside(root: Path, candidate: Path) -> bool:
    """Tell whether ``candidate`` (symlinks resolved) stays inside ``root``."""
    try:
        candidate.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def resolve_inside(root: Path, base: Path, rel: str, *, what: str) -> Path:
    """Resolve ``rel`` against ``base`` and insist that it stays inside ``root``.

    Raises
    ------
    InputError
        When the path (after following symlinks) leaves ``root``.
    """
    candidate = base / rel
    if not inside(root, candidate):
        msg = f"{what}: path '{rel}' leaves the repository"
        raise InputError(msg)
    return candidate.resolve()


def find_repo_root(app_dir: Path, environ: Mapping[str, str]) -> Path:
    """Find the repository root of ``app_dir`` (absolute and resolved).

    In Argo CD the app directory ends with ``ARGOCD_APP_SOURCE_PATH`` inside the
    extracted repository (``.git`` is usually excluded from the tarball). Elsewhere
    the nearest ancestor holding ``.git`` or ``lsp-render-repo.yaml`` is the root;
    without either, the app directory itself is.
    """
    from_argocd = repo_root_from_source_path(app_dir, environ)
    if from_argocd is not None:
        return from_argocd
    for candidate in (app_dir, *app_dir.parents):
        if (candidate / ".git").exists() or (candidate / REPO_CONFIG_FILE).is_file():
            return candidate
    return app_dir
