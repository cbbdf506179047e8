"""Read what Argo CD hands a plugin: its environment variables and ``ARGOCD_APP_PARAMETERS``.

See ``reference/argocd-cmp.md``. ``PARAM_*`` variables are ignored: they are lossy,
so the JSON is parsed instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsp_render.core.context import AppInfo, PluginParams
from lsp_render.core.errors import InputError

__all__ = [
    "PARAMETER_TYPES",
    "app_info",
    "env_name",
    "kube_api_versions",
    "parameter_value",
    "plugin_params",
    "release_name_from_app",
    "repo_root_from_source_path",
]


def plugin_params(environ: Mapping[str, str]) -> PluginParams:
    """Parse ``ARGOCD_APP_PARAMETERS`` (compact JSON, possibly ``null`` or absent).

    Raises
    ------
    InputError
        When the variable is not valid JSON or not a list of parameter objects.
    """
    raw_text = environ.get("ARGOCD_APP_PARAMETERS", "").strip()
    if not raw_text:
        return PluginParams()
    try:
        entries = json.loads(raw_text)
    except json.JSONDecodeError as exc:
        msg = f"ARGOCD_APP_PARAMETERS is not valid JSON: {exc.msg} at column {exc.colno}"
        raise InputError(msg) from None
    if entries is None:
        return PluginParams()
    if not isinstance(entries, list):
        msg = "ARGOCD_APP_PARAMETERS must be a JSON list of parameters"
        raise InputError(msg)
    raw: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            msg = f"ARGOCD_APP_PARAMETERS[{index}] is not a parameter object with a name"
            raise InputError(msg)
        raw[entry["name"]] = parameter_value(entry, index)
    return PluginParams(
        env=_string(raw, "env"),
        values_files=_array(raw, "values-files"),
        helm_parameters=_map(raw, "helm-parameters"),
        release_name=_string(raw, "release-name"),
        namespace=_string(raw, "namespace"),
        raw=raw,
    )


PARAMETER_TYPES: Mapping[str, str] = {
    "env": "string",
    "values-files": "array",
    "helm-parameters": "map",
    "release-name": "string",
    "namespace": "string",
}
"""The parameters lsp-render announces, with the collection type of each."""

_FIELDS = ("string", "array", "map")


def parameter_value(entry: Mapping[str, Any], index: int) -> Any:
    """Return the value of one ``ARGOCD_APP_PARAMETERS`` entry (``render`` and ``parameters``).

    An entry may carry ``string``, ``array`` and ``map`` together. A parameter
    lsp-render announces reads the field of its announced type first (``env``
    its ``string``, ``values-files`` its ``array``, ``helm-parameters`` its
    ``map``); any other parameter, and an announced one without that field,
    reads the first present of ``string``, ``array``, ``map``.

    Raises
    ------
    InputError
        When the chosen field has the wrong JSON type.
    """
    declared = PARAMETER_TYPES.get(str(entry.get("name")))
    order = _FIELDS if declared is None else (declared, *(f for f in _FIELDS if f != declared))
    for key in order:
        if key in entry and entry[key] is not None:
            value = entry[key]
            ok = (
                (key == "string" and isinstance(value, str))
                or (key == "array" and isinstance(value, list))
                or (key == "map" and isinstance(value, dict))
            )
            if not ok:
                msg = (
                    f"ARGOCD_APP_PARAMETERS[{index}] ({entry['name']}): '{key}' has the wrong type"
                )
                raise InputError(msg)
            return value
    return None


def _string(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        msg = f"plugin parameter '{name}' must be a string"
        raise InputError(msg)
    return value


def _array(raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = raw.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"plugin parameter '{name}' must be an array of strings"
        raise InputError(msg)
    return tuple(v for v in value if v)


def _map(raw: Mapping[str, Any], name: str) -> tuple[tuple[str, str], ...]:
    value = raw.get(name)
    if value is None:
        return ()
    if not isinstance(value, dict):
        msg = f"plugin parameter '{name}' must be a map"
        raise InputError(msg)
    return tuple((str(k), "" if v is None else str(v)) for k, v in value.items())


def kube_api_versions(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Split ``KUBE_API_VERSIONS`` (comma-joined ``group/version`` and ``group/version/Kind``)."""
    text = environ.get("KUBE_API_VERSIONS", "")
    return tuple(part.strip() for part in text.split(",") if part.strip())


def release_name_from_app(app_name: str) -> str:
    """Turn ``ARGOCD_APP_NAME`` into a release name.

    Argo CD names apps outside its control-plane namespace ``<namespace>_<name>``;
    ``_`` is not allowed in Kubernetes names, so the part after it is the app's name.
    """
    return app_name.split("_", 1)[1] if "_" in app_name else app_name


def app_info(environ: Mapping[str, str], app_dir: Path) -> AppInfo:
    """Build ``app.*`` from Argo CD's variables, falling back to the directory name."""
    name = environ.get("ARGOCD_APP_NAME") or app_dir.name
    return AppInfo(
        name=release_name_from_app(name),
        namespace=environ.get("ARGOCD_APP_NAMESPACE", ""),
        project=environ.get("ARGOCD_APP_PROJECT_NAME", ""),
        revision=environ.get("ARGOCD_APP_REVISION", ""),
    )


def env_name(environ: Mapping[str, str], params: PluginParams, flag: str | None) -> str | None:
    """Pick the environment: ``--env``, else parameter ``env``, else ``ARGOCD_ENV_ENV``."""
    return flag or params.env or environ.get("ARGOCD_ENV_ENV") or None


def repo_root_from_source_path(app_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """Find the root of Argo CD's copy of the repository from ``ARGOCD_APP_SOURCE_PATH``.

    The copy's root is the repository root, and the app directory ends with the
    whole source path. With ``reposerver.plugin.use.manifest.generate.paths=true``
    the repo-server sends only the common root of the app path and the paths of
    its ``argocd.argoproj.io/manifest-generate-paths`` annotation
    (argo-cd ``reposerver/repository/utils.go``, ``getApplicationRootPath``): the
    app directory then ends with a shorter tail of the source path (``hybrid``
    for ``examples/hybrid`` when the annotation names ``../helm``), and the copy's
    root is what lies above that tail. The longest tail that matches wins.

    Returns
    -------
    Path or None
        The root, or None without a usable ``ARGOCD_APP_SOURCE_PATH`` or when no
        tail of it matches (the caller then looks for ``.git``).
    """
    source = environ.get("ARGOCD_APP_SOURCE_PATH", "").strip().strip("/")
    if not source or source == ".":
        return app_dir if source == "." else None
    parts = tuple(part for part in Path(source).parts if part != ".")
    if ".." in parts:
        return None
    for size in range(min(len(parts), len(app_dir.parts) - 1), 0, -1):
        if app_dir.parts[-size:] == parts[-size:]:
            return Path(*app_dir.parts[:-size])
    return None
