"""One deadline for a whole Argo CD request: ``init``, both engine runs and Vault.

Argo CD gives a manifest request one deadline (``controller.repo.server.timeout.seconds``
and ``server.repo.server.timeout.seconds``, 60 s by default) that covers tarring the
repository, ``init`` and ``generate``; when it passes, the command's process group
gets SIGTERM, then SIGKILL. ``ARGOCD_EXEC_TIMEOUT`` does not apply to plugin commands
(argo-cd ``cmpserver/plugin/plugin.go`` runs them under the request's context only).

``LSP_RENDER_DEADLINE`` (seconds, default 45) is lsp-render's share of it: from the
start of the request to the end of ``render``. Under Argo CD (``ARGOCD_APP_SOURCE_PATH``
is set and the repository is the sidecar's per-request copy, ``<workdir>/_cmp_server/<id>``)
the request starts when the sidecar unpacked the repository: the modification
time of the copy's root or of the application directory, whichever is earlier, so
``init`` and ``render`` spend one budget; a time more than ten minutes old (not a fresh
copy: no Argo CD request lasts that long) is ignored. Elsewhere it starts with the
command. Each engine
subprocess's timeout and the Vault budget are cut to what is left of it
(``LSP_RENDER_ENGINE_TIMEOUT`` and ``LSP_RENDER_VAULT_BUDGET`` still bound each part),
and no engine starts once it has passed. The embedded Helm engine runs in-process
and cannot be stopped midway; the steps after it get what it left.

The deadline belongs to the process: ``lsp-render render`` and ``lsp-render init``
set it; ``render-all`` and ``diff`` do not (no Argo CD request to fit into).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from lsp_render.core.errors import InputError, RenderError

__all__ = [
    "DEADLINE_VARIABLE",
    "DEFAULT_DEADLINE",
    "begin",
    "check",
    "clamp",
    "describe",
    "end",
    "remaining",
]

DEFAULT_DEADLINE = 45.0
"""Seconds, below Argo CD's 60 s, leaving time for tarring and sending the repository."""

DEADLINE_VARIABLE = "LSP_RENDER_DEADLINE"

# A copy unpacked longer ago than this is a checkout, not Argo CD's per-request copy.
_FRESH_COPY = 600.0
# Where argocd-cmp-server unpacks each request's tarball: <workdir>/_cmp_server/<random>/.
_CMP_COPIES = "_cmp_server"

_state: dict[str, float] = {}


def _seconds(environ: Mapping[str, str]) -> float:
    text = environ.get(DEADLINE_VARIABLE, "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        msg = f"{DEADLINE_VARIABLE} must be a positive number of seconds, not '{text}'"
        raise InputError(msg)
    return value


def _copy_time(paths: tuple[Path, ...]) -> float | None:
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return min(times) if times else None


def _in_cmp_copy(repo_root: Path) -> bool:
    """Tell whether ``repo_root`` is Argo CD's per-request copy (``<workdir>/_cmp_server/<id>``).

    Anything else (a checkout, a CI clone, tests' data) is not unpacked per request, so
    its modification time says nothing about when a request began.
    """
    return repo_root.parent.name == _CMP_COPIES


def begin(environ: Mapping[str, str], app_dir: Path, repo_root: Path) -> None:
    """Start the request's deadline (``render`` and ``init`` call this first).

    Parameters
    ----------
    environ
        The environment: ``LSP_RENDER_DEADLINE``, and ``ARGOCD_APP_SOURCE_PATH``
        telling that this runs in Argo CD's copy of the repository.
    app_dir, repo_root
        The application directory and the root of the copy (resolved).

    Raises
    ------
    InputError
        When ``LSP_RENDER_DEADLINE`` is not a positive number.
    """
    seconds = _seconds(environ)
    _state["seconds"] = seconds
    _state["at"] = _start(environ, app_dir, repo_root, time.time()) + seconds


def _start(environ: Mapping[str, str], app_dir: Path, repo_root: Path, now: float) -> float:
    """When the request began: Argo CD's fresh copy's unpacking, else ``now``."""
    if environ.get("ARGOCD_APP_SOURCE_PATH", "").strip() and _in_cmp_copy(repo_root):
        unpacked = _copy_time((repo_root, app_dir))
        if unpacked is not None and now - _FRESH_COPY < unpacked <= now:
            return unpacked
    return now


def passed_already(environ: Mapping[str, str], app_dir: Path) -> bool:
    """Tell, before :func:`begin`, whether the deadline :func:`begin` will set has passed.

    For work started before the render knows its repository (the early
    Kustomize build): the copy is the nearest ancestor of ``app_dir`` that
    Argo CD unpacked (``_cmp_server/<id>``). A malformed ``LSP_RENDER_DEADLINE``
    counts as passed: the render reports it, and nothing should start first.
    """
    try:
        seconds = _seconds(environ)
        resolved = app_dir.resolve()
    except (InputError, OSError, RuntimeError):
        return True
    root = next((p for p in (resolved, *resolved.parents) if _in_cmp_copy(p)), resolved)
    now = time.time()
    return _start(environ, resolved, root, now) + seconds <= now


def end() -> None:
    """Forget the deadline (for code that renders many requests in one process)."""
    _state.clear()


def remaining() -> float | None:
    """Return the seconds left before the deadline, or None when none was set."""
    at = _state.get("at")
    return None if at is None else at - time.time()


def describe() -> str:
    """Name the deadline for messages: ``the request's deadline (LSP_RENDER_DEADLINE=45 s)``."""
    return f"the request's deadline ({DEADLINE_VARIABLE}={_state.get('seconds', 0):g} s)"


def check(what: str) -> None:
    """Refuse to start ``what`` once the deadline has passed.

    Raises
    ------
    RenderError
        When the deadline has passed.
    """
    left = remaining()
    if left is not None and left <= 0:
        msg = f"{what}: not started, {describe()} has passed"
        raise RenderError(msg)


def clamp(timeout: float) -> float:
    """Return ``timeout`` cut to what is left of the deadline (at least 0.01 s)."""
    left = remaining()
    return timeout if left is None else max(0.01, min(timeout, left))
