"""Find the (application, environment) pairs of a deployment repository.

With an ``lsp-render-repo.yaml`` the applications are the directories its
``applications`` globs match; without one, every directory under the root
that lsp-render can render, not looking inside an application. Each
application is rendered for every environment it has value files for
(:func:`lsp_render.config.environments.app_environments` says which: its
``values-<env>.yaml`` files that ``helm.valueFiles`` does not name as fixed value
files, and the files an environment-dependent ``helm.valueFiles`` entry names);
an application without any is rendered once, without environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsp_render.config.app import CONFIG_FILE
from lsp_render.config.repo import RepoConfig, find_repo_config
from lsp_render.core.errors import InputError
from lsp_render.core.paths import find_repo_root

if TYPE_CHECKING:
    from lsp_render.argocd.application import Application

__all__ = ["Pair", "default_jobs", "discover_pairs", "find_applications", "value_environments"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SNIFF_BYTES = 1 << 16
_API_VERSION = re.compile(rb"""^["']?apiVersion["']?[ \t]*:|"apiVersion"[ \t]*:""", re.MULTILINE)
_KIND = re.compile(rb"""^["']?kind["']?[ \t]*:|"kind"[ \t]*:""", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Pair:
    """One (application, environment) pair of a ``render-all`` run.

    Attributes
    ----------
    rel
        The application's path relative to the ``render-all`` root (POSIX; the
        directory's name when the root is the application itself).
    env
        The environment, or None for an application without environments.
    app_dir
        The application directory (absolute, resolved).
    application
        With ``--from-applications``: the Argo CD Application to render (``rel``
        is then its name), else None.
    repo_root
        The repository root the Application's source paths are relative to.
    """

    rel: str
    env: str | None
    app_dir: Path
    application: Application | None = field(default=None, compare=False)
    repo_root: Path | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """Name the pair in progress and summaries: ``<env>/<app>`` or ``<app>``."""
        return f"{self.env}/{self.rel}" if self.env is not None else self.rel

    @property
    def sort_key(self) -> tuple[str, str]:
        """Order pairs by environment, then application (no environment first)."""
        return (self.env or "", self.rel)

    def output_path(self, output_dir: Path) -> Path:
        """Where ``--output-dir`` puts this pair: ``DIR/<env>/<app>.yaml`` or ``DIR/<app>.yaml``."""
        base = output_dir / self.env if self.env is not None else output_dir
        return base / f"{self.rel}.yaml"


def value_environments(app_dir: Path, environ: Mapping[str, str]) -> list[str]:
    """List the environments of the application in ``app_dir``, sorted.

    Parameters
    ----------
    app_dir
        The application directory (absolute, resolved).
    environ
        The environment (for the repository root and the template context).

    Returns
    -------
    list of str
        What :func:`lsp_render.config.environments.app_environments` finds.
    """
    from lsp_render.argocd.request import build_request
    from lsp_render.config.environments import app_environments
    from lsp_render.pipeline import template_context

    try:
        request = build_request(app_dir, environ=environ)
    except InputError:
        return []  # the render of the app reports it
    return app_environments(request.app_dir, request.repo_root, template_context(request))


def _under(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _holds_objects(directory: Path) -> bool:
    """Tell whether a visible YAML/JSON file of ``directory`` holds a Kubernetes object."""
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(".") or entry.suffix not in _MANIFEST_SUFFIXES:
            continue
        if not entry.is_file():
            continue
        with entry.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if _API_VERSION.search(head) and _KIND.search(head):
            return True
    return False


def _is_application(directory: Path, environ: Mapping[str, str]) -> bool:
    """Tell whether ``directory`` is an application.

    An ``lsp-render.yaml`` always makes one; otherwise ``pipeline.plan`` must
    accept the directory, and a directory of plain manifests must hold a
    Kubernetes object in a visible file (so ``environments/`` full of value
    files, or a root holding only ``.pre-commit-config.yaml``, is not one).
    """
    if (directory / CONFIG_FILE).is_file():
        return True
    from lsp_render.argocd.request import build_request
    from lsp_render.detect import AppKind
    from lsp_render.pipeline import plan

    try:
        kind = plan(build_request(directory, environ=environ)).kind
    except InputError:
        return False
    return kind is not AppKind.PLAIN or _holds_objects(directory)


def _walk(directory: Path, environ: Mapping[str, str], exclude: Path | None) -> Iterator[Path]:
    if _is_application(directory, environ):
        yield directory
        return
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if exclude is not None and entry.resolve() == exclude:
            continue
        yield from _walk(entry, environ, exclude)


def _globbed(config: RepoConfig, root: Path, exclude: Path | None) -> list[Path]:
    found: set[Path] = set()
    for glob in config.applications:
        for match in config.directory.glob(glob.strip("/")):
            if not match.is_dir() or any(part.startswith(".") for part in match.parts):
                continue
            resolved = match.resolve()
            if exclude is not None and _under(exclude, resolved):
                continue
            if _under(root, resolved) and config.covers(resolved):
                found.add(resolved)
    return sorted(found)


def find_applications(
    root: Path, environ: Mapping[str, str], *, exclude: Path | None = None
) -> tuple[RepoConfig | None, list[Path]]:
    """Find the application directories under ``root``.

    Parameters
    ----------
    root
        The directory to search (absolute, resolved).
    environ
        The environment (for locating the repository root).
    exclude
        A directory never searched (``render-all``'s output directory).

    Returns
    -------
    tuple
        The repository configuration that applies (or None) and the application
        directories, sorted.

    Raises
    ------
    InputError
        When the repository configuration is malformed.
    """
    repo_root = find_repo_root(root, environ)
    config = find_repo_config(root, repo_root)
    if config is not None and config.applications:
        return config, _globbed(config, root, exclude)
    return config, list(_walk(root, environ, exclude))


def discover_pairs(
    root: Path,
    environ: Mapping[str, str],
    envs: Sequence[str] = (),
    *,
    exclude: Path | None = None,
) -> list[Pair]:
    """List every (application, environment) pair under ``root``.

    Parameters
    ----------
    root
        The ``render-all`` root (absolute, resolved).
    environ
        The environment.
    envs
        Restrict to these environments (applications without environment are
        then left out); empty: every environment.
    exclude
        A directory (absolute, resolved) never searched: the output directory,
        whose rendered YAML would otherwise look like plain applications.

    Returns
    -------
    list of Pair
        The pairs, in the order of :attr:`Pair.sort_key`.

    Raises
    ------
    InputError
        When the repository configuration is malformed or no application is found.
    """
    _config, apps = find_applications(root, environ, exclude=exclude)
    if not apps:
        msg = f"{root}: no application found (no directory lsp-render can render)"
        raise InputError(msg)
    wanted = set(envs)
    pairs: list[Pair] = []
    for app_dir in apps:
        rel = app_dir.relative_to(root).as_posix() if app_dir != root else app_dir.name
        app_envs = value_environments(app_dir, environ)
        if not app_envs:
            if not wanted:
                pairs.append(Pair(rel, None, app_dir))
            continue
        pairs.extend(Pair(rel, env, app_dir) for env in app_envs if not wanted or env in wanted)
    if not pairs:
        msg = (
            f"{root}: no application has a values file for environment {', '.join(sorted(wanted))}"
        )
        raise InputError(msg)
    return sorted(pairs, key=lambda pair: pair.sort_key)


def default_jobs() -> int:
    """Return the default ``--jobs``: the number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
