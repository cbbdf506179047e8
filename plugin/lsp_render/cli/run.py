"""What every command shares: the ``render`` command's body and the error and output lines.

Both the click-free fast path (:mod:`lsp_render.cli.main`) and the click commands
(:mod:`lsp_render.cli.commands`) call these, so neither imports the other at module level.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from lsp_render.core.errors import InputError

__all__ = ["APP_META_KEY", "report_error", "run_render", "write_stdout"]

APP_META_KEY = "lsp_render.app"
"""Where a command records the app it works on, for the error line's prefix."""


def run_render(
    environ: Mapping[str, str],
    meta: MutableMapping[str, Any],
    *,
    app_dir: Path,
    env: str | None,
    release_name: str | None,
    namespace: str | None,
    kube_version: str | None,
    api_versions: tuple[str, ...],
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    secrets_file: Path | None,
    no_secrets: bool,
    mask_secrets: bool,
    verbose: bool,
    validate: bool = False,
    strict: bool = False,
) -> None:
    """Render APP_DIR to one YAML stream on stdout (the ``render`` command).

    Parameters
    ----------
    environ
        The environment.
    meta
        Receives :data:`APP_META_KEY`, the app's label, once it is known.
    app_dir, env, release_name, namespace, kube_version, api_versions, values, set_values
        The command's options (see ``lsp-render render --help``).
    secrets_file, no_secrets, mask_secrets, verbose
        The command's secret and verbosity options.
    validate, strict
        ``--validate`` and ``--strict`` (:mod:`lsp_render.workflows.validation`).

    Raises
    ------
    LspRenderError
        Any failure; nothing has been printed.
    """
    _prefork_helm_engine(app_dir)  # first: Helm loads in a child while we import the rest
    from lsp_render.sources.kustomize_start import prestart

    prestart(app_dir, environ)  # a Kustomize app's build, meanwhile (started in a netns)
    from lsp_render.argocd.request import build_request
    from lsp_render.core import deadline
    from lsp_render.core.context import SecretOptions
    from lsp_render.core.manifests import encode_stream
    from lsp_render.pipeline import render as run_pipeline

    if no_secrets and (secrets_file is not None or mask_secrets):
        msg = "--no-secrets cannot be combined with --secrets-file or --mask-secrets"
        raise InputError(msg)
    if secrets_file is not None and not secrets_file.is_file():
        # A FIFO or a device would hang or never end; a directory cannot be read.
        what = "does not exist" if not secrets_file.exists() else "is not a regular file"
        msg = f"--secrets-file {secrets_file}: {what}"
        raise InputError(msg)
    request = build_request(
        app_dir,
        environ=environ,
        env=env,
        release_name=release_name,
        namespace=namespace,
        kube_version=kube_version,
        api_versions=api_versions,
        value_files=values,
        set_values=set_values,
        secrets=SecretOptions(
            secrets_file=secrets_file.resolve() if secrets_file is not None else None,
            no_secrets=no_secrets,
            mask_secrets=mask_secrets,
        ),
        verbose=verbose,
    )
    meta[APP_META_KEY] = request.label
    deadline.begin(environ, request.app_dir, request.repo_root)
    docs = run_pipeline(request)
    if validate or strict:
        from lsp_render.workflows.validation import validate_documents

        report = validate_documents(
            docs, kube_version=request.kube_version, strict=strict, label=request.label
        )
        sys.stderr.write(f"lsp-render: {request.label}: {report.summary()}\n")
    write_stdout(encode_stream(docs))


_ENGINE_SERVER = "lsp_render.sources.helm.engine_child:serve_engine"


def _prefork_helm_engine(app_dir: Path) -> None:
    """Fork the embedded Helm engine's child now when ``app_dir`` holds a chart.

    Only when the render will use the embedded engine: no ``LSP_RENDER_HELM``
    and no ``helm`` on ``PATH`` (:func:`lsp_render.sources.helm.binary.find_helm_binary`'s
    rule, mirrored without importing it or shutil). A render that ends up not
    calling the engine (another kind in ``lsp-render.yaml``, an input error)
    kills the child at exit; one that does kills it as soon as Helm answered.
    """
    import os

    from lsp_render.core import prefork

    try:
        if os.environ.get("LSP_RENDER_HELM") or not prefork.can_fork() or _on_path("helm"):
            return
        if (app_dir / "Chart.yaml").is_file():
            prefork.fork_server(_ENGINE_SERVER, keep=True, one_shot=True)
    except OSError:
        return  # an unreadable directory: the render reports it; the engine starts later if needed


def _on_path(name: str) -> bool:
    """Tell whether ``shutil.which(name)`` would find an executable on ``PATH``."""
    import os

    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = Path(directory or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return True
    return False


def write_stdout(text: str | bytes) -> None:
    """Write ``text`` to stdout (a str as UTF-8) and flush it."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def report_error(message: str, app: str | None) -> None:
    """Print ``lsp-render: [APP: ]MESSAGE`` as one line on stderr."""
    if app and not message.startswith(app):
        message = f"{app}: {message}"
    sys.stderr.write(f"lsp-render: {message}\n")
    sys.stderr.flush()
