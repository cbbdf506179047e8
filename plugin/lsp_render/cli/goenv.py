"""Go runtime settings for commands whose engine children render many charts.

Helm's embedded engine is a Go shared library. Its runtime reads ``GOGC`` (and
every other ``GO*`` variable) once, when it is loaded, and not from the
process's current environment: from the block the kernel set up at ``exec``,
right after ``argv``. Setting ``os.environ["GOGC"]`` in Python before the
library loads changes nothing (measured: a kube-prometheus-stack render kept
its 165 MB with ``GOGC=off`` set that way, and grew to 459 MB with it set at
exec).

render-all's engine children each render chart after chart with a small live
heap, so at Go's default pace (``GOGC=100``) the collector ran about a fifth of
the run's CPU: over Phalanx at ``--jobs 2``, ``GOGC=400`` took the whole command
from 2.6-2.9 s to 2.1-2.3 s (CPU 5.0 -> 3.9 s), each engine child then peaking
at about 140 MB instead of 110 MB. So ``render-all``, started without ``GOGC``,
replaces itself once, first thing, by the same command with ``GOGC=400`` in its
environment (about 25 ms: an interpreter start). An operator's ``GOGC`` is kept
as it is. ``lsp-render render`` never does: one render gains little and its
peak memory is a goal of its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

__all__ = ["GO_ENVIRON", "reexec_with_go_environ"]

GO_ENVIRON = {"GOGC": "400"}
"""What render-all's processes (and with them every engine child) start with, unless set."""

_COMMANDS = frozenset({"render-all"})


def reexec_with_go_environ(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """Replace this process by the same command with :data:`GO_ENVIRON` when it runs render-all.

    Returns (doing nothing) for another command, when every variable is set
    already, or where the interpreter's own command line is unknown or exec
    fails: the command then runs as it is.

    Parameters
    ----------
    argv
        The command's arguments, without the program name.
    environ
        The process's environment.
    """
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command not in _COMMANDS:
        return
    missing = {name: value for name, value in GO_ENVIRON.items() if name not in environ}
    original = getattr(sys, "orig_argv", None)
    if not missing or not original or not sys.executable or not hasattr(os, "fork"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, *original[1:]], {**environ, **missing})  # noqa: S606 - this very command again
    except OSError:
        return
