"""``render-all --changed-since REV``: keep only the pairs whose inputs changed.

The changed files are those ``git diff`` finds between REV (its merge base with
``HEAD``, as a pull request sees it) and the working tree (committed, staged and
unstaged changes), plus untracked files. A pair's inputs are:

- every file under its application directory (each source path of an Application);
- local charts reached through ``file://`` dependencies, transitively, and the
  chart ``lsp-render.yaml`` names with ``helm.chart``;
- Kustomize bases and components outside the application, transitively;
- ``lsp-render-repo.yaml`` (every pair) and the environment's data file (that
  environment's pairs);
- with ``--from-applications``: the app-of-apps chart (``values-<env>.yaml`` only
  for that environment), and value files an Application takes from outside its
  source path.

A pair whose inputs cannot all be known (a file that does not parse, a path built
from variables or templates) is included whenever anything changed, and said so.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core.errors import InputError
from lsp_render.core.paths import REPO_CONFIG_FILE
from lsp_render.detect import kustomization_file
from lsp_render.workflows.discovery import Pair

__all__ = ["ChangeSelection", "Inputs", "changed_files", "pair_inputs", "select_changed"]

_GIT_TIMEOUT = 120
_KUSTOMIZE_DIRS = ("resources", "bases", "components")


@dataclass
class Inputs:
    """What one pair reads: directories (any file below), single files, and what is unknown.

    ``ignored`` holds the other environments' ``values-<env>.yaml`` of the app
    directory, which the pair's render does not read.
    """

    dirs: set[Path] = field(default_factory=set)
    files: set[Path] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)

    ignored: set[Path] = field(default_factory=set)

    def touched_by(self, changed: Iterable[Path]) -> list[Path]:
        """Return the changed files among these inputs."""
        out = []
        for path in changed:
            if path in self.ignored:
                continue
            if path in self.files or any(path == d or d in path.parents for d in self.dirs):
                out.append(path)
        return out


@dataclass(frozen=True)
class ChangeSelection:
    """The outcome of ``--changed-since``: the pairs to render and what to tell the user."""

    pairs: tuple[Pair, ...]
    notes: tuple[str, ...]


def _git(args: Sequence[str], cwd: Path, environ: Mapping[str, str]) -> str:
    git = shutil.which("git", path=environ.get("PATH"))
    if git is None:
        msg = "git is not installed (needed for --changed-since)"
        raise InputError(msg)
    env = {k: v for k, v in environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            [git, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"git {args[0]} failed: {exc}"
        raise InputError(msg) from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        msg = f"--changed-since: git {args[0]}: {lines[-1] if lines else 'failed'}"
        raise InputError(msg)
    return done.stdout


def changed_files(
    repo_root: Path, revision: str, environ: Mapping[str, str]
) -> tuple[set[Path], str]:
    """List the files changed since ``revision`` (its merge base with HEAD), working tree included.

    Returns
    -------
    tuple
        The changed paths (absolute; deleted and renamed-away files included) and
        the commit they are compared with.

    Raises
    ------
    InputError
        Not a git work tree, or an unknown revision.
    """
    if revision.startswith("-"):
        msg = f"--changed-since {revision}: not a revision"
        raise InputError(msg)
    top = Path(_git(["rev-parse", "--show-toplevel"], repo_root, environ).strip()).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], top, environ)
    base = commit.strip()
    with contextlib.suppress(InputError):  # no common history: compare with the revision
        base = _git(["merge-base", base, "HEAD"], top, environ).strip() or base
    listed = _git(["diff", "--name-only", "--no-renames", "-z", base, "--"], top, environ)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], top, environ)
    names = [n for n in (listed + untracked).split("\0") if n]
    return {top / name for name in names}, base


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return _BAD


_BAD = object()


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _add_chart(chart: Path, repo_root: Path, inputs: Inputs, seen: set[Path]) -> None:
    """Add a local chart and, transitively, its ``file://`` dependencies."""
    chart = chart.resolve()
    if chart in seen:
        return
    seen.add(chart)
    inputs.dirs.add(chart)
    data = _read_yaml(chart / "Chart.yaml")
    if data is _BAD:
        inputs.unknown.append(f"{chart.relative_to(repo_root)}/Chart.yaml does not parse")
        return
    deps = data.get("dependencies") if isinstance(data, dict) else None
    for dep in deps if isinstance(deps, list) else []:
        repository = dep.get("repository") if isinstance(dep, dict) else None
        if isinstance(repository, str) and repository.startswith("file://"):
            target = (chart / repository[len("file://") :]).resolve()
            if not _inside(repo_root, target):
                inputs.unknown.append(f"a dependency of {chart.name} leaves the repository")
                continue
            _add_chart(target, repo_root, inputs, seen)


def _add_kustomization(directory: Path, repo_root: Path, inputs: Inputs, seen: set[Path]) -> None:
    """Add a kustomization directory and, transitively, its local bases and components."""
    directory = directory.resolve()
    if directory in seen:
        return
    seen.add(directory)
    inputs.dirs.add(directory)
    file = kustomization_file(directory)
    if file is None:
        return
    data = _read_yaml(file)
    if data is _BAD or not isinstance(data, dict):
        inputs.unknown.append(f"{file.relative_to(repo_root)} does not parse")
        return
    for key in _KUSTOMIZE_DIRS:
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, str) or "://" in entry or entry.startswith("git@"):
                continue
            target = (directory / entry).resolve()
            if not _inside(repo_root, target):
                continue  # refused at render time
            if target.is_dir():
                _add_kustomization(target, repo_root, inputs, seen)
            else:
                inputs.files.add(target)


def _config_path(data: dict[str, Any], section: str, key: str) -> str | None:
    part = data.get(section)
    value = part.get(key) if isinstance(part, dict) else None
    return value if isinstance(value, str) else None


def _other_env_values(app_dir: Path, env: str | None, keep: set[Path]) -> set[Path]:
    """Find the ``values-<other env>.yaml`` files of ``app_dir`` (not read for ``env``)."""
    if env is None or not app_dir.is_dir():
        return set()
    own = app_dir / f"values-{env}.yaml"
    return {
        entry
        for entry in app_dir.glob("values-*.yaml")
        if entry != own and entry.resolve() not in keep
    }


def _add_app_dir(app_dir: Path, repo_root: Path, inputs: Inputs) -> None:
    inputs.dirs.add(app_dir)
    seen: set[Path] = set()
    config = app_dir / "lsp-render.yaml"
    chart_dir, kustomize_dir = app_dir, app_dir
    if config.is_file():
        data = _read_yaml(config)
        if data is _BAD or not isinstance(data, dict):
            inputs.unknown.append(f"{config.relative_to(repo_root)} does not parse")
            return
        chart = _config_path(data, "helm", "chart")
        path = _config_path(data, "kustomize", "path")
        for key, value in (("helm.chart", chart), ("kustomize.path", path)):
            if value is not None and ("{{" in value or "{%" in value):
                inputs.unknown.append(f"{config.relative_to(repo_root)}: {key} is a template")
        if chart is not None and "{{" not in chart:
            chart_dir = (app_dir / chart).resolve()
        if path is not None and "{{" not in path:
            kustomize_dir = (app_dir / path).resolve()
    if (chart_dir / "Chart.yaml").is_file() and _inside(repo_root, chart_dir):
        _add_chart(chart_dir, repo_root, inputs, seen)
    if kustomization_file(kustomize_dir) is not None and _inside(repo_root, kustomize_dir):
        _add_kustomization(kustomize_dir, repo_root, inputs, seen)


def _add_repo_config(
    pair: Pair, repo_root: Path, inputs: Inputs, environ: Mapping[str, str]
) -> None:
    from lsp_render.config.repo import find_repo_config
    from lsp_render.config.templating import render_template

    for directory in (pair.app_dir, *pair.app_dir.parents):
        if (directory / REPO_CONFIG_FILE).is_file():
            inputs.files.add(directory / REPO_CONFIG_FILE)
            break
        if directory == repo_root:
            break
    try:
        config = find_repo_config(pair.app_dir, repo_root)
    except InputError:
        inputs.unknown.append(f"{REPO_CONFIG_FILE} does not load")
        return
    if config is None or pair.env is None:
        return
    from lsp_render.argocd.request import build_request
    from lsp_render.pipeline import template_context

    try:
        context = template_context(build_request(pair.app_dir, environ=environ, env=pair.env))
        for template in config.data_files:
            rel = render_template(template, context, where="environments.dataFile")
            inputs.files.add((config.directory / rel).resolve())
    except InputError as exc:
        inputs.unknown.append(f"the data file of {pair.env} is unknown ({exc.message})")


def _value_files(source: Any) -> tuple[str, ...]:
    return tuple(source.helm.value_files) if source.helm is not None else ()


def _add_application(pair: Pair, repo_root: Path, inputs: Inputs) -> None:
    app = pair.application
    assert app is not None  # noqa: S101 - called for Application pairs
    refs = {f"${s.ref}" for s in app.sources if s.ref}
    for source in app.sources:
        if source.ref_only or source.path is None:
            continue
        app_dir = (repo_root / source.path.strip("/")).resolve()
        _add_app_dir(app_dir, repo_root, inputs)
        listed: set[Path] = set()
        for raw in source.helm.value_files if source.helm is not None else ():
            head = raw.split("/", 1)[0]
            text = raw[len(head) :] if head in refs else raw
            if "$" in text or any(c in text for c in "*?["):
                inputs.unknown.append(f"value file {raw} of {app.name} is built from variables")
                continue
            base = repo_root if head in refs or text.startswith("/") else app_dir
            listed.add((base / text.lstrip("/")).resolve())
        inputs.files |= listed
        if source.plugin is None and not any("$" in f for f in _value_files(source)):
            inputs.ignored |= _other_env_values(app_dir, pair.env, listed)
        components = source.kustomize.components if source.kustomize is not None else ()
        for component in components:
            _add_kustomization(app_dir / component, repo_root, inputs, set())


def _has_value_files(config: dict[str, Any]) -> bool:
    helm = config.get("helm")
    return isinstance(helm, dict) and helm.get("valueFiles") is not None


def pair_inputs(
    pair: Pair,
    repo_root: Path,
    environ: Mapping[str, str],
    app_of_apps: Path | None = None,
) -> Inputs:
    """Collect what ``pair`` reads.

    Parameters
    ----------
    pair
        The pair.
    repo_root
        The repository root.
    environ
        The environment (to evaluate the data file's template).
    app_of_apps
        The ``--from-applications`` chart or directory, if any.
    """
    inputs = Inputs()
    if pair.application is not None:
        _add_application(pair, repo_root, inputs)
    else:
        _add_app_dir(pair.app_dir, repo_root, inputs)
        config = _read_yaml(pair.app_dir / "lsp-render.yaml")
        names_files = isinstance(config, dict) and _has_value_files(config)
        if not names_files and not pair.app_dir.joinpath("lsp-render.yaml").is_symlink():
            inputs.ignored |= _other_env_values(pair.app_dir, pair.env, set())
    _add_repo_config(pair, repo_root, inputs, environ)
    if app_of_apps is not None:
        if app_of_apps.is_dir() and (app_of_apps / "Chart.yaml").is_file():
            for entry in app_of_apps.rglob("*"):
                own = entry.parent == app_of_apps and entry.name.startswith("values-")
                if entry.is_file() and not own:
                    inputs.files.add(entry)
            if pair.env is not None:
                inputs.files.add(app_of_apps / f"values-{pair.env}.yaml")
        elif app_of_apps.is_dir():
            inputs.dirs.add(app_of_apps)
        else:
            inputs.files.add(app_of_apps)
    return inputs


def select_changed(
    pairs: Sequence[Pair],
    changed: set[Path],
    repo_root: Path,
    environ: Mapping[str, str],
    *,
    revision: str,
    app_of_apps: Path | None = None,
) -> ChangeSelection:
    """Keep the pairs whose inputs changed.

    Parameters
    ----------
    pairs
        Every pair of the run.
    changed
        The changed files (:func:`changed_files`).
    repo_root
        The repository root.
    environ
        The environment.
    revision
        The revision named by the user, for the notes.
    app_of_apps
        The ``--from-applications`` path, if any.

    Returns
    -------
    ChangeSelection
        The pairs to render, in the given order, and notes: the count, and every
        pair included only because its inputs are not fully known.
    """
    kept: list[Pair] = []
    notes: list[str] = []
    changed_resolved = {path.resolve() if path.exists() else path for path in changed}
    changed_resolved |= changed
    for pair in pairs:
        inputs = pair_inputs(pair, repo_root, environ, app_of_apps)
        if inputs.touched_by(changed_resolved):
            kept.append(pair)
        elif inputs.unknown and changed:
            kept.append(pair)
            notes.append(
                f"{pair.label}: included, its inputs are not fully known: {inputs.unknown[0]}"
            )
    notes.insert(
        0,
        f"--changed-since {revision}: {len(changed)} changed files, "
        f"{len(kept)} of {len(pairs)} pairs to render",
    )
    return ChangeSelection(tuple(kept), tuple(notes))
