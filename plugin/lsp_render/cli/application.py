"""``lsp-render render --application FILE``: render the one Application a manifest describes."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from lsp_render.cli.run import APP_META_KEY, write_stdout
from lsp_render.core.context import SecretOptions

__all__ = ["run_application_render"]


def run_application_render(
    environ: Mapping[str, str],
    meta: MutableMapping[str, Any],
    *,
    application: Path,
    env: str | None,
    kube_version: str | None,
    api_versions: tuple[str, ...],
    secrets: SecretOptions,
    validate: bool = False,
    strict: bool = False,
) -> None:
    """Render the Application of ``application`` as Argo CD would, to stdout.

    Parameters
    ----------
    environ
        The environment (the per-application Argo CD variables are ignored:
        the Application gives them).
    meta
        Receives :data:`~lsp_render.cli.run.APP_META_KEY` once the Application is known.
    application
        A manifest file holding exactly one Application.
    env
        ``--env``: given to ``lsp-render`` plugin sources as ``render --env`` is.
    kube_version, api_versions
        ``KUBE_VERSION`` and ``KUBE_API_VERSIONS`` of the target cluster.
    secrets
        Secret backend options (plugin sources).
    validate, strict
        ``--validate`` and ``--strict``.

    Raises
    ------
    LspRenderError
        Any failure; nothing has been printed.
    """
    from lsp_render.core.manifests import encode_stream
    from lsp_render.workflows.applications import application_from_file
    from lsp_render.workflows.appsource import render_application
    from lsp_render.workflows.worker import PER_APP_VARIABLES

    clean = {
        k: v
        for k, v in environ.items()
        if k not in PER_APP_VARIABLES and not k.startswith("ARGOCD_ENV_")
    }
    if kube_version:
        clean["KUBE_VERSION"] = kube_version
    if api_versions:
        clean["KUBE_API_VERSIONS"] = ",".join(
            part.strip() for item in api_versions for part in item.split(",") if part.strip()
        )
    app, repo_root = application_from_file(application, clean)
    meta[APP_META_KEY] = f"Application {app.name}"
    docs = render_application(app, repo_root, environ=clean, secrets=secrets, env=env)
    if validate:
        import sys

        from lsp_render.workflows.validation import validate_documents

        label = f"Application {app.name}"
        report = validate_documents(
            docs, kube_version=clean.get("KUBE_VERSION"), strict=strict, label=label
        )
        sys.stderr.write(f"lsp-render: {label}: {report.summary()}\n")
    write_stdout(encode_stream(docs))
