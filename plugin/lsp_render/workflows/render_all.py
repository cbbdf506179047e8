"""``render-all``: render every (application, environment) pair of a repository in parallel.

Pairs run in a pool of worker processes and each worker renders many pairs
in-process, so the Helm engine loads once per worker. Workers are forked
from this process when that is safe (it has not loaded the engine's Go
runtime, which does not survive a fork, and runs no other thread): they
then start at once with every module already imported. Otherwise (a test
process, an embedding program) they come from a ``forkserver``, a clean
interpreter that preloads the pure-Python modules only. A task is one
application with all its environments, so a chart's dependencies are built
once per worker that renders it; scratch spaces stay private to each render.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import ExitCode
from lsp_render.core.prefork import single_threaded
from lsp_render.workflows.applications import Skipped, plan_applications
from lsp_render.workflows.discovery import Pair, discover_pairs
from lsp_render.workflows.progress import make_progress
from lsp_render.workflows.worker import (
    PER_APP_VARIABLES,
    PairResult,
    RenderJob,
    init_worker,
    render_pairs,
    render_pairs_in_worker,
)

__all__ = ["PRELOAD", "RenderAllReport", "plan_tasks", "render_all", "run_pairs"]


@dataclass(frozen=True)
class RenderAllReport:
    """The results of a run.

    Attributes
    ----------
    results
        One result per pair, in :attr:`Pair.sort_key` order.
    wall_seconds
        Wall-clock time of the renders.
    jobs
        Worker processes used (1: in-process).
    skipped
        ``--from-applications``: the Applications not rendered, and why.
    notes
        Lines the user should read (e.g. how the repository's URL was decided).
    """

    results: tuple[PairResult, ...]
    wall_seconds: float
    jobs: int
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[PairResult, ...]:
        """The pairs that failed."""
        return tuple(result for result in self.results if not result.ok)

    @property
    def exit_code(self) -> int:
        """0 when every pair rendered, else 1."""
        return int(ExitCode.RENDER_FAILED) if self.failed else int(ExitCode.OK)


def plan_tasks(pairs: Sequence[Pair], jobs: int) -> list[list[Pair]]:
    """Split pairs into pool tasks: one per application, or one per pair when apps are few.

    The largest tasks go first, so no worker is left with a long task at the end.
    """
    by_app = [
        list(group) for _, group in groupby(sorted(pairs, key=lambda p: p.rel), key=lambda p: p.rel)
    ]
    if len(by_app) < 2 * jobs:
        return [[pair] for pair in sorted(pairs, key=lambda p: p.sort_key)]
    return sorted(by_app, key=len, reverse=True)


# Imported by the forkserver before it forks workers: pure Python only, never the
# Helm engine (tests/render_all_test.py checks that they do not load it).
PRELOAD = (
    "lsp_render.workflows.worker",
    "lsp_render.pipeline",
    "lsp_render.argocd.request",
    "lsp_render.sources.helm.binary",
    "lsp_render.sources.helm.embedded",
    "lsp_render.sources.helm.output",
    "lsp_render.sources.helm.schema_refs",
    "lsp_render.secrets",
)
_GO_ENGINE = "helm_python"


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _GO_ENGINE not in sys.modules and single_threaded():
        for name in PRELOAD:
            importlib.import_module(name)
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(PRELOAD))
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux


def _died(pairs: Sequence[Pair], reason: str) -> list[PairResult]:
    return [PairResult(pair, int(ExitCode.RENDER_FAILED), 0, 0.0, reason) for pair in pairs]


def _has_charts(pairs: Sequence[Pair]) -> bool:
    """Tell whether some pair is a chart or an Argo CD Application (workers start Helm early)."""
    return any(
        pair.application is not None or (pair.app_dir / "Chart.yaml").is_file() for pair in pairs
    )


def run_pairs(
    pairs: Sequence[Pair],
    job: RenderJob,
    *,
    jobs: int,
    on_result: Callable[[PairResult], None] = lambda result: None,
) -> RenderAllReport:
    """Render every pair, ``jobs`` at a time.

    Parameters
    ----------
    pairs
        The pairs to render.
    job
        Settings shared by every pair.
    jobs
        Number of worker processes; 1 renders in this process.
    on_result
        Called in this process for each finished pair (progress).

    Returns
    -------
    RenderAllReport
        Every pair's result, sorted.
    """
    start = time.perf_counter()
    results: list[PairResult] = []
    tasks = plan_tasks(pairs, jobs)
    workers = min(jobs, len(tasks))
    with _shared_reads(job, workers) as shared:
        if workers <= 1:
            for task in tasks:
                for result in render_pairs(task, job):
                    results.append(result)
                    on_result(result)
        else:
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_context(),
                initializer=init_worker,
                initargs=(job, shared, _has_charts(pairs)),
            ) as pool:
                futures: dict[Future[list[PairResult]], list[Pair]] = {
                    pool.submit(render_pairs_in_worker, task): task for task in tasks
                }
                try:
                    _collect(futures, results, on_result)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    ordered = sorted(results, key=lambda result: result.pair.sort_key)
    return RenderAllReport(tuple(ordered), time.perf_counter() - start, max(1, workers))


@contextlib.contextmanager
def _shared_reads(job: RenderJob, workers: int) -> Iterator[Any]:
    """Share Vault reads between the run's renders (``secrets/backends/shared_reads.py``).

    Only when the renders may read Vault and ``LSP_RENDER_SECRET_CACHE_TTL`` is not
    0: in this process for one worker, else in a manager process the workers reach.
    """
    from lsp_render.secrets.backends import shared_reads

    ttl = shared_reads.ttl_from(job.environ)
    vault = not job.secrets.no_secrets and job.secrets.secrets_file is None
    if not (vault and ttl > 0 and job.environ.get("VAULT_ADDR")):
        yield None
        return
    if workers <= 1:
        shared_reads.install(shared_reads.SharedReads(ttl))
        try:
            yield None
        finally:
            shared_reads.install(None)
        return
    manager, proxy = shared_reads.start_manager(ttl)
    try:
        yield proxy
    finally:
        manager.shutdown()  # the values read go with its memory


def _collect(
    futures: dict[Future[list[PairResult]], list[Pair]],
    results: list[PairResult],
    on_result: Callable[[PairResult], None],
) -> None:
    from concurrent.futures import as_completed

    for future in as_completed(futures):
        try:
            batch = future.result()
        except BrokenProcessPool:
            batch = _died(futures[future], "a worker process died (out of memory or killed)")
        except Exception as exc:
            batch = _died(
                futures[future], f"internal error in the worker pool ({type(exc).__name__})"
            )
        for result in batch:
            results.append(result)
            on_result(result)


def _changed_pairs(
    pairs: list[Pair],
    root: Path,
    environ: Mapping[str, str],
    revision: str,
    from_applications: Path | None,
) -> tuple[list[Pair], tuple[str, ...]]:
    from lsp_render.core.paths import find_repo_root
    from lsp_render.workflows.changes import changed_files, select_changed

    repo_root = find_repo_root(root, environ).resolve()
    changed, _base = changed_files(repo_root, revision, environ)
    aoa = from_applications.resolve() if from_applications is not None else None
    chosen = select_changed(pairs, changed, repo_root, environ, revision=revision, app_of_apps=aoa)
    return list(chosen.pairs), chosen.notes


def render_all(
    root: Path,
    *,
    environ: Mapping[str, str],
    jobs: int,
    envs: Sequence[str] = (),
    output_dir: Path | None = None,
    secrets: SecretOptions | None = None,
    progress_stream: TextIO | None = None,
    from_applications: Path | None = None,
    repo_urls: Sequence[str] = (),
    validate: bool = False,
    strict: bool = False,
    changed_since: str | None = None,
) -> RenderAllReport:
    """Find and render every (application, environment) pair under ``root``.

    Parameters
    ----------
    root
        The repository (or part of it) to render.
    environ
        The environment; the Argo CD variables that name one application
        (:data:`~lsp_render.workflows.worker.PER_APP_VARIABLES`) are dropped.
    jobs
        Worker processes.
    envs
        Restrict to these environments.
    output_dir
        Write ``DIR/<env>/<app>.yaml`` per rendered pair.
    secrets
        Secret backend options.
    progress_stream
        Where progress goes (a bar on a terminal, else lines); None: silent.
    from_applications
        Render the Argo CD Applications of this app-of-apps chart or manifest
        directory (:mod:`~lsp_render.workflows.applications`) instead of the
        directories lsp-render finds.
    repo_urls
        This repository's URLs for ``from_applications`` (default: its git remotes).
    validate, strict
        Check each render against Kubernetes and CRD schemas (``--validate``), and
        fail on kinds without a schema (``--strict``).
    changed_since
        Render only the pairs whose inputs changed since this git revision
        (:mod:`~lsp_render.workflows.changes`).

    Returns
    -------
    RenderAllReport
        Every pair's result.

    Raises
    ------
    InputError
        When no application is found or the repository configuration is malformed.
    """
    env = {
        k: v
        for k, v in environ.items()
        if k not in PER_APP_VARIABLES and not k.startswith("ARGOCD_ENV_")
    }
    root = root.resolve()
    out = output_dir.resolve() if output_dir is not None else None
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()
    if from_applications is not None:
        found = plan_applications(root, from_applications, env, envs, repo_urls=repo_urls)
        pairs, skipped, notes = list(found.pairs), found.skipped, found.notes
    else:
        pairs = discover_pairs(root, env, envs, exclude=out)
    if changed_since is not None:
        pairs, more = _changed_pairs(pairs, root, env, changed_since, from_applications)
        notes = (*notes, *more)
    if out is not None:  # nothing written through a link out of the output directory
        from lsp_render.core.safewrite import check_no_links

        rels = [pair.output_path(out).relative_to(out) for pair in pairs]
        check_no_links(out, rels, what="--output-dir")
    job = RenderJob(
        environ=env,
        secrets=secrets or SecretOptions(),
        output_dir=out,
        validate=validate or strict,
        strict=strict,
    )
    if progress_stream is None:
        report = run_pairs(pairs, job, jobs=jobs)
    else:
        with make_progress(progress_stream, len(pairs)) as progress:
            report = run_pairs(pairs, job, jobs=jobs, on_result=progress.advance)
    return replace(report, skipped=skipped, notes=notes)
