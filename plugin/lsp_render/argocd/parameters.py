"""The dynamic parameters announcement that the Argo CD UI shows for an application.

Argo CD runs ``lsp-render parameters`` (``parameters.dynamic`` in
``sidecar/plugin.yaml``) in the application directory with a REDUCED
environment: ``ARGOCD_APP_NAME``, ``ARGOCD_APP_SOURCE_REPO_URL``,
``ARGOCD_APP_SOURCE_PATH``, ``ARGOCD_APP_SOURCE_TARGET_REVISION``,
``ARGOCD_ENV_*`` and the parameter variables, but no namespace, project,
revision or ``KUBE_*`` (argo-cd ``reposerver/repository/repository.go``,
``populatePluginAppDetails``). The command must print a JSON array (``[]`` when
there is nothing to announce); the UI shows each announcement's ``title`` and a
widget chosen by its ``collectionType``, and writes what the user edits into
``spec.source.plugin.parameters``.

Every default announced is what ``lsp-render render`` uses, decided by the same
code (``pipeline.plan``, ``pipeline.helm_value_files``,
``pipeline.helm_release``), so sending the announced defaults back through
``ARGOCD_APP_PARAMETERS`` changes no render. A default that depends on what
the parameters command is not told (the destination namespace, the project,
the revision, the cluster version) is not announced: the planning runs twice,
with two different stand-ins for those, and only what both agree on is a
default. When the value files cannot be decided (the render would fail on
them), ``values-files`` is announced empty, which sends back as "no override".

An announcement is advice, not a render: nothing here raises on a strange
directory (it announces ``[]`` instead), and nothing is read outside the
repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.argocd.env import PARAMETER_TYPES
from lsp_render.core.errors import LspRenderError

if TYPE_CHECKING:
    from lsp_render.core.context import RenderRequest
    from lsp_render.pipeline import RenderPlan

__all__ = ["announcements"]

# Stand-ins for what Argo CD does not tell the parameters command.
_UNKNOWN = ("ARGOCD_APP_NAMESPACE", "ARGOCD_APP_PROJECT_NAME", "ARGOCD_APP_REVISION")
_PROBES = ("lsp-render-probe-a", "lsp-render-probe-b")
_PROBE_KUBE = ("1.0.0", "1.0.1")


def announcements(app_dir: Path, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Announce the plugin parameters of the application in ``app_dir``.

    Parameters
    ----------
    app_dir
        The application directory (the current directory under Argo CD).
    environ
        The environment of the parameters command; the namespace, project,
        revision and ``KUBE_*`` are ignored even when present (Argo CD never
        sends them).

    Returns
    -------
    list of dict
        Parameter announcements, ready for ``json.dumps``. For a Helm or hybrid
        application: ``env``, ``values-files`` (array), ``helm-parameters``
        (map), ``release-name`` and ``namespace``. For a Kustomize or plain
        application: only ``env``, and only when it has environments. ``[]``
        for anything else, including a directory that cannot be planned.

    Notes
    -----
    The environments listed are those of
    :func:`lsp_render.config.environments.app_environments`, the ones
    ``render-all`` renders.

    ``helm-parameters`` is announced with an empty default on purpose. Argo CD
    writes the whole map back once a user edits one entry, and lsp-render
    applies it with ``--set`` semantics: announcing the chart's values as
    strings would turn every one of them into a ``--set`` override the moment
    anyone touched the widget, with types guessed again from strings.
    """
    try:
        return _announce(Path(app_dir), environ)
    except (LspRenderError, OSError, ValueError, TypeError, RecursionError):
        return []


def _probed(environ: Mapping[str, str], index: int) -> dict[str, str]:
    probed = {k: v for k, v in environ.items() if k not in {"KUBE_VERSION", "KUBE_API_VERSIONS"}}
    probed.update(dict.fromkeys(_UNKNOWN, _PROBES[index]))
    probed["KUBE_VERSION"] = _PROBE_KUBE[index]
    return probed


def _request(app_dir: Path, environ: Mapping[str, str]) -> RenderRequest:
    from lsp_render.argocd.request import build_request

    try:
        return build_request(app_dir, environ=environ)
    except LspRenderError:
        if "ARGOCD_APP_PARAMETERS" not in environ:
            raise
        # Parameters the render would refuse: announce as if none were set, so the UI
        # still offers the widgets to correct them.
        clean = {k: v for k, v in environ.items() if k != "ARGOCD_APP_PARAMETERS"}
        return build_request(app_dir, environ=clean)


def _announce(app_dir: Path, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    from lsp_render.config.environments import app_environments
    from lsp_render.detect import AppKind
    from lsp_render.pipeline import plan

    if not app_dir.is_dir():
        return []
    requests = [_request(app_dir, _probed(environ, index)) for index in (0, 1)]
    plans = [plan(request) for request in requests]
    request, the_plan = requests[0], plans[0]
    environments = app_environments(request.app_dir, request.repo_root, the_plan.context)
    if the_plan.kind not in {AppKind.HELM, AppKind.HYBRID}:
        return [_env_announcement(request.env, environments)] if environments or request.env else []
    files = [_value_files(r, p) for r, p in zip(requests, plans, strict=True)]
    identities = [_identity(r, p) for r, p in zip(requests, plans, strict=True)]
    release_names = {identity[0] for identity in identities}
    namespaces = {identity[1] for identity in identities}
    return [
        _env_announcement(request.env, environments),
        _values_files_announcement(files[0] if files[0] == files[1] else []),
        _helm_parameters_announcement(),
        _release_name_announcement(release_names.pop() if len(release_names) == 1 else None),
        _namespace_announcement(namespaces.pop() if len(namespaces) == 1 else None),
    ]


def _value_files(request: RenderRequest, the_plan: RenderPlan) -> list[str]:
    """Name the value files the render reads, relative to the app directory ([] if it fails)."""
    from lsp_render.pipeline import helm_value_files

    try:
        paths = helm_value_files(request, the_plan)
    except LspRenderError:
        return []
    return [Path(os.path.relpath(path, request.app_dir)).as_posix() for path in paths]


def _identity(request: RenderRequest, the_plan: RenderPlan) -> tuple[str | None, str | None]:
    from lsp_render.pipeline import helm_release

    try:
        return helm_release(request, the_plan)
    except LspRenderError:
        return None, None


def _announcement(name: str, title: str, tooltip: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "tooltip": tooltip,
        "required": False,
        "itemType": "string",
        "collectionType": PARAMETER_TYPES[name],
    }


def _env_announcement(env: str | None, environments: list[str]) -> dict[str, Any]:
    if environments:
        known = "This app has: " + ", ".join(environments) + " (from its value files)."
    else:
        known = "This app has no values-<env>.yaml files."
    item = _announcement(
        "env",
        "Environment",
        "The environment to render for; selects values-<env>.yaml and the "
        f"repository's per-environment settings. {known}",
    )
    if env:
        item["string"] = env
    return item


def _values_files_announcement(files: list[str]) -> dict[str, Any]:
    item = _announcement(
        "values-files",
        "Helm value files",
        "Value files, relative to the app directory, applied in order (later files win). "
        "Default: helm.valueFiles of lsp-render.yaml, else values.yaml, then "
        "values-<env>.yaml for the selected environment; empty: that default.",
    )
    item["array"] = files
    return item


def _helm_parameters_announcement() -> dict[str, Any]:
    item = _announcement(
        "helm-parameters",
        "Helm parameters",
        "Overrides with --set semantics: a dotted key (image.tag) and its value, applied "
        "after the value files.",
    )
    item["map"] = {}
    return item


def _release_name_announcement(default: str | None) -> dict[str, Any]:
    item = _announcement(
        "release-name",
        "Helm release name",
        "The release name the chart is rendered with (.Release.Name). Default: the "
        "Application's name.",
    )
    if default:
        item["string"] = default
    return item


def _namespace_announcement(default: str | None) -> dict[str, Any]:
    item = _announcement(
        "namespace",
        "Helm release namespace",
        "The namespace the chart is rendered for (.Release.Namespace). Default: the "
        "Application's destination namespace.",
    )
    if default:
        item["string"] = default
    return item
