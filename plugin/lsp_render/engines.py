"""Run an external engine (kustomize, kubectl, helm): argv only, a timeout, no shell."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from lsp_render.errors import InputError, RenderError

__all__ = ["DEFAULT_TIMEOUT", "engine_timeout", "run_engine"]

DEFAULT_TIMEOUT = 45.0

# Engine messages can be long (Go stack traces); keep the line readable.
_MAX_MESSAGE = 800


def engine_timeout(environ: Mapping[str, str]) -> float:
    """Read ``LSP_RENDER_ENGINE_TIMEOUT`` (seconds), default 45 (below Argo CD's 60 s)."""
    text = environ.get("LSP_RENDER_ENGINE_TIMEOUT", "")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        msg = f"LSP_RENDER_ENGINE_TIMEOUT must be a number of seconds, not '{text}'"
        raise InputError(msg) from None
    if value <= 0:
        msg = "LSP_RENDER_ENGINE_TIMEOUT must be positive"
        raise InputError(msg)
    return value


def run_engine(
    argv: Sequence[str],
    *,
    what: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Run ``argv`` and return its stdout; any failure is one RenderError line.

    The engine runs in its own process group so that a timeout kills it and
    everything it started.

    Parameters
    ----------
    argv
        The command and its arguments, each one separate (never a shell line).
    what
        Names the engine and the app for messages (``kustomize build apps/web``).
    cwd
        Working directory.
    stdin
        Text fed on standard input.
    timeout
        Seconds before the engine is killed.

    Raises
    ------
    RenderError
        When the engine is missing, fails, is killed, or times out.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        msg = f"{what}: cannot run {argv[0]}: {exc.strerror}"
        raise RenderError(msg) from None
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        msg = f"{what}: {Path(argv[0]).name} did not finish within {timeout:g} s"
        raise RenderError(msg) from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        detail = _last_lines(err.decode("utf-8", "replace"))
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            msg = f"{what}: {Path(argv[0]).name} was killed by {name}"
        else:
            msg = f"{what}: {detail or f'exit status {proc.returncode}'}"
        raise RenderError(msg)
    return out.decode("utf-8")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _last_lines(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    message = " ".join(lines[-3:]) if lines else ""
    return message[:_MAX_MESSAGE]
