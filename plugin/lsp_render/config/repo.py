"""``lsp-render-repo.yaml``: what every application of an environment receives (SPEC section 4).

Found by walking up from the application directory to the repository root.
It names the applications (globs), the per-environment data file exposed to
templates as ``envdata``, and Helm ``--set`` parameters injected into every
Helm application of an environment, the way an app-of-apps injects them.
``overrides`` add parameters for some applications only.

Application globs are path globs relative to the file's directory: ``*`` and
``?`` stay within one path segment, ``**`` spans any number of them.
``environments.dataFile`` is one file or a list of files deep-merged in order
(later files win, as Helm layers value files), so shared defaults can live in
one file and each environment's data in another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from lsp_render.config.setargs import ScalarValue, escape_set_value, format_set
from lsp_render.config.templating import render_template
from lsp_render.core.errors import InputError
from lsp_render.core.mappings import deep_merge
from lsp_render.core.paths import REPO_CONFIG_FILE, inside, resolve_inside
from lsp_render.core.yamlfile import LoadedYaml, load_yaml_file

__all__ = [
    "RepoConfig",
    "RepoConfigModel",
    "escape_set_value",
    "find_repo_config",
    "format_set",
    "glob_matches",
    "helm_identity",
    "helm_set_args",
    "load_envdata",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, strict=True, frozen=True)


class _Environments(_Model):
    data_file: str | list[str] | None = Field(
        None, description="Per-environment data file(s) (Jinja2 over env), merged in order."
    )


class _Helm(_Model):
    set: dict[str, ScalarValue] = Field(
        default_factory=dict, description="--set for every Helm app."
    )


class _RepoHelm(_Helm):
    release_name: str | None = Field(
        None, description="Release name of every Helm app (Jinja2), below the app's own."
    )
    namespace: str | None = Field(
        None,
        description="Namespace of every Helm app (Jinja2), below ARGOCD_APP_NAMESPACE.",
    )
    kube_version: str | None = Field(
        None,
        description="Kubernetes version of every Helm app, below KUBE_VERSION (local runs).",
    )


class _Override(_Model):
    applications: list[str] = Field(
        description="Globs of the application directories it applies to."
    )
    helm: _Helm = Field(default_factory=_Helm)


class RepoConfigModel(_Model):
    """A whole ``lsp-render-repo.yaml`` (the validated file, before templating)."""

    applications: list[str] = Field(default_factory=list, description="Globs of application dirs.")
    environments: _Environments = Field(default_factory=_Environments)
    helm: _RepoHelm = Field(default_factory=_RepoHelm)
    overrides: list[_Override] = Field(default_factory=list)


@dataclass(frozen=True)
class RepoConfig:
    """A loaded ``lsp-render-repo.yaml``.

    Attributes
    ----------
    directory
        The directory holding the file (application globs are relative to it).
    label
        How messages name the file.
    applications
        Globs of application directories.
    data_files
        The data file templates, merged in order (empty: no ``envdata``).
    helm_set
        Parameters for every Helm application of an environment (templates).
    overrides
        ``(globs, parameters)`` pairs for some applications only.
    release_name, namespace
        Templates for the release name and namespace of every Helm app, or None.
    kube_version
        The Kubernetes version of every Helm app when ``KUBE_VERSION`` is unset, or None.
    """

    directory: Path
    label: str
    applications: tuple[str, ...]
    data_files: tuple[str, ...]
    helm_set: Mapping[str, ScalarValue]
    overrides: tuple[tuple[tuple[str, ...], Mapping[str, ScalarValue]], ...]
    release_name: str | None = None
    namespace: str | None = None
    kube_version: str | None = None

    def covers(self, app_dir: Path) -> bool:
        """Tell whether ``app_dir`` matches the application globs (all apps without globs)."""
        if not self.applications:
            return True
        return _matches(self.directory, app_dir, self.applications)


@lru_cache(maxsize=256)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """Translate a path glob (``*``, ``?``, ``[...]``, ``**``) into a regular expression."""
    out: list[str] = []
    text = glob.strip("/")
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[" and "]" in text[i + 2 :]:
            end = text.index("]", i + 2)
            body = text[i + 1 : end]
            negate = body.startswith("!")
            body = (body[1:] if negate else body).replace("\\", "\\\\")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_matches(rel: str, globs: Iterable[str]) -> bool:
    """Tell whether the relative POSIX path ``rel`` matches one of the path ``globs``.

    Parameters
    ----------
    rel
        A path relative to the directory of ``lsp-render-repo.yaml``.
    globs
        Path globs: ``*`` and ``?`` match within one segment, ``**`` across segments.

    Returns
    -------
    bool
        Whether any glob matches the whole path.
    """
    return any(_glob_regex(glob).match(rel) is not None for glob in globs)


def _matches(base: Path, app_dir: Path, globs: tuple[str, ...] | list[str]) -> bool:
    try:
        rel = app_dir.relative_to(base).as_posix()
    except ValueError:
        return False
    return glob_matches(rel, globs)


def find_repo_config(app_dir: Path, repo_root: Path) -> RepoConfig | None:
    """Walk up from ``app_dir`` to ``repo_root`` and load the first ``lsp-render-repo.yaml``.

    Raises
    ------
    InputError
        For a malformed file (naming file, key and line).
    """
    if app_dir != repo_root and repo_root not in app_dir.parents:
        return None  # never look outside the repository
    for directory in (app_dir, *app_dir.parents):
        path = directory / REPO_CONFIG_FILE
        if path.is_file():
            return _load(path, directory, repo_root)
        if directory == repo_root:
            break
    return None


# render-all renders hundreds of pairs per process: parse each file once while it is unchanged.
_Stamp = tuple[str, int, int]
_CONFIG_CACHE: dict[tuple[_Stamp, Path, Path], RepoConfig] = {}
_DATA_CACHE: dict[tuple[tuple[_Stamp, str], ...], dict[str, Any]] = {}
_FILE_CACHE: dict[tuple[_Stamp, str], LoadedYaml] = {}
_CACHE_LIMIT = 64


def _stamp(path: Path) -> _Stamp:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _load(path: Path, directory: Path, repo_root: Path) -> RepoConfig:
    key = (_stamp(path), directory, repo_root)
    cached = _CONFIG_CACHE.get(key)
    if cached is None:
        cached = _parse(path, directory, repo_root)
        _remember(_CONFIG_CACHE, key, cached)
    return cached


def _parse(path: Path, directory: Path, repo_root: Path) -> RepoConfig:
    try:
        label = path.relative_to(repo_root).as_posix()
    except ValueError:
        label = path.name
    if not inside(repo_root, path):
        msg = f"{label}: symlink leaves the repository"
        raise InputError(msg)
    loaded = load_yaml_file(path, label=label)
    raw = loaded.data if loaded.data is not None else {}
    if not isinstance(raw, dict):
        msg = f"{label}: must be a mapping"
        raise InputError(msg)
    try:
        model = RepoConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_describe(exc, loaded)) from None
    return RepoConfig(
        directory=directory,
        label=label,
        applications=tuple(model.applications),
        data_files=_as_tuple(model.environments.data_file),
        helm_set=dict(model.helm.set),
        overrides=tuple((tuple(o.applications), dict(o.helm.set)) for o in model.overrides),
        release_name=model.helm.release_name,
        namespace=model.helm.namespace,
        kube_version=model.helm.kube_version,
    )


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _describe(exc: ValidationError, loaded: LoadedYaml) -> str:
    errors = exc.errors()
    error = errors[0]
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{loaded.where(loc)}: unknown key"
    if error["type"] != "missing":
        # Unions add their member types to the location ("dataFile.str"); keep the keys only.
        while loc and loc not in loaded.lines:
            loc = loc[:-1]
    expected = sorted({str(e["msg"]) for e in errors if tuple(e["loc"][: len(loc)]) == loc})
    return f"{loaded.where(loc)}: {' or '.join(expected) if loc else error['msg']}"


def load_envdata(
    config: RepoConfig, env: str | None, context: Mapping[str, Any], repo_root: Path
) -> dict[str, Any]:
    """Load the environment's data files (``envdata``); ``{}`` without env or data file.

    The files are parsed once per process while unchanged, and the merged
    mapping is shared between renders: treat it as read-only (templates see it
    through Jinja2's immutable sandbox).

    Raises
    ------
    InputError
        When a file is missing, leaves the repository, or is not a mapping.
    """
    if env is None or not config.data_files:
        return {}
    files: list[tuple[Path, str]] = []
    for index, template in enumerate(config.data_files):
        where = f"{config.label}: environments.dataFile"
        if len(config.data_files) > 1:
            where += f"[{index}]"
        rel = render_template(template, context, where=where)
        path = resolve_inside(repo_root, config.directory, rel, what=where)
        if not path.is_file():
            msg = f"{where}: data file '{rel}' for environment '{env}' does not exist"
            raise InputError(msg)
        files.append((path, _rel_label(path, repo_root, rel)))
    key = tuple((_stamp(path), label) for path, label in files)
    cached = _DATA_CACHE.get(key)
    if cached is not None:
        return cached
    merged: dict[str, Any] = {}
    for (stamp, label), (path, _) in zip(key, files, strict=True):
        # each file parsed once: environments/values.yaml is shared by every environment
        loaded = _FILE_CACHE.get((stamp, label))
        if loaded is None:
            loaded = load_yaml_file(path, label=label)
            _remember(_FILE_CACHE, (stamp, label), loaded)
        data = loaded.data
        if data is None:
            continue
        if not isinstance(data, dict):
            msg = f"{label}: environment data must be a mapping"
            raise InputError(msg)
        merged = deep_merge(merged, data)
    _remember(_DATA_CACHE, key, merged)
    return merged


def _rel_label(path: Path, repo_root: Path, fallback: str) -> str:
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        return fallback


def _format(key: str, value: ScalarValue, context: Mapping[str, Any], where: str) -> str:
    if isinstance(value, str):
        value = render_template(value, context, where=where)
    return format_set(key, value)


def helm_set_args(config: RepoConfig, app_dir: Path, context: Mapping[str, Any]) -> tuple[str, ...]:
    """Render the ``--set`` parameters an application of an environment receives."""
    if not config.covers(app_dir):
        return ()
    args = [
        _format(k, v, context, f"{config.label}: helm.set.{k}") for k, v in config.helm_set.items()
    ]
    for index, (globs, params) in enumerate(config.overrides):
        if _matches(config.directory, app_dir, globs):
            where = f"{config.label}: overrides[{index}].helm.set"
            args.extend(_format(k, v, context, f"{where}.{k}") for k, v in params.items())
    return tuple(args)


def helm_identity(
    config: RepoConfig, app_dir: Path, context: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """Render the repository's release-name and namespace templates for one application."""
    if not config.covers(app_dir):
        return None, None
    names: list[str | None] = []
    for key, template in (("releaseName", config.release_name), ("namespace", config.namespace)):
        where = f"{config.label}: helm.{key}"
        names.append(render_template(template, context, where=where) or None if template else None)
    return names[0], names[1]
