"""Which Kustomize runs, and a Kustomize app's build started before the render path loads.

``lsp-render render`` of a Kustomize app spent about 70 ms importing, planning
and checking before ``kubectl kustomize`` (itself about 45 ms) even started.
:func:`prestart` starts the build first thing, from the files alone, in a new
empty network namespace, while the CLI imports and plans the render as
always; :func:`claim` hands it to :func:`lsp_render.sources.kustomize.build`
only when the build that one would run is exactly this one (same argv, no
network needed), after the kustomization tree passed the confinement check
(:func:`lsp_render.sources.kustomize.check_references`). Otherwise it is
killed with everything it started and its output is never read: at once when
the render's build differs, at exit when the render never got there (another
kind, an error before).

So an unchecked tree is built early, but only where it can reach no network
(no namespace, no early build), and nothing it read is used unless the check
passes: what a refused tree's build read outside the repository stays in a
process that is killed. The early build is started only for the plain case
that the files alone decide: a kustomization file, no ``Chart.yaml``, no
``lsp-render.yaml`` (it may change the kind, the path or ``enableHelm``) and
no operator policy (``LSP_RENDER_POLICY`` may allow hosts or Helm charts).
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from lsp_render.core.errors import RenderError
from lsp_render.core.filenames import CONFIG_FILE, KUSTOMIZATION_FILES, policy_file

__all__ = ["claim", "kustomize_argv", "prestart"]


def kustomize_argv(environ: Mapping[str, str]) -> list[str]:
    """Return the argv prefix that builds a kustomization (the directory follows).

    ``LSP_RENDER_KUSTOMIZE`` names the binary (``kubectl`` means ``kubectl
    kustomize``); else ``kustomize`` on PATH; else ``kubectl kustomize``.

    Raises
    ------
    RenderError
        When no engine is installed, saying what to install.
    """
    configured = environ.get("LSP_RENDER_KUSTOMIZE", "")
    if configured:
        return _argv_for(configured)
    path = environ.get("PATH")
    for name in ("kustomize", "kubectl"):
        found = shutil.which(name, path=path)
        if found:
            return _argv_for(found)
    msg = "no Kustomize engine: install kustomize or kubectl, or set LSP_RENDER_KUSTOMIZE"
    raise RenderError(msg)


def _argv_for(binary: str) -> list[str]:
    if Path(binary).name.startswith("kubectl"):
        return [binary, "kustomize"]
    return [binary, "build"]


_early: tuple[list[str], subprocess.Popen[bytes]] | None = None


def prestart(app_dir: Path, environ: Mapping[str, str]) -> None:
    """Start the build of ``app_dir`` now when its files alone say it is a Kustomize app.

    Does nothing elsewhere, where the process has another thread, or where no
    empty network namespace can be made
    (:func:`lsp_render.core.engines.start_isolated_engine`).
    """
    global _early  # noqa: PLW0603 - one early build per process
    if _early is not None or not sys.platform.startswith("linux"):
        return
    if policy_file(environ):
        return
    try:
        if not any((app_dir / name).is_file() for name in KUSTOMIZATION_FILES):
            return
        if (app_dir / "Chart.yaml").exists() or (app_dir / CONFIG_FILE).exists():
            return
        argv = [*kustomize_argv(environ), str(app_dir.resolve())]
    except (OSError, RenderError):
        return  # the render reports it
    from lsp_render.core import deadline
    from lsp_render.core.engines import start_isolated_engine

    if deadline.passed_already(environ, app_dir):
        return  # no engine starts past the request's deadline

    proc = start_isolated_engine(argv, what="kustomize build")
    if proc is not None:
        _early = (argv, proc)
        atexit.register(_discard)


def claim(argv: Sequence[str], *, network: bool) -> subprocess.Popen[bytes] | None:
    """Take the early build if it is exactly ``argv`` and needs no network; else end it.

    The caller waits for it (:func:`lsp_render.core.engines.wait_engine`) or
    stops it.
    """
    global _early
    early, _early = _early, None
    if early is None:
        return None
    started, proc = early
    if network or started != list(argv):
        _stop(proc)
        return None
    return proc


def _discard() -> None:
    """At exit: end an early build nobody claimed (another kind, an error before the build)."""
    global _early
    early, _early = _early, None
    if early is not None:
        _stop(early[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    from lsp_render.core.engines import stop_engine

    stop_engine(proc)
