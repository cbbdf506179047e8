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

from lsp_render.core import deadline
from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.prefork import single_threaded

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
_KLOG_BLOCK = re.compile(r'^"[^"]*" err=<$')
# How Kustomize says that an input file is malformed (a kustomization, resource or patch
# that is not valid YAML, or a kustomization with unknown fields or wrong types): bad input.
_MALFORMED_INPUT = (
    "invalid Kustomization: ",
    "MalformedYAMLError",
    "yaml: line ",
    "yaml: unmarshal",
)
# Causes an engine names only in its own terms, and what to do about them.
_HINTS = (
    (
        "must specify --enable-helm",
        "helmCharts: in a kustomization needs Kustomize's Helm inflation: set "
        "kustomize: {enableHelm: true} in lsp-render.yaml (or ask the operator to allow it "
        "in the policy), or make the app a hybrid, where a helm: section in lsp-render.yaml "
        "renders the chart and this kustomization patches it (examples/hybrid)",
    ),
)

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
    deadline.check(what)
    try:
        proc = run_process(argv, cwd=cwd, stdin=stdin, timeout=timeout, isolate=isolate)
    except subprocess.TimeoutExpired:
        raise _timeout_error(argv, what, timeout) from None
    except OSError as exc:
        msg = f"{what}: cannot run {argv[0]}: {exc.strerror}"
        raise RenderError(msg) from None
    return _checked(proc, what)


def _timeout_error(argv: Sequence[str], what: str, timeout: float) -> RenderError:
    left = deadline.remaining()
    name = Path(argv[0]).name
    if left is not None and left <= 0.05:
        return RenderError(f"{what}: {name} did not finish before {deadline.describe()}")
    return RenderError(f"{what}: {name} did not finish within {timeout:g} s")


def _checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            msg = f"{what}: {Path(proc.args[0]).name} was killed by {name}"
        else:
            message = engine_message(proc.stderr)
            msg = f"{what}: {message or f'exit status {proc.returncode}'}"
            if any(marker in message for marker in _MALFORMED_INPUT):
                raise InputError(msg)  # SPEC section 9: malformed YAML or config is exit 2
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
        When the program cannot be started, or the request's deadline has passed.
    """
    deadline.check(what)
    try:
        return _spawn_engine(
            argv,
            isolate=isolate,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        msg = f"{what}: cannot run {argv[0]}: {exc.strerror}"
        raise RenderError(msg) from None


def start_isolated_engine(argv: Sequence[str], *, what: str) -> subprocess.Popen[bytes] | None:
    """Start ``argv`` as :func:`start_engine` does, in a new empty network namespace, or not at all.

    For work started before anything was checked (the early Kustomize build):
    where the namespace cannot be entered by the child itself
    (:func:`_spawn_in_namespace`) or the program cannot be started, it returns
    None having started nothing.

    Raises
    ------
    RenderError
        When the request's deadline has passed.
    """
    deadline.check(what)
    try:
        return _spawn_in_namespace(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError:
        return None


def _spawn_engine(
    argv: Sequence[str], *, isolate: bool, **options: object
) -> subprocess.Popen[bytes]:
    """:func:`_spawn`, without network when ``isolate`` and the platform allows.

    The child enters the namespace itself where it can (:func:`_spawn_in_namespace`),
    else the engine is started through ``unshare`` (:func:`_with_isolation`).
    """
    proc = _spawn_in_namespace(argv, **options) if isolate else None
    return proc if proc is not None else _spawn(_with_isolation(argv, isolate), **options)


def _spawn_in_namespace(argv: Sequence[str], **options: object) -> subprocess.Popen[bytes] | None:
    """:func:`_spawn` with the child entering a new empty network namespace before exec.

    No ``unshare`` program and no probe of it (two more programs started per
    engine). Python runs between fork and exec, which is safe only while this
    process has one thread: with more, or where the platform refuses the
    namespace, returns None having started nothing.

    Raises
    ------
    OSError
        When the program cannot be started.
    """
    if not single_threaded():
        return None
    from lsp_render.core.netns import enter_empty_network_namespace

    def isolate() -> None:  # in the child, before exec
        if enter_empty_network_namespace() is None:
            raise OSError("no network namespace")

    try:
        return _spawn(argv, preexec_fn=isolate, **options)
    except subprocess.SubprocessError:  # what Popen raises when isolate() raised
        return None


def wait_engine(proc: subprocess.Popen[bytes], *, what: str, timeout: float) -> str:
    """Wait for an engine of :func:`start_engine` and return its stdout, as :func:`run_engine`.

    Raises
    ------
    RenderError
        When the engine fails, is killed, or does not finish within ``timeout``.
    """
    try:
        out, err = proc.communicate(timeout=deadline.clamp(timeout))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise _timeout_error(_shown(proc.args), what, timeout) from None
    except BaseException:
        _kill_group(proc)
        raise
    _reaped(proc)
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

    The timeout is cut to what is left of the request's deadline
    (:mod:`lsp_render.core.deadline`).

    Raises
    ------
    subprocess.TimeoutExpired
        After killing the process group.
    OSError
        When the program cannot be started.
    RenderError
        When the request's deadline has passed before the start.
    """
    deadline.check(Path(argv[0]).name)
    timeout = deadline.clamp(timeout)
    proc = _spawn_engine(
        argv,
        isolate=isolate,
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
    _reaped(proc)


def engine_message(stderr: str) -> str:
    """Return an engine's error as one readable line (klog prefixes and Go quoting removed).

    ``kubectl`` logs its error through klog, either quoted on one line
    (``err="..."``) or as a block (``err=<``, tab-indented lines, `` >``); the
    block is joined whole, so its first line ("trouble configuring builtin
    HelmChartInflationGenerator ...") is kept. Without a klog error, the lines
    from the last ``Error:`` on are kept (warnings before it are dropped), else
    the last three lines. A known cause gets a hint (:data:`_HINTS`).

    Parameters
    ----------
    stderr
        Everything the engine wrote on stderr.

    Returns
    -------
    str
        One line, at most 800 characters before the hint.
    """
    raw_lines = stderr.strip().splitlines()
    klog_errors: list[str] = []
    lines: list[str] = []
    error_at: int | None = None
    index = 0
    while index < len(raw_lines):
        line = raw_lines[index].strip()
        index += 1
        klog = _KLOG.match(line)
        if klog is not None:
            line, index = _klog_message(klog.group(1), raw_lines, index)
            if klog.string.startswith(("E", "F")):
                klog_errors.append(line)
        if line.startswith("Error:"):
            error_at = len(lines)
        line = line.removeprefix("Error:").strip()
        if line:
            lines.append(line)
    if klog_errors:
        kept = klog_errors[-1:]
    elif error_at is not None:
        kept = lines[error_at:]
    else:
        kept = lines[-3:]
    message = " ".join(" ".join(kept).split())[:_MAX_MESSAGE]
    for pattern, hint in _HINTS:
        if pattern in message:
            return f"{message} ({hint})"
    return message


def _klog_message(text: str, raw_lines: list[str], index: int) -> tuple[str, int]:
    """Return a klog entry's message and the index of the line after it."""
    block = _KLOG_BLOCK.match(text)
    if block is not None:
        # err=< then tab-indented lines up to a lone '>': the whole error, every line of it.
        parts = []
        while index < len(raw_lines) and raw_lines[index].strip() != ">":
            parts.append(raw_lines[index].strip())
            index += 1
        return " ".join(part for part in parts if part), index + 1
    err = _KLOG_ERR.match(text)
    if err is not None and err.group(1):
        with contextlib.suppress(ValueError):
            return str(json.loads(err.group(1))), index
    return text, index
