"""The render pipeline: detect -> render -> patch -> substitute, handing on plain values.

``render`` returns the final documents; nothing is printed here, so a failure
at any stage leaves stdout empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import InputError, LspRenderError, RenderError
from lsp_render.core.filenames import policy_file
from lsp_render.core.manifests import Document, is_blank
from lsp_render.core.paths import CONFIG_FILE, REPO_CONFIG_FILE, resolve_inside
from lsp_render.detect import AppKind, detect_kind
from lsp_render.pipeline.helm_inputs import (
    _HelmDefaults,
    _kube_version,
    helm_inputs,
    helm_release,
    helm_value_files,
)

if TYPE_CHECKING:
    from lsp_render.config.app import AppConfig
    from lsp_render.config.repo import RepoConfig
    from lsp_render.core.confine import HostCheck
    from lsp_render.core.context import RenderRequest

__all__ = [
    "DEFAULT_MAX_OUTPUT_MB",
    "EMPTY_RENDER",
    "RenderPlan",
    "check_output_size",
    "helm_inputs",
    "helm_release",
    "helm_value_files",
    "host_check",
    "max_output_bytes",
    "plan",
    "render",
    "template_context",
]

DEFAULT_MAX_OUTPUT_MB = 100.0
"""Argo CD's default gRPC message limit (``ARGOCD_GRPC_MAX_SIZE_MB``), in MiB."""

_API_VERSION = re.compile(r"^[\"']?apiVersion[\"']?[ \t]*:", re.MULTILINE)
_KIND = re.compile(r"^[\"']?kind[\"']?[ \t]*:", re.MULTILINE)
_FIRST_CONTENT = re.compile(r"^[ \t]*([^ \t#\r\n])", re.MULTILINE)
_FLOW_API_VERSION = re.compile(r"[{,\s][\"']?apiVersion[\"']?\s*:")
_FLOW_KIND = re.compile(r"[{,\s][\"']?kind[\"']?\s*:")


def template_context(
    request: RenderRequest, envdata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build the read-only Jinja2 context of SPEC section 4."""
    return {
        "app": request.app.as_dict(),
        "env": request.env or "",
        "kube_version": request.kube_version or "",
        "params": dict(request.params.raw),
        "envdata": envdata or {},
    }


class RenderPlan:
    """What a render will do, decided before any engine runs.

    Attributes
    ----------
    kind
        The application kind.
    config
        The parsed ``lsp-render.yaml`` (None without one).
    repo_config
        The ``lsp-render-repo.yaml`` that applies (None without one).
    context
        The Jinja2 context, ``envdata`` included.
    """

    def __init__(
        self,
        kind: AppKind,
        config: AppConfig | None,
        repo_config: RepoConfig | None,
        context: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.config = config
        self.repo_config = repo_config
        self.context = context


def plan(request: RenderRequest) -> RenderPlan:
    """Load the configuration files and detect the kind of the application."""
    repo_config = _find_repo_config(request.app_dir, request.repo_root)
    context = template_context(request)
    if repo_config is not None:
        from lsp_render.config.repo import load_envdata

        context["envdata"] = load_envdata(repo_config, request.env, context, request.repo_root)
    config = _load_app_config(request, context)
    kind = detect_kind(request.app_dir, config, label=request.label)
    return RenderPlan(kind, config, repo_config, context)


# The configuration modules build pydantic models on import (about half of a render's
# start-up); they are imported only when their file exists (bench/: scenarios 1 and 2).


def _find_repo_config(app_dir: Path, repo_root: Path) -> RepoConfig | None:
    for directory in (app_dir, *app_dir.parents):
        if (directory / REPO_CONFIG_FILE).is_file():
            from lsp_render.config.repo import find_repo_config

            return find_repo_config(app_dir, repo_root)
        if directory == repo_root:
            break
    return None


def _load_app_config(request: RenderRequest, context: dict[str, Any]) -> AppConfig | None:
    path = request.app_dir / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return None
    from lsp_render.config.app import load_app_config

    return load_app_config(
        request.app_dir, request.repo_root, context, label=f"{request.label}/{CONFIG_FILE}"
    )


EMPTY_RENDER = (
    "the render produced no Kubernetes objects (refusing an empty success: Argo CD would "
    "prune everything; set allowEmpty: true in lsp-render.yaml if that is intended)"
)


def render(request: RenderRequest, *, substitute: bool = True) -> list[Document]:
    """Render one application into its final documents (secrets substituted).

    An empty result is an error unless ``lsp-render.yaml`` says ``allowEmpty: true``
    (a chart that only exists to own a namespace). With ``substitute=False`` the
    placeholders stay as they are whatever the delivery mode (``secrets audit``).

    Raises
    ------
    LspRenderError
        Any failure, with its exit code; nothing has been printed.
    """
    the_plan = plan(request)
    secret_texts: set[str] = set()
    shielded: set[str] = set()
    try:
        docs = _render_kind(request, the_plan, secret_texts, shielded)
    except LspRenderError as exc:
        if not secret_texts:
            raise
        # Helm or Kustomize may quote a value resolved from Vault (resolveInValues), in
        # any form: exact, collapsed, quoted, escaped, base64.
        from lsp_render.core.redaction import redacted_error

        raise redacted_error(exc, secret_texts, request.label) from None
    if the_plan.kind is not AppKind.HELM:  # Helm's comment-only documents stay: helm prints them
        docs = [doc for doc in docs if not is_blank(doc.text)]
    empty = all(is_blank(doc.text) for doc in docs)
    if empty and not (the_plan.config is not None and the_plan.config.allow_empty):
        raise RenderError(EMPTY_RENDER)
    if secret_texts:  # resolveInValues: the policy's kinds apply to where the values landed
        from lsp_render.secrets.exposure import check_resolved

        check_resolved(docs, secret_texts, request)
    _check_objects(docs, request, the_plan.kind)
    from lsp_render import secrets

    config = the_plan.config
    if not substitute:
        return docs
    # what resolveInValues put into the chart is content, never scanned again (SPEC 5)
    docs = secrets.substitute_documents(
        docs,
        request,
        shielded=shielded,
        config=config.secrets if config is not None else None,
    )
    check_output_size(docs, request)
    return docs


def max_output_bytes(environ: Mapping[str, str]) -> int:
    """Return the largest stream Argo CD accepts: ``ARGOCD_GRPC_MAX_SIZE_MB`` MiB (default 100).

    Raises
    ------
    InputError
        When the variable is not a positive number.
    """
    text = environ.get("ARGOCD_GRPC_MAX_SIZE_MB", "").strip()
    try:
        size = float(text) if text else DEFAULT_MAX_OUTPUT_MB
    except ValueError:
        size = -1.0
    if not size > 0 or size == float("inf"):
        msg = f"ARGOCD_GRPC_MAX_SIZE_MB must be a positive number of MiB, not '{text}'"
        raise InputError(msg)
    return int(size * (1 << 20))


def check_output_size(docs: Sequence[Document], request: RenderRequest) -> None:
    """Refuse a stream larger than Argo CD's gRPC limit rather than let gRPC cut it.

    The size counted is the stream ``lsp-render render`` prints (each document
    and its ``---`` line).

    Raises
    ------
    RenderError
        When the stream is larger than :func:`max_output_bytes`.
    """
    limit = max_output_bytes(request.environ)
    if sum(len(doc.text) for doc in docs) * 4 + 4 * len(docs) <= limit:
        return  # cannot be too large even if every character took 4 bytes
    size = sum(len(doc.text.encode("utf-8")) + 4 for doc in docs)
    if size > limit:
        msg = (
            f"{request.label}: the rendered manifests are {size / (1 << 20):.1f} MiB, more than "
            f"Argo CD accepts ({limit / (1 << 20):g} MiB, ARGOCD_GRPC_MAX_SIZE_MB); "
            "split the application"
        )
        raise RenderError(msg)


def _render_kind(
    request: RenderRequest, the_plan: RenderPlan, secret_texts: set[str], shielded: set[str]
) -> list[Document]:
    config = the_plan.config
    if the_plan.kind is AppKind.PLAIN:
        from lsp_render.sources.plain import load_plain

        return load_plain(
            request.app_dir,
            request.repo_root,
            config.plain if config is not None else None,
            label=request.label,
        )
    if the_plan.kind is AppKind.HELM:
        return _render_helm(request, the_plan, secret_texts, shielded)
    from lsp_render.sources import kustomize

    kustomize_dir = request.app_dir
    if config is not None and config.kustomize is not None:
        kustomize_dir = resolve_inside(
            request.repo_root,
            request.app_dir,
            config.kustomize.path,
            what=f"{request.label}/{CONFIG_FILE}: kustomize.path",
        )
    helm_charts = None
    if _helm_charts_enabled(request, config):
        # Kustomize's helmCharts: with Argo CD's --helm-kube-version/--helm-api-versions.
        section = config.helm if config is not None and config.helm is not None else None
        helm_charts = kustomize.HelmCharts(
            _kube_version(request, section or _HelmDefaults(), the_plan.repo_config),
            request.api_versions,
        )
    if the_plan.kind is AppKind.KUSTOMIZE:
        return kustomize.build(
            kustomize_dir,
            label=request.label,
            environ=request.environ,
            repo_root=request.repo_root,
            helm=helm_charts,
            allow_host=host_check(request.environ),
        )
    # Kustomize starts up while Helm renders (sources/kustomize.py: HybridBuild).
    with kustomize.HybridBuild(
        kustomize_dir,
        request.repo_root,
        label=request.label,
        environ=request.environ,
        helm=helm_charts,
        allow_host=host_check(request.environ),
    ) as hybrid:
        return hybrid.build(_render_helm(request, the_plan, secret_texts, shielded))


def _helm_charts_enabled(request: RenderRequest, config: AppConfig | None) -> bool:
    """Kustomize's ``helmCharts:``: the app's ``kustomize.enableHelm``, or the operator's policy."""
    if config is not None and config.kustomize is not None and config.kustomize.enable_helm:
        return True
    if not policy_file(request.environ):
        return False  # no policy: spare a render the import of the policy module
    from lsp_render.secrets.policy import helm_charts_enabled

    return helm_charts_enabled(request)


def host_check(environ: Mapping[str, str]) -> HostCheck:
    """Return the test of the operator policy's ``network.allowHosts`` (read on first use).

    A render without remote references never reads the policy for this.
    """
    hosts: list[frozenset[str]] = []

    def allowed(host: str) -> bool:
        if not hosts:
            from lsp_render.secrets.policy import allowed_hosts

            hosts.append(allowed_hosts(environ))
        return host.lower() in hosts[0]

    return allowed


def _render_helm(
    request: RenderRequest, the_plan: RenderPlan, secret_texts: set[str], shielded: set[str]
) -> list[Document]:
    from lsp_render.core import deadline
    from lsp_render.sources.helm import render_chart

    inputs = helm_inputs(request, the_plan, secret_texts=secret_texts, shielded=shielded)
    # Do not start an engine past the request's deadline.
    deadline.check(f"helm template {request.label}")
    from lsp_render.secrets import looks_for_placeholders
    from lsp_render.secrets.scan import remember

    # CRD documents read while Helm renders are checked for placeholders then, if the
    # substitution will look at them: an answer nobody asks for would keep its text alive.
    config = the_plan.config.secrets if the_plan.config is not None else None
    check = remember if looks_for_placeholders(request, config) else None
    return render_chart(inputs, allow_host=host_check(request.environ), check_document=check)


def _check_objects(docs: list[Document], request: RenderRequest, kind: AppKind) -> None:
    """Refuse output that is not a stream of Kubernetes objects (cheap text check)."""
    error: type[LspRenderError] = InputError if kind is AppKind.PLAIN else RenderError
    for doc in docs:
        text = doc.text
        if is_blank(text):
            continue
        first = _FIRST_CONTENT.search(text)  # after Helm's "# Source:" line, if any
        if first is not None and first.group(1) == "{":  # JSON, or a YAML flow mapping
            ok = _FLOW_API_VERSION.search(text) is not None and _FLOW_KIND.search(text) is not None
        else:
            ok = _API_VERSION.search(text) is not None and _KIND.search(text) is not None
        if not ok:
            msg = (
                f"{request.label}: {doc.source}: document is not a Kubernetes object "
                "(no top-level apiVersion and kind)"
            )
            raise error(msg)
