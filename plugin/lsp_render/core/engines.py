"""Run an external engine (kustomize, kubectl, helm): argv only, a timeout, no shell.

Every engine runs in its own process group and is tracked from the moment it exists
until it is reaped, so that Argo CD's deadline (SIGTERM, raised as an exception in the
main thread wherever it lands) can always kill what is still running:
:func:`defer_signal` keeps the signal while an engine is being started (an exception
inside ``Popen`` would lose the child), and :func:`kill_engines` ends the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from lsp_render.core.errors import InputError, RenderError

__all__ = [
    "DEFAULT_TIMEOUT",
    "defer_signal",
    "engine_message",
    "engine_timeout",
    "kill_engines",
    "run_engine",
    "run_process",
    "start_engine",
    "stop_engine",
    "wait_engine",
]

DEFAULT_TIMEOUT = 45.0

# Engine messages can be long (Go stack traces); keep the line readable.
_MAX_MESSAGE = 800
# kubectl logs through klog: 'E1126 18:09:36.652559   28579 run.go:72] "command failed" err="..."'.
_KLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] (.*)$")
_KLOG_ERR = re.compile(r'^"[^"]*"(?: err=("(?:[^"\\]|\\.)*"))?')

# Engines started and not reaped yet, by pid; a signal that arrived while one was starting.
_live: dict[int, subprocess.Popen[bytes]] = {}
_starting = 0
_pending: list[int] = []


def defer_signal(signum: int) -> bool:
    """Keep a signal that arrives while an engine is being started; raise it once tracked.

    For the SIGTERM handler: an exception raised inside ``subprocess.Popen`` after the
    fork leaves a child nobody can kill.

    Parameters
    ----------
    signum
        The signal received.

    Returns
    -------
    bool
        ``True`` when the signal was kept (the handler returns); ``False`` otherwise.
    """
    if _starting:
        _pending.append(signum)
        return True
    return False


def kill_engines() -> None:
    """Kill every engine still running, with everything it started, and reap it."""
    for proc in list(_live.values()):
        _kill_group(proc)


def _spawn(argv: Sequence[str], **options: object) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group and track it until it is reaped."""
    global _starting  # noqa: PLW0603 - one counter per process, read by the signal handler
    _starting += 1
    try:
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            list(argv), start_new_session=True, **options
        )
        _live[proc.pid] = proc
    finally:
        _starting -= 1
        if _pending and not _starting:
            signal.raise_signal(_pending.pop())  # its handler raises now, the engine is tracked
    return proc


def _reaped(proc: subprocess.Popen[bytes]) -> None:
    _live.pop(proc.pid, None)


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
        proc = run_process(argv, cwd=cwd, stdin=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise _timeout_error(argv, what, timeout) from None
    except OSError as exc:
        msg = f"{what}: cannot run {argv[0]}: {exc.strerror}"
        raise RenderError(msg) from None
    return _checked(proc, what)


def _timeout_error(argv: Sequence[str], what: str, timeout: float) -> RenderError:
    return RenderError(f"{what}: {Path(argv[0]).name} did not finish within {timeout:g} s")


def _checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            msg = f"{what}: {Path(proc.args[0]).name} was killed by {name}"
        else:
            msg = f"{what}: {engine_message(proc.stderr) or f'exit status {proc.returncode}'}"
        raise RenderError(msg)
    return proc.stdout


def start_engine(argv: Sequence[str], *, what: str) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (no stdin), for :func:`wait_engine` later.

    Lets the engine start up while the caller prepares its input (the hybrid
    starts ``kustomize build`` before Helm renders). The caller must end it
    with :func:`wait_engine` or :func:`stop_engine`.

    Raises
    ------
    RenderError
        When the program cannot be started.
    """
    try:
        return _spawn(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        msg = f"{what}: cannot run {argv[0]}: {exc.strerror}"
        raise RenderError(msg) from None


def wait_engine(proc: subprocess.Popen[bytes], *, what: str, timeout: float) -> str:
    """Wait for an engine of :func:`start_engine` and return its stdout, as :func:`run_engine`.

    Raises
    ------
    RenderError
        When the engine fails, is killed, or does not finish within ``timeout``.
    """
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise _timeout_error(proc.args, what, timeout) from None  # type: ignore[arg-type]
    except BaseException:
        _kill_group(proc)
        raise
    _reaped(proc)
    completed = subprocess.CompletedProcess(
        proc.args, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )
    return _checked(completed, what)


def stop_engine(proc: subprocess.Popen[bytes]) -> None:
    """Kill an engine of :func:`start_engine` that is no longer needed, and reap it."""
    if proc.returncode is None:
        _kill_group(proc)
    _reaped(proc)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in its own process group and capture its output (no shell, a timeout).

    On a timeout, and on any exception while waiting (SIGTERM from Argo CD's
    deadline arrives as one), the whole process group is killed, so neither the
    engine nor anything it started outlives the render.

    Parameters
    ----------
    argv
        The command and its arguments, each one separate.
    cwd
        Working directory.
    stdin
        Text fed on standard input (else ``/dev/null``).
    timeout
        Seconds before the process group is killed.

    Returns
    -------
    subprocess.CompletedProcess
        The return code (negative: killed by that signal) and decoded output.

    Raises
    ------
    subprocess.TimeoutExpired
        After killing the process group.
    OSError
        When the program cannot be started.
    """
    proc = _spawn(
        argv,
        cwd=cwd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    _reaped(proc)
    return subprocess.CompletedProcess(
        list(argv), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    # The pipes may be held open by nothing now; do not wait on them, only reap.
    proc.wait()
    _reaped(proc)


def engine_message(stderr: str) -> str:
    """Return an engine's error as one readable line (klog prefixes and Go quoting removed).

    Parameters
    ----------
    stderr
        Everything the engine wrote on stderr.

    Returns
    -------
    str
        Its last lines joined, ``Error:`` and klog headers stripped, at most
        800 characters.
    """
    lines = []
    for raw in stderr.strip().splitlines():
        line = raw.strip()
        klog = _KLOG.match(line)
        if klog is not None:
            line = klog.group(1)
            err = _KLOG_ERR.match(line)
            if err is not None and err.group(1):
                with contextlib.suppress(ValueError):
                    line = json.loads(err.group(1))
        line = line.removeprefix("Error: ").strip()
        if line:
            lines.append(line)
    message = " ".join(lines[-3:]) if lines else ""
    return message[:_MAX_MESSAGE]
