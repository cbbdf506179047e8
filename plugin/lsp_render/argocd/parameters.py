"""The dynamic parameters announcement that the Argo CD UI shows for an application.

Argo CD runs ``lsp-render parameters`` (``parameters.dynamic`` in
``sidecar/plugin.yaml``) in the application directory with a REDUCED
environment: ``ARGOCD_APP_NAME``, ``ARGOCD_APP_SOURCE_*``, ``ARGOCD_ENV_*`` and
the parameter variables, but no namespace, project, revision or ``KUBE_*``. The
command must print a JSON array (``[]`` when there is nothing to announce); the
UI shows each announcement's ``title`` and a widget chosen by its
``collectionType``, and writes what the user edits into
``spec.source.plugin.parameters``. Announced defaults are never sent back.

An announcement is advice, not a render: nothing here raises on a strange
directory (it announces ``[]`` instead), and nothing is read outside the
application directory, or outside the repository when ``ARGOCD_APP_SOURCE_PATH``
tells where its root is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lsp_render.argocd.env import release_name_from_app, repo_root_from_source_path
from lsp_render.core.paths import CONFIG_FILE
from lsp_render.detect import kind_from_files

__all__ = ["announcements"]

_ENV_FILE = re.compile(r"^values-([A-Za-z0-9][A-Za-z0-9_.-]*)\.yaml$")
_ENV_TEMPLATE = re.compile(r"\{\{\s*env\s*\}\}")
_DEFAULT_VALUE_FILES = ("values.yaml", "values-{{ env }}.yaml")
# lsp-render.yaml is a small configuration file; a larger one is not read here.
_MAX_CONFIG_BYTES = 1 << 20


def announcements(app_dir: Path, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Announce the plugin parameters of the application in ``app_dir``.

    Parameters
    ----------
    app_dir
        The application directory (the current directory under Argo CD).
    environ
        The environment of the parameters command: ``ARGOCD_APP_NAME``,
        ``ARGOCD_APP_SOURCE_*``, ``ARGOCD_ENV_*`` and ``ARGOCD_APP_PARAMETERS``
        are used; nothing else is needed.

    Returns
    -------
    list of dict
        Parameter announcements, ready for ``json.dumps``. For a Helm or hybrid
        application: ``env``, ``values-files`` (array), ``helm-parameters``
        (map), ``release-name`` and ``namespace``. For a Kustomize or plain
        application: only ``env``, and only when it has environments. ``[]``
        for anything else, including a directory that cannot be read.

    Notes
    -----
    The environments of an application are the ``<env>`` of its
    ``values-<env>.yaml`` files, the per-environment convention that
    ``lsp-render render`` and ``render-all`` follow.

    ``helm-parameters`` is announced with an empty default on purpose. Argo CD
    writes the whole map back once a user edits one entry, and lsp-render
    applies it with ``--set`` semantics: announcing the chart's values as
    strings would turn every one of them into a ``--set`` override the moment
    anyone touched the widget, with types guessed again from strings.

    """
    try:
        return _announce(Path(app_dir), environ)
    except (OSError, ValueError, TypeError, RecursionError, yaml.YAMLError):
        return []


def _announce(app_dir: Path, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    if not app_dir.is_dir():
        return []
    app_dir = app_dir.resolve()
    # Nothing is read outside the repository (or the app, when its root is unknown).
    root = repo_root_from_source_path(app_dir, environ) or app_dir
    config = _load_config(app_dir, root)
    kind = _kind(app_dir, config)
    if kind is None:
        return []
    params = _sent_parameters(environ)
    env = _string(params.get("env")) or environ.get("ARGOCD_ENV_ENV") or None
    helm = config.get("helm") if isinstance(config, dict) else None
    helm = helm if isinstance(helm, dict) else {}
    environments = _environments(app_dir, helm.get("valueFiles"))
    if kind not in {"helm", "hybrid"}:
        return [_env_announcement(env, environments)] if environments or env else []
    return [
        _env_announcement(env, environments),
        _values_files_announcement(app_dir, root, env, helm.get("valueFiles")),
        _helm_parameters_announcement(),
        _release_name_announcement(app_dir, environ, helm.get("releaseName")),
        _namespace_announcement(helm.get("namespace")),
    ]


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _load_config(app_dir: Path, root: Path) -> dict[str, Any] | None:
    """Read ``lsp-render.yaml`` if it is there and sane; a broken one counts as absent."""
    path = app_dir / CONFIG_FILE
    if not _inside(path, root) or not path.is_file():
        return None
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _kind(app_dir: Path, config: dict[str, Any] | None) -> str | None:
    """Detect the application kind the way SPEC section 3 describes, without failing."""
    declared = config.get("kind") if config else None
    if declared in {"helm", "hybrid", "kustomize", "plain"}:
        return str(declared)
    helm_section = isinstance((config or {}).get("helm"), dict)
    kind = kind_from_files(app_dir, helm_section=helm_section)
    return None if kind is None else kind.value


def _sent_parameters(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse ``ARGOCD_APP_PARAMETERS`` leniently: anything malformed is ignored."""
    text = environ.get("ARGOCD_APP_PARAMETERS", "").strip()
    if not text:
        return {}
    try:
        entries = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(entries, list):
        return {}
    sent: dict[str, Any] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            for key in ("string", "array", "map"):
                if entry.get(key) is not None:
                    sent[entry["name"]] = entry[key]
                    break
    return sent


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _environments(app_dir: Path, configured: Any) -> list[str]:
    """Return the ``<env>`` of every ``values-<env>.yaml`` file in the app, sorted.

    A file that ``lsp-render.yaml`` names literally in ``helm.valueFiles`` is
    applied in every environment, so it names none.
    """
    fixed = set(configured) if isinstance(configured, list) else set()
    found = []
    for entry in app_dir.iterdir():
        match = _ENV_FILE.match(entry.name)
        if match and entry.name not in fixed and entry.is_file():
            found.append(match.group(1))
    return sorted(found)


def _announcement(name: str, title: str, tooltip: str, collection: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "tooltip": tooltip,
        "required": False,
        "itemType": "string",
        "collectionType": collection,
    }


def _env_announcement(env: str | None, environments: list[str]) -> dict[str, Any]:
    if environments:
        known = "This app has: " + ", ".join(environments) + " (from its values-<env>.yaml files)."
    else:
        known = "This app has no values-<env>.yaml files."
    item = _announcement(
        "env",
        "Environment",
        "The environment to render for; selects values-<env>.yaml and the "
        f"repository's per-environment settings. {known}",
        "string",
    )
    if env:
        item["string"] = env
    return item


def _values_files_announcement(
    app_dir: Path, root: Path, env: str | None, configured: Any
) -> dict[str, Any]:
    candidates: tuple[Any, ...] = _DEFAULT_VALUE_FILES
    if isinstance(configured, list) and all(isinstance(entry, str) for entry in configured):
        candidates = tuple(configured)
    existing = []
    for candidate in candidates:
        name = _ENV_TEMPLATE.sub(env, candidate) if env else candidate
        if "{{" in name or "{%" in name:
            continue
        path = app_dir / name
        if _inside(path, root) and path.is_file():
            existing.append(name)
    item = _announcement(
        "values-files",
        "Helm value files",
        "Value files, relative to the app directory, applied in order (later files win). "
        "Default: values.yaml, then values-<env>.yaml for the selected environment.",
        "array",
    )
    item["array"] = existing
    return item


def _helm_parameters_announcement() -> dict[str, Any]:
    item = _announcement(
        "helm-parameters",
        "Helm parameters",
        "Overrides with --set semantics: a dotted key (image.tag) and its value, applied "
        "after the value files.",
        "map",
    )
    item["map"] = {}
    return item


def _release_name_announcement(
    app_dir: Path, environ: Mapping[str, str], configured: Any
) -> dict[str, Any]:
    default = _plain(configured)
    if default is None:
        app_name = environ.get("ARGOCD_APP_NAME", "")
        default = release_name_from_app(app_name) if app_name else app_dir.name
    item = _announcement(
        "release-name",
        "Helm release name",
        "The release name the chart is rendered with (.Release.Name). Default: the "
        "Application's name.",
        "string",
    )
    item["string"] = default
    return item


def _namespace_announcement(configured: Any) -> dict[str, Any]:
    item = _announcement(
        "namespace",
        "Helm release namespace",
        "The namespace the chart is rendered for (.Release.Namespace). Default: the "
        "Application's destination namespace.",
        "string",
    )
    default = _plain(configured)
    if default is not None:
        item["string"] = default
    return item


def _plain(value: Any) -> str | None:
    """Return a configured string unless it is a Jinja2 template (shown as unknown)."""
    if isinstance(value, str) and value and "{{" not in value and "{%" not in value:
        return value
    return None
