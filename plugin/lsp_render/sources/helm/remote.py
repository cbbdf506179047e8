"""Remote charts: ``helm: {repo: URL, name: NAME, version: X.Y.Z}`` in ``lsp-render.yaml``.

:func:`fetch_remote_chart` ties the steps together, one module each: the reference
and credentials (:mod:`.remote_ref`), the pull over an HTTP(S) chart repository or
an OCI registry (:mod:`.remote_pull`), the shared cache (:mod:`.remote_cache`) and
the safe unpacking (:mod:`.remote_archive`).

The chart archive is pulled once (``helm pull`` with the binary engine, Helm's
own pull through ``helm-python-sdk`` otherwise), kept in a cache shared by
every process of the user, and unpacked into this process's private scratch
space, where it is rendered like a local chart.

Cache: ``$XDG_CACHE_HOME/lsp-render/charts`` (else ``~/.cache/lsp-render/charts``),
a 0700 directory of 0600 ``<sha256 of repo, name, version>.tgz`` files written
by atomic rename. A file that is not a readable chart archive is dropped and
pulled again; a directory that cannot be used just disables the cache. Only
exact versions are accepted, so a cached archive never goes stale.

Sidecar settings (never from the Application: ``ARGOCD_ENV_*`` are other names):

``LSP_RENDER_HELM_REPO_USERNAME``, ``LSP_RENDER_HELM_REPO_PASSWORD``
    Credentials for a private repository or registry (both or neither).
``LSP_RENDER_HELM_REPO_URL``
    Which repository they belong to (a URL prefix, or several separated by
    commas); required with the credentials, so that an Application naming its
    own server can never collect them.
``LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES``
    ``host[:port]`` of OCI registries spoken to over plain HTTP (comma-separated).
``LSP_RENDER_ENGINE_TIMEOUT``
    Seconds a pull may take (default 45).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from lsp_render.core.engines import engine_timeout
from lsp_render.core.errors import RenderError
from lsp_render.sources.helm.remote_archive import extract_chart
from lsp_render.sources.helm.remote_cache import cache_dir, drop, read_cached, store, usable_cache
from lsp_render.sources.helm.remote_pull import pull_archive
from lsp_render.sources.helm.remote_ref import (
    Credentials,
    RemoteChart,
    RemoteChartConfig,
    credentials_for,
    parse_remote_chart,
)

__all__ = [
    "Credentials",
    "RemoteChart",
    "RemoteChartConfig",
    "cache_dir",
    "credentials_for",
    "extract_chart",
    "fetch_remote_chart",
    "parse_remote_chart",
]

_lock = threading.Lock()
_extracted: dict[str, Path] = {}
_scratch: list[Path] = []  # this process's scratch directory, created on first use
_owner_pid = os.getpid()


def fetch_remote_chart(helm: RemoteChartConfig, *, where: str, environ: Mapping[str, str]) -> Path:
    """Make a remote chart available locally and return its directory.

    The archive comes from the cache or is pulled (then cached), and is
    unpacked into this process's private scratch space, which is removed when
    the process exits. Within one process a chart is unpacked once.

    Parameters
    ----------
    helm
        The ``helm`` section (``repo``, ``name``, ``version``).
    where
        Names ``lsp-render.yaml`` in messages.
    environ
        The sidecar's environment (credentials, timeout, cache location).

    Returns
    -------
    Path
        The unpacked chart directory (holds ``Chart.yaml``).

    Raises
    ------
    InputError
        Malformed ``helm`` keys or credential settings.
    RenderError
        The repository is unreachable, the chart or version does not exist,
        the pull timed out, or the archive is not a safe chart archive.
    """
    chart = parse_remote_chart(helm, where=where)
    creds = credentials_for(chart, environ)
    timeout = engine_timeout(environ)
    with _lock:
        if _owner_pid != os.getpid():
            _reset_after_fork()
        done = _extracted.get(chart.key)
        if done is not None and (done / "Chart.yaml").is_file():
            return done
        work = _process_scratch() / chart.key[:32]
        cache = usable_cache(cache_dir(environ))
        cached = read_cached(cache, chart)
        chart_dir: Path | None = None
        if cached is not None:
            try:
                chart_dir = extract_chart(cached, work / "chart", chart)
            except RenderError:
                drop(cache, chart)
        if chart_dir is None:
            data = pull_archive(chart, creds, environ, work, timeout)
            chart_dir = extract_chart(data, work / "chart", chart)
            store(cache, chart, data)
        _extracted[chart.key] = chart_dir
        return chart_dir


def _process_scratch() -> Path:
    """Return this process's private (0700) scratch directory, removed when it exits."""
    if _scratch and _scratch[0].is_dir():
        return _scratch[0]
    _scratch.clear()
    path = Path(tempfile.mkdtemp(prefix="lsp-render-remote-"))
    _scratch.append(path)
    atexit.register(_cleanup, path, os.getpid())
    # Pool workers leave through multiprocessing's exit hook, not atexit.
    from multiprocessing import util

    util.Finalize(None, _cleanup, args=(path, os.getpid()), exitpriority=0)
    return path


def _reset_after_fork() -> None:
    global _owner_pid  # noqa: PLW0603 - one scratch directory per process
    _scratch.clear()
    _extracted.clear()
    _owner_pid = os.getpid()


def _cleanup(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # a forked child never removes its parent's directory
        shutil.rmtree(path, ignore_errors=True)
