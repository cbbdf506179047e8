"""``render-all --from-applications``: the (Application, environment) pairs of a repository.

PATH is either an app-of-apps Helm chart, rendered once per environment with
``values.yaml`` then ``values-<env>.yaml`` (through lsp-render's own Helm
source), or a directory (or file) of Application manifests. Every
``argoproj.io/v1alpha1`` Application found there is a pair when each source it
renders lies under ROOT in this repository; the others are listed as skipped
with the reason (another repository, a path outside ROOT, a Helm repository
chart, another config-management plugin).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from lsp_render.argocd.application import (
    Application,
    is_application,
    normalize_repo_url,
    parse_application,
)
from lsp_render.core.errors import InputError
from lsp_render.core.paths import REPO_CONFIG_FILE, find_repo_root, inside
from lsp_render.workflows.appsource import PLUGIN_NAME
from lsp_render.workflows.discovery import Pair

__all__ = [
    "ApplicationPlan",
    "Skipped",
    "application_from_file",
    "git_remote_urls",
    "load_applications",
    "plan_applications",
    "select_application",
]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_MANIFEST_BYTES = 16 << 20
_AOA_RELEASE = "app-of-apps"
_AOA_NAMESPACE = "argocd"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An Application that is not rendered, and why."""

    env: str | None
    name: str
    reason: str

    @property
    def label(self) -> str:
        """``<env>/<name>`` or ``<name>``."""
        return f"{self.env}/{self.name}" if self.env is not None else self.name


@dataclass(frozen=True, slots=True)
class ApplicationPlan:
    """What ``--from-applications`` found.

    Attributes
    ----------
    pairs
        One pair per rendered (Application, environment), ``Pair.application`` set.
    skipped
        The Applications left out, with the reason.
    notes
        What the user should know (how this repository's URL was decided).
    repo_root
        The repository root that source paths are relative to.
    """

    pairs: tuple[Pair, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...]
    repo_root: Path


def git_remote_urls(repo_root: Path, environ: Mapping[str, str]) -> list[str]:
    """Return the fetch URLs of the repository's git remotes (none when not a git checkout)."""
    git = shutil.which("git", path=environ.get("PATH"))
    if git is None or not (repo_root / ".git").exists():
        return []
    try:
        done = subprocess.run(
            [git, "-C", str(repo_root), "remote", "-v"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={k: v for k, v in environ.items() if not k.startswith("GIT_")},
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    urls = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] not in urls:
            urls.append(parts[1])
    return urls


def _parse_stream(text: str, origin: str) -> list[Application]:
    from lsp_render.core.yamlfile import check_alias_expansion

    check_alias_expansion(text, label=origin)
    try:
        objects = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        msg = f"{origin}:{where} not valid YAML"
        raise InputError(msg) from None
    return [parse_application(obj, origin=origin) for obj in objects if is_application(obj)]


def _render_app_of_apps(chart: Path, repo_root: Path, env: str | None) -> list[Application]:
    from lsp_render.core.manifests import join_stream
    from lsp_render.sources.helm import HelmInputs, render_chart

    files = [chart / "values.yaml"] if (chart / "values.yaml").is_file() else []
    if env is not None:
        files.append(chart / f"values-{env}.yaml")
    inputs = HelmInputs(
        chart_dir=chart,
        repo_root=repo_root,
        release_name=_AOA_RELEASE,
        namespace=_AOA_NAMESPACE,
        value_files=tuple(files),
    )
    docs = render_chart(inputs)
    origin = f"{chart.relative_to(repo_root).as_posix() or '.'} ({env or 'no environment'})"
    return _parse_stream(join_stream(docs), origin)


def _manifest_files(path: Path, repo_root: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for candidate in sorted(path.rglob("*")):
        rel = candidate.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if candidate.suffix in _MANIFEST_SUFFIXES and candidate.is_file():
            if not inside(repo_root, candidate):
                msg = f"{candidate}: a link out of the repository"
                raise InputError(msg)
            found.append(candidate)
    return found


def load_applications(path: Path, repo_root: Path, env: str | None) -> list[Application]:
    """Read the Applications of ``path`` for one environment.

    Parameters
    ----------
    path
        An app-of-apps chart (a directory with ``Chart.yaml``), a directory of
        Application manifests, or one manifest file.
    repo_root
        The repository root (absolute, resolved); ``path`` must be inside it.
    env
        The environment (selects ``values-<env>.yaml`` of a chart).

    Returns
    -------
    list of Application
        In the order they were found.

    Raises
    ------
    InputError
        Malformed YAML or Application fields, a path out of the repository.
    RenderError
        The app-of-apps chart failed to render.
    """
    if (path / "Chart.yaml").is_file():
        return _render_app_of_apps(path, repo_root, env)
    apps: list[Application] = []
    for file in _manifest_files(path, repo_root):
        if file.stat().st_size > _MAX_MANIFEST_BYTES:
            msg = f"{file}: larger than {_MAX_MANIFEST_BYTES >> 20} MiB"
            raise InputError(msg)
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            msg = f"{file}: not UTF-8"
            raise InputError(msg) from None
        try:
            origin = file.relative_to(repo_root).as_posix()
        except ValueError:
            origin = str(file)
        apps.extend(_parse_stream(text, origin))
    return apps


def select_application(
    app: Application, root: Path, repo_root: Path, repo_urls: Sequence[str] | None
) -> str | None:
    """Tell why ``app`` is not rendered from ``root`` (None: it is).

    Parameters
    ----------
    app
        The Application.
    root
        The ``render-all`` root (absolute, resolved).
    repo_root
        The repository root.
    repo_urls
        This repository's URLs, normalised; None accepts any Git URL.
    """
    refs = {f"${s.ref}" for s in app.sources if s.ref}
    rendered = [s for s in app.sources if not s.ref_only]
    used_refs = {
        f.split("/", 1)[0]
        for s in rendered
        if s.helm is not None
        for f in s.helm.value_files
        if f.split("/", 1)[0] in refs
    }
    for source in app.sources:
        if source.ref_only and f"${source.ref}" not in used_refs:
            continue
        if repo_urls is not None and normalize_repo_url(source.repo_url) not in repo_urls:
            return f"repoURL {source.repo_url} is another repository"
    if not rendered:
        return "no source renders anything (only ref sources)"
    for source in rendered:
        if source.path is None:
            return f"source is chart {source.chart} of the Helm repository {source.repo_url}"
        candidate = repo_root / source.path.strip("/")
        if not inside(root, candidate):
            return f"source path {source.path} is not under {root}"
        if source.plugin is not None and source.plugin.name not in ("", PLUGIN_NAME):
            return f"plugin {source.plugin.name} is not {PLUGIN_NAME}"
    return None


def _environments(path: Path, envs: Sequence[str]) -> list[str | None]:
    for env in envs:
        _check_env(env, "--env")
    if not (path / "Chart.yaml").is_file():
        return list(envs) if envs else [None]
    # The app-of-apps chart's environments are its values-<env>.yaml files.
    available = sorted(f.name[len("values-") : -len(".yaml")] for f in path.glob("values-*.yaml"))
    for env in available:
        _check_env(env, f"{path}/values-{env}.yaml")
    if not envs:
        return list(available) if available else [None]
    missing = [env for env in envs if env not in available]
    if missing:
        msg = f"{path}: no values-{missing[0]}.yaml for environment {missing[0]}"
        raise InputError(msg)
    return list(envs)


# An environment names a directory of the output (as argocd/request.py insists).
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def _check_env(env: str, where: str) -> None:
    if not _ENV_NAME.match(env):
        msg = (
            f"{where}: environment name '{env[:80]}' is not allowed: at most 63 letters, "
            "digits, '.', '_' and '-', starting with a letter or digit"
        )
        raise InputError(msg)


def plan_applications(
    root: Path,
    path: Path,
    environ: Mapping[str, str],
    envs: Sequence[str] = (),
    *,
    repo_urls: Sequence[str] = (),
) -> ApplicationPlan:
    """Find every (Application, environment) pair to render from ``path``.

    Parameters
    ----------
    root
        The ``render-all`` root (absolute, resolved): only Applications whose
        sources lie under it render.
    path
        ``--from-applications``: an app-of-apps chart or a directory of manifests.
    environ
        The environment (locates the repository root; git).
    envs
        ``--env``; empty: every ``values-<env>.yaml`` of the chart.
    repo_urls
        URLs of this repository; empty: its git remotes, else any Git URL.

    Returns
    -------
    ApplicationPlan
        The pairs, the skipped Applications and notes.

    Raises
    ------
    InputError
        A path out of the repository, malformed manifests, no Application found.
    RenderError
        The app-of-apps chart failed to render.
    """
    repo_root = find_repo_root(root, environ).resolve()
    if not path.exists():
        msg = f"{path}: no such file or directory (--from-applications)"
        raise InputError(msg)
    path = path.resolve()
    if not inside(repo_root, path):
        msg = f"{path}: --from-applications must be inside the repository {repo_root}"
        raise InputError(msg)
    notes: list[str] = []
    urls = list(repo_urls) or git_remote_urls(repo_root, environ)
    accepted: list[str] | None = [normalize_repo_url(u) for u in urls] if urls else None
    if accepted is None:
        notes.append(
            "this repository's URL is unknown (no git remote, no --repo-url): "
            "every Git repoURL is taken to be this repository"
        )
    pairs: list[Pair] = []
    skipped: list[Skipped] = []
    found = 0
    for env in _environments(path, envs):
        seen: set[str] = set()
        for app in load_applications(path, repo_root, env):
            found += 1
            if app.name in seen:
                skipped.append(Skipped(env, app.name, "a second Application of the same name"))
                continue
            seen.add(app.name)
            reason = select_application(app, root, repo_root, accepted)
            if reason is not None:
                skipped.append(Skipped(env, app.name, reason))
                continue
            first = next(s for s in app.sources if not s.ref_only and s.path is not None)
            app_dir = (repo_root / str(first.path).strip("/")).resolve()
            pairs.append(Pair(app.name, env, app_dir, application=app, repo_root=repo_root))
    if not found:
        msg = f"{path}: no argoproj.io/v1alpha1 Application found"
        raise InputError(msg)
    pairs.sort(key=lambda pair: pair.sort_key)
    skipped.sort(key=lambda item: (item.env or "", item.name))
    return ApplicationPlan(tuple(pairs), tuple(skipped), tuple(notes), repo_root)


def _in_a_repository(directory: Path) -> bool:
    return any(
        (d / ".git").exists() or (d / REPO_CONFIG_FILE).is_file()
        for d in (directory, *directory.parents)
    )


def application_from_file(file: Path, environ: Mapping[str, str]) -> tuple[Application, Path]:
    """Read the one Application of ``file`` and find the repository its sources are in.

    That is the repository holding ``file``; for a file outside any repository
    (``kubectl get application -o yaml > /tmp/app.yaml``), the one holding the
    current directory.

    Raises
    ------
    InputError
        When the file holds no Application, or more than one.
    """
    file = file.resolve()
    base = file.parent if _in_a_repository(file.parent) else Path.cwd().resolve()
    repo_root = find_repo_root(base, environ).resolve()
    apps = load_applications(file, repo_root, None)
    if len(apps) != 1:
        msg = f"{file}: holds {len(apps)} Applications, not exactly one"
        raise InputError(msg)
    return apps[0], repo_root
