"""Which environments an application has: the one rule ``render-all`` and ``parameters`` share.

An application's environments are

1. the ``<env>`` of every ``values-<env>.yaml`` in its directory, except a file
   that ``lsp-render.yaml`` names as a *fixed* value file (an entry of
   ``helm.valueFiles`` that reads the same in every environment, such as
   ``values-storefront.yaml``: it is applied in every environment, so it names
   none); and
2. the ``<env>`` of every file that an environment-dependent entry of
   ``helm.valueFiles`` names: the entry is templated with a probe in place of
   ``env`` and the files that fit it give the environments
   (``../helm/values-{{ env or 'dev' }}.yaml`` beside ``../helm/values-dev.yaml``
   and ``../helm/values-prod.yaml`` gives ``dev`` and ``prod``). With several
   such entries an environment must have a file for each, unless
   ``helm.ignoreMissingValueFiles`` is set.

``lsp-render-repo.yaml``'s ``environments.dataFile`` adds none: an application
is rendered only for the environments it has value files for (one deployed in
``dev`` only has no ``values-prod.yaml``, and a render for ``prod`` would fail on
the missing file). An application with no environment is rendered once, without.

Nothing outside the repository is listed, and nothing here raises on a strange
or malformed configuration: the render reports that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lsp_render.config.templating import render_template
from lsp_render.core.errors import InputError
from lsp_render.core.paths import CONFIG_FILE, inside
from lsp_render.core.yamlfile import load_yaml_file

__all__ = ["ENV_NAME", "app_environments"]

ENV_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
"""What an environment name may be (it becomes part of file names)."""

_OWN_FILE = re.compile(rf"values-({ENV_NAME})\.yaml")
# Two probes: an entry that renders the same with both does not depend on env.
_PROBES = ("lsprenderprobeaenv", "lsprenderprobebenv")


def app_environments(app_dir: Path, repo_root: Path, context: Mapping[str, Any]) -> list[str]:
    """List the environments of the application in ``app_dir``, sorted (see the module doc).

    Parameters
    ----------
    app_dir, repo_root
        The application directory and the repository root (absolute, resolved).
    context
        The Jinja2 context of a render without environment; ``env`` is replaced
        by the probes.

    Returns
    -------
    list of str
        The environment names, sorted; empty when the application has none.
    """
    helm = _helm_section(app_dir, repo_root)
    entries = helm.get("valueFiles") if helm is not None else None
    fixed: set[str] = set()
    probed: list[str] = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, str):
            continue
        first, second = (_render(entry, context, probe, index) for probe in _PROBES)
        if first is None or second is None:
            continue
        if first == second:
            fixed.add(os.path.normpath(app_dir / first))
        elif _PROBES[0] in first:
            probed.append(first)
    per_entry = [_environments_of(app_dir, repo_root, rendered, fixed) for rendered in probed]
    own = {
        match.group(1)
        for entry in _entries(app_dir)
        if (match := _OWN_FILE.fullmatch(entry.name)) is not None
        and os.path.normpath(entry) not in fixed
        and entry.is_file()
        and inside(repo_root, entry)
    }
    templated: set[str] = set()
    if per_entry:
        missing_ok = helm is not None and helm.get("ignoreMissingValueFiles") is True
        templated = set.union(*per_entry) if missing_ok else set.intersection(*per_entry)
    return sorted(own | templated)


def _entries(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def _helm_section(app_dir: Path, repo_root: Path) -> dict[str, Any] | None:
    """Read ``lsp-render.yaml``'s ``helm`` section untemplated; None when absent or malformed."""
    path = app_dir / CONFIG_FILE
    if not path.is_file() or not inside(repo_root, path):
        return None
    try:
        data = load_yaml_file(path, label=CONFIG_FILE).data
    except InputError:
        return None
    helm = data.get("helm") if isinstance(data, dict) else None
    return helm if isinstance(helm, dict) else None


def _render(entry: str, context: Mapping[str, Any], probe: str, index: int) -> str | None:
    try:
        return render_template(
            entry, {**context, "env": probe}, where=f"{CONFIG_FILE}: helm.valueFiles[{index}]"
        )
    except InputError:
        return None  # depends on more than env (envdata, params): no environments from it


def _environments_of(app_dir: Path, repo_root: Path, rendered: str, fixed: set[str]) -> set[str]:
    """Return the environments whose file exists for an entry rendered with the first probe.

    A file that is also a fixed value file (``values-common.yaml`` beside
    ``values-{{ env }}.yaml``) names no environment.
    """
    path = Path(os.path.normpath(app_dir / rendered))
    parts = path.parts
    found: set[str] = set()
    for env, candidate in _expand(Path(parts[0]), list(parts[1:]), repo_root, None):
        if (
            env is not None
            and os.path.normpath(candidate) not in fixed
            and candidate.is_file()
            and inside(repo_root, candidate)
        ):
            found.add(env)
    return found


def _expand(
    base: Path, parts: list[str], repo_root: Path, env: str | None
) -> Iterator[tuple[str | None, Path]]:
    """Yield ``(env, path)`` for every existing path the probed ``parts`` fit below ``base``."""
    if not parts:
        yield env, base
        return
    head, rest = parts[0], parts[1:]
    probe = _PROBES[0]
    if probe not in head:
        yield from _expand(base / head, rest, repo_root, env)
        return
    if env is not None:
        yield from _expand(base / head.replace(probe, env), rest, repo_root, env)
        return
    if not base.is_dir() or not inside(repo_root, base):
        return  # never list a directory outside the repository
    pieces = [re.escape(piece) for piece in head.split(probe)]
    # The first occurrence captures the name, every later one must repeat it.
    pattern = re.compile(pieces[0] + f"({ENV_NAME})" + r"\1".join(pieces[1:]))
    for entry in sorted(_entries(base)):
        match = pattern.fullmatch(entry.name)
        if match is not None:
            yield from _expand(entry, rest, repo_root, match.group(1))
