"""Run an external engine (kustomize, kubectl, helm): argv only, a timeout, no shell."""

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
    "engine_message",
    "engine_timeout",
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
    isolate: bool = False,
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
    isolate
        Start it without network where the platform allows (:mod:`lsp_render.core.netns`).

    Raises
    ------
    RenderError
        When the engine is missing, fails, is killed, or times out.
    """
    try:
        proc = run_process(argv, cwd=cwd, stdin=stdin, timeout=timeout, isolate=isolate)
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


def start_engine(
    argv: Sequence[str], *, what: str, isolate: bool = False
) -> subprocess.Popen[bytes]:
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
        return subprocess.Popen(
            _with_isolation(argv, isolate),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
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
        raise _timeout_error(_shown(proc.args), what, timeout) from None
    except BaseException:
        _kill_group(proc)
        raise
    completed = subprocess.CompletedProcess(
        _shown(proc.args),
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )
    return _checked(completed, what)


def stop_engine(proc: subprocess.Popen[bytes]) -> None:
    """Kill an engine of :func:`start_engine` that is no longer needed, and reap it."""
    if proc.returncode is None:
        _kill_group(proc)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    isolate: bool = False,
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
    isolate
        Start it without network where the platform allows.

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
    proc = subprocess.Popen(
        _with_isolation(argv, isolate),
        cwd=cwd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(
        list(argv), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )


def _with_isolation(argv: Sequence[str], isolate: bool) -> list[str]:
    if not isolate:
        return list(argv)
    from lsp_render.core.netns import isolation_prefix

    return [*isolation_prefix(), *argv]


def _shown(args: object) -> list[str]:
    """Return the engine's own argv, without the ``unshare ... --`` that may start it."""
    argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
    if argv and Path(argv[0]).name == "unshare" and "--" in argv:
        return argv[argv.index("--") + 1 :]
    return argv


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    # The pipes may be held open by nothing now; do not wait on them, only reap.
    proc.wait()


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
