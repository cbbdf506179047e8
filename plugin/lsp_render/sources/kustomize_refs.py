"""Every file and directory a kustomization tree names, checked before Kustomize runs.

Kustomize reads far more than ``resources``: generators' ``files`` and
``envs``, patches, replacements, ``openapi``, ``crds``, ``configurations``,
Helm values, and the plugin configurations ``generators`` and
``transformers`` name. Each reference is judged by
:func:`lsp_render.core.confine.confined_path` (inside the repository as Go
cleans it, and with symlinks resolved), and a reference that names the
network (:func:`lsp_render.core.confine.remote_host`) is refused unless the
operator's policy allows its host. Local kustomizations reached through
``resources``, ``bases``, ``components``, ``generators``, ``transformers``
and ``validators`` are walked in turn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core.confine import HostCheck, confined_path, remote_host
from lsp_render.core.errors import InputError
from lsp_render.core.paths import inside
from lsp_render.detect import kustomization_file

__all__ = ["check_tree", "read_kustomization", "shown_path"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Entries that may name another kustomization directory (walked), or a file.
_DIRECTORY_FIELDS = ("resources", "bases", "components")
# Entries that name a plugin configuration file or directory, or hold it inline.
_PLUGIN_FIELDS = ("generators", "transformers", "validators")
# Lists of file names.
_FILE_LIST_FIELDS = ("crds", "configurations", "patchesStrategicMerge")
# Lists of mappings whose ``path`` names a file.
_PATH_ITEM_FIELDS = ("patches", "patchesJson6902", "replacements")
_GENERATOR_FIELDS = ("configMapGenerator", "secretGenerator")
_HELM_FIELDS = ("helmCharts", "helmChartInflationGenerator")


class _Walk:
    def __init__(self, repo_root: Path, label: str, allow_host: HostCheck | None) -> None:
        self.root = repo_root
        self.label = label
        self.allow_host = allow_host
        self.todo: list[Path] = []
        self.reaches_network = False

    def reference(self, shown: str, field: str, base: Path, entry: str, *, walk: bool) -> None:
        """Judge one reference; queue a local kustomization directory when ``walk``."""
        text = entry.strip()
        if not text:
            return
        host = remote_host(text)
        if host is not None and not os.path.lexists(base / text):
            self.remote(shown, field, entry, host)
            return
        target, problem = confined_path(self.root, base, text)
        if problem is not None:
            msg = f"{shown}: {field} '{entry}' {problem}"
            raise InputError(msg)
        if walk and target.is_dir():
            self.todo.append(Path(os.path.realpath(target)))

    def remote(self, shown: str, field: str, entry: str, host: str) -> None:
        if host and self.allow_host is not None and self.allow_host(host):
            self.reaches_network = True
            return
        where = f"host {host}" if host else "a file:// URL"
        msg = (
            f"{self.label}: {shown}: {field} '{entry}' is a remote reference ({where}); "
            "refused: engines read only the repository "
            "(an operator may allow a host with network.allowHosts in the policy)"
        )
        raise InputError(msg)

    def generator_files(self, shown: str, field: str, base: Path, item: dict[str, Any]) -> None:
        """``files`` (``[key=]path``), ``envs`` and ``env`` of a ConfigMap/Secret generator."""
        for i, value in enumerate(_strings(item.get("files"))):
            path = value.split("=", 1)[1] if "=" in value else value
            self.reference(shown, f"{field}.files[{i}]", base, path, walk=False)
        for i, value in enumerate(_strings(item.get("envs"))):
            self.reference(shown, f"{field}.envs[{i}]", base, value, walk=False)
        env = item.get("env")
        if isinstance(env, str):
            self.reference(shown, f"{field}.env", base, env, walk=False)

    def helm_chart(self, shown: str, field: str, base: Path, item: dict[str, Any]) -> None:
        """``valuesFile``, ``additionalValuesFiles``, ``chartHome`` and a remote ``repo``."""
        for key in ("valuesFile", "chartHome", "configHome"):
            value = item.get(key)
            if isinstance(value, str):
                self.reference(shown, f"{field}.{key}", base, value, walk=False)
        for i, value in enumerate(_strings(item.get("additionalValuesFiles"))):
            self.reference(shown, f"{field}.additionalValuesFiles[{i}]", base, value, walk=False)
        repo = item.get("repo")
        if isinstance(repo, str) and repo.strip():
            host = remote_host(repo)
            if host is not None:
                self.remote(shown, f"{field}.repo", repo, host)

    def plugin_config(self, shown: str, field: str, base: Path, config: Any) -> None:
        """Check a built-in plugin's configuration: the references a kustomization has."""
        if not isinstance(config, dict):
            return
        kind = str(config.get("kind") or "")
        if kind in ("ConfigMapGenerator", "SecretGenerator"):
            self.generator_files(shown, f"{field} {kind}", base, config)
        elif kind == "HelmChartInflationGenerator":
            self.helm_chart(shown, f"{field} {kind}", base, config)
        elif isinstance(config.get("path"), str):
            self.reference(shown, f"{field} {kind}.path", base, config["path"], walk=False)

    def plugin_entry(self, shown: str, field: str, base: Path, entry: str) -> None:
        """Check a ``generators``/``transformers``/``validators`` entry (inline, file, dir)."""
        if "\n" in entry.strip() or _inline_mapping(entry) is not None:
            for config in _documents(entry):
                self.plugin_config(shown, field, base, config)
            return
        self.reference(shown, f"{field} entry", base, entry, walk=True)
        target = base / entry.strip()
        if target.is_file():
            try:
                text = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return
            for config in _documents(text):
                self.plugin_config(shown, field, base, config)

    def kustomization(self, current: Path) -> None:
        path = kustomization_file(current)
        if path is None:
            return
        shown = shown_path(path, self.root, self.label)
        if not inside(self.root, path):
            msg = f"{shown}: symlink leaves the repository"
            raise InputError(msg)
        data = read_kustomization(path)
        self.lists(shown, current, data)
        self.items(shown, current, data)

    def lists(self, shown: str, current: Path, data: dict[str, Any]) -> None:
        """Check the fields that list references (strings)."""
        for field in _DIRECTORY_FIELDS:
            for entry in _strings(data.get(field)):
                self.reference(shown, f"{field} entry", current, entry, walk=True)
        for field in _PLUGIN_FIELDS:
            for entry in _strings(data.get(field)):
                self.plugin_entry(shown, field, current, entry)
        for field in _FILE_LIST_FIELDS:
            for entry in _strings(data.get(field)):
                if field == "patchesStrategicMerge" and (
                    "\n" in entry.strip() or _inline_mapping(entry) is not None
                ):
                    continue  # an inline patch
                self.reference(shown, f"{field} entry", current, entry, walk=False)

    def items(self, shown: str, current: Path, data: dict[str, Any]) -> None:
        """Check the fields whose mappings name files (patches, generators, Helm, openapi)."""
        for field in _PATH_ITEM_FIELDS:
            for i, item in enumerate(_mappings(data.get(field))):
                if isinstance(item.get("path"), str):
                    self.reference(shown, f"{field}[{i}].path", current, item["path"], walk=False)
        openapi = data.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            self.reference(shown, "openapi.path", current, openapi["path"], walk=False)
        for field in _GENERATOR_FIELDS:
            for i, item in enumerate(_mappings(data.get(field))):
                self.generator_files(shown, f"{field}[{i}]", current, item)
        for field in _HELM_FIELDS:
            for i, item in enumerate(_mappings(data.get(field))):
                self.helm_chart(shown, f"{field}[{i}]", current, item)
        helm_globals = data.get("helmGlobals")
        if isinstance(helm_globals, dict):
            self.helm_chart(shown, "helmGlobals", current, helm_globals)


def check_tree(
    directory: Path, repo_root: Path, *, label: str, allow_host: HostCheck | None = None
) -> bool:
    """Refuse a kustomization tree that reads outside the repository or from the network.

    Parameters
    ----------
    directory
        The kustomization directory (absolute).
    repo_root
        The repository root (absolute, symlinks resolved).
    label
        The app, for messages.
    allow_host
        Tells whether the operator's policy allows a host (``network.allowHosts``);
        without it every remote reference is refused.

    Returns
    -------
    bool
        Whether the tree names a remote reference the policy allows (Kustomize
        then needs the network).

    Raises
    ------
    InputError
        Naming the kustomization file, the field and the entry.
    """
    walk = _Walk(repo_root, label, allow_host)
    seen: set[Path] = set()
    walk.todo.append(Path(os.path.realpath(directory)))
    while walk.todo:
        current = walk.todo.pop()
        if current in seen:
            continue
        seen.add(current)
        walk.kustomization(current)
    return walk.reaches_network


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (entry for entry in value if isinstance(entry, str) and entry.strip())


def _mappings(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _inline_mapping(entry: str) -> dict[str, Any] | None:
    try:
        data = yaml.load(entry, Loader=_Loader)  # noqa: S506 - the C safe loader
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _documents(text: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError:
        return []


def read_kustomization(path: Path) -> dict[str, Any]:
    """Parse a kustomization file; anything malformed is left to Kustomize to report."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def shown_path(path: Path, repo_root: Path, label: str) -> str:
    """Name ``path`` in a message: relative to the repository, else ``label/<name>``."""
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        return f"{label}/{path.name}"
