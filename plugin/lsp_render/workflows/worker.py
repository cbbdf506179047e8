"""Render one (application, environment) pair exactly as ``lsp-render render`` would.

This runs inside the worker processes of ``render-all`` (and in-process for
``--jobs 1``). The Helm engine is imported by the first pair a worker renders
and then stays loaded, so each worker pays for it once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import ExitCode, LspRenderError, innermost_frame
from lsp_render.core.manifests import Document
from lsp_render.core.safewrite import unlink_below, write_below
from lsp_render.workflows.discovery import Pair

__all__ = [
    "PER_APP_VARIABLES",
    "PairResult",
    "RenderJob",
    "init_worker",
    "render_pair",
    "render_pairs",
    "render_pairs_in_worker",
]

# Argo CD variables that describe ONE application; render-all renders many.
PER_APP_VARIABLES = (
    "ARGOCD_APP_NAME",
    "ARGOCD_APP_NAMESPACE",
    "ARGOCD_APP_SOURCE_PATH",
    "ARGOCD_APP_PARAMETERS",
    "ARGOCD_ENV_ENV",
)


@dataclass(frozen=True, slots=True)
class RenderJob:
    """What every pair of a ``render-all`` run shares.

    Attributes
    ----------
    environ
        The environment, without the per-application Argo CD variables.
    secrets
        Secret backend options.
    output_dir
        ``--output-dir`` (absolute), or None.
    validate, strict
        ``--validate`` and ``--strict``: check each render against its schemas.
    """

    environ: Mapping[str, str]
    secrets: SecretOptions
    output_dir: Path | None = None
    validate: bool = False
    strict: bool = False


@dataclass(frozen=True, slots=True)
class PairResult:
    """The outcome of one pair.

    Attributes
    ----------
    pair
        The pair.
    exit_code
        What ``lsp-render render`` would have exited with (0: rendered).
    objects
        Number of documents rendered (0 on failure).
    seconds
        Time spent on this pair.
    message
        One line on failure (never a secret value), else None.
    checked
        With ``--validate``: objects checked against a schema.
    unknown
        With ``--validate``: objects without schema, as ``(apiVersion kind, count)``.
    """

    pair: Pair
    exit_code: int
    objects: int
    seconds: float
    message: str | None = None
    checked: int = 0
    unknown: tuple[tuple[str, int], ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the pair rendered."""
        return self.exit_code == 0


def _strip_label(message: str, labels: Sequence[str]) -> str:
    for label in labels:
        if label and message.startswith(f"{label}: "):
            return message[len(label) + 2 :]
    return message


def _write(output_dir: Path, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, never through a link out of ``output_dir``."""
    write_below(output_dir, path.relative_to(output_dir), data)


def render_pair(pair: Pair, job: RenderJob) -> PairResult:
    """Render one pair; with an output directory, write (or on failure remove) its file.

    Parameters
    ----------
    pair
        The application and environment.
    job
        The settings every pair shares.

    Returns
    -------
    PairResult
        The outcome; failures are reported in it, never raised.
    """
    from lsp_render.argocd.request import build_request
    from lsp_render.core.manifests import encode_stream
    from lsp_render.pipeline import render

    start = time.perf_counter()
    labels = [pair.rel, pair.app_dir.name]
    try:
        if pair.application is not None:
            docs = _render_application(pair, job)
        else:
            request = build_request(
                pair.app_dir, environ=job.environ, env=pair.env, secrets=job.secrets
            )
            labels.insert(0, request.label)
            docs = render(request)
        checked, unknown = _validate(docs, job, labels[0]) if job.validate else (0, ())
        data = encode_stream(docs)
        if job.output_dir is not None:
            _write(job.output_dir, pair.output_path(job.output_dir), data)
    except LspRenderError as exc:
        code, message = int(exc.exit_code), _strip_label(exc.message, labels)
    except Exception as exc:
        code = int(ExitCode.RENDER_FAILED)
        where = innermost_frame(exc)
        message = f"internal error ({type(exc).__name__} at {where}); please report it"
    else:
        seconds = time.perf_counter() - start
        return PairResult(pair, 0, len(docs), seconds, checked=checked, unknown=unknown)
    if job.output_dir is not None:
        # No stale success; never through a link out of the output directory.
        path = pair.output_path(job.output_dir)
        unlink_below(job.output_dir, path.relative_to(job.output_dir))
    return PairResult(pair, code, 0, time.perf_counter() - start, message)


def _validate(
    docs: Sequence[Document], job: RenderJob, label: str
) -> tuple[int, tuple[tuple[str, int], ...]]:
    from lsp_render.workflows.validation import validate_documents

    report = validate_documents(
        docs, kube_version=job.environ.get("KUBE_VERSION"), strict=job.strict, label=label
    )
    return report.checked, tuple(sorted(report.unknown.items()))


def _render_application(pair: Pair, job: RenderJob) -> list[Document]:
    from lsp_render.workflows.appsource import render_application

    assert pair.application is not None  # noqa: S101 - checked by the caller
    return render_application(
        pair.application,
        pair.repo_root or pair.app_dir,
        environ=job.environ,
        secrets=job.secrets,
    )


def render_pairs(pairs: Sequence[Pair], job: RenderJob) -> list[PairResult]:
    """Render several pairs in order (one task of the pool: usually one application)."""
    return [render_pair(pair, job) for pair in pairs]


_JOB: RenderJob | None = None


def init_worker(job: RenderJob, shared_reads: Any = None, charts: bool = False) -> None:
    """Pool initializer: remember the shared settings once per worker process.

    ``shared_reads`` is the run's proxy of shared Vault reads (or None). With
    ``charts`` (some pair is a chart) and the embedded engine in use, the
    worker's engine child is started now: Helm's library loads while the
    worker plans its first pair.

    Each worker is one of ``--jobs`` processes sharing the CPUs, so the helm or
    kustomize binaries it starts get one CPU for their Go runtime unless
    ``GOMAXPROCS`` says otherwise. The embedded engine's child, forked, reads
    Go's settings from the environment the command started with, never from
    this one (:mod:`lsp_render.cli.goenv`: render-all starts with ``GOGC=400``).
    """
    global _JOB  # noqa: PLW0603 - one job per worker process
    _JOB = job
    if shared_reads is not None:
        from lsp_render.secrets.backends import shared_reads as reads

        reads.install(shared_reads)
    os.environ.setdefault("GOMAXPROCS", "1")
    if charts:
        _prestart_engine()


def _prestart_engine() -> None:
    from lsp_render.core.errors import InputError
    from lsp_render.sources.helm.binary import find_helm_binary
    from lsp_render.sources.helm.engine_child import prestart_engine_child

    try:
        if find_helm_binary() is not None:
            return  # the helm binary renders: no child
    except InputError:
        return  # LSP_RENDER_HELM names no binary: the render reports it
    prestart_engine_child()


def render_pairs_in_worker(pairs: Sequence[Pair]) -> list[PairResult]:
    """Render pairs with the settings :func:`init_worker` stored."""
    if _JOB is None:  # pragma: no cover - the pool always runs the initializer
        msg = "worker used without init_worker"
        raise RuntimeError(msg)
    return render_pairs(pairs, _JOB)
