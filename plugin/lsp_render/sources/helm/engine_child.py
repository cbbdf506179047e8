"""The embedded Helm engine runs in a child process that the CLI owns and can kill.

Helm's Go SDK, called in-process through ctypes, cannot be interrupted: a
template with two nested ``range until 100000`` loops ignored
``LSP_RENDER_ENGINE_TIMEOUT`` and SIGTERM alike. So the first embedded call
of a process forks a child *before* ``helm_python`` (and with it the Go
runtime) is loaded anywhere: the child loads it, then serves calls
(``module``, ``function``, ``args``) over a pipe for the rest of the
parent's life, so render-all keeps its loaded charts warm. The parent waits
in ``select`` with the engine timeout; on a timeout, SIGTERM (raised as an
exception in the parent), or any other exception, the child is killed and
its private temporary directory (``TMPDIR`` in the child; it may hold
charts built with resolved values) is removed. The next call starts a new
child.

The child dies with its parent (``PR_SET_PDEATHSIG`` on Linux, and end of
file on its request pipe). Its stdout goes to ``/dev/null`` and its stderr
(Go's log lines) to a file whose first line is quoted if the child dies.
Where ``os.fork`` is missing, or the Go runtime is already loaded in this
process (a test that called the SDK directly), calls run in-process.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import select
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lsp_render.core import errors, prefork
from lsp_render.core.errors import LspRenderError, RenderError, innermost_frame
from lsp_render.core.netns import enter_empty_network_namespace
from lsp_render.core.prefork import Forked

__all__ = [
    "SERVER",
    "TextParts",
    "call_engine",
    "child_in_use",
    "prestart_engine_child",
    "retire_one_shot",
    "serve_engine",
    "start_engine_child",
    "stop_engine_child",
]

_HEADER = struct.Struct("!Q")
_SDK = "helm_python"
_ENGINE = "lsp_render.sources.helm.embedded"


SERVER = f"{__name__}:serve_engine"
"""What :func:`lsp_render.core.prefork.fork_server` runs in the engine child."""

_child: Forked | None = None
_lock = threading.Lock()


class _DiedError(Exception):
    """The child closed its reply pipe (it exited or was killed)."""


def call_engine(
    module: str, function: str, args: tuple[Any, ...], *, timeout: float, what: str
) -> Any:
    """Call ``module.function(*args)`` in the engine child and return its result.

    Parameters
    ----------
    module, function
        What to call (imported in the child).
    args
        Its arguments (pickled).
    timeout
        Seconds before the child is killed.
    what
        Names the chart for messages (``chart web``).

    Raises
    ------
    LspRenderError
        What the function raised, with its exit code.
    RenderError
        On a timeout, or when the child dies.
    """
    if not child_in_use():
        return getattr(importlib.import_module(module), function)(*args)
    with _lock:  # one call at a time on the pipe
        return _call_child(module, function, args, timeout=timeout, what=what)


def _call_child(
    module: str, function: str, args: tuple[Any, ...], *, timeout: float, what: str
) -> Any:
    child = start_engine_child()
    try:
        _send(child.requests, (module, function, args))
        reply = _receive(child.replies, time.monotonic() + timeout)
    except TimeoutError:
        stop_engine_child()
        msg = (
            f"{what}: the embedded Helm engine did not finish within {timeout:g} s "
            "(LSP_RENDER_ENGINE_TIMEOUT)"
        )
        raise RenderError(msg) from None
    except (_DiedError, BrokenPipeError):
        reason = _death(child)
        stop_engine_child()
        raise RenderError(f"{what}: the embedded Helm engine died ({reason})") from None
    except BaseException:
        stop_engine_child()  # SIGTERM, Ctrl-C, anything: no engine outlives the render
        raise
    return _unwrap(reply, what)


_in_child = False  # set in the engine child itself: it calls Helm directly, never forks


def child_in_use() -> bool:
    """Tell whether :func:`call_engine` calls go to an engine child (not run in this process)."""
    # Never fork a process whose Go runtime is already started.
    return prefork.can_fork() and not _in_child


def prestart_engine_child() -> None:
    """Start the engine child now, so that it loads Helm while the caller prepares the call."""
    if child_in_use():
        start_engine_child()


def start_engine_child() -> Forked:
    """Return the engine child: the one the CLI forked early, or one forked now."""
    global _child  # noqa: PLW0603 - one engine child per process
    if _child is not None and _child.owner == os.getpid():
        return _child
    _child = prefork.adopt() or prefork.fork_server(SERVER)
    parent = _child.owner
    if parent not in _cleanup_registered:
        _cleanup_registered.add(parent)
        atexit.register(stop_engine_child)
        if "multiprocessing" in sys.modules:
            # A pool worker ends without atexit, and the child dies with it (PDEATHSIG)
            # before it could remove its directory: the worker's exit hook does both.
            from multiprocessing import util

            util.Finalize(None, stop_engine_child, exitpriority=10)
    return _child


_cleanup_registered: set[int] = set()
_retired: list[Forked] = []  # killed one-shot children, reaped at exit


def retire_one_shot() -> None:
    """Kill the engine child now if it serves one render only (``lsp-render render``).

    Its memory is freed on the other core while the render's output is
    checked and written, instead of at exit; :func:`stop_engine_child` reaps it
    and removes its directory. A later call would fork a new child.
    """
    global _child  # noqa: PLW0603
    child = _child
    if child is None or not child.one_shot or child.owner != os.getpid():
        return
    _child = None
    _retired.append(child)
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGKILL)


def stop_engine_child() -> None:
    """Kill the engine child if there is one, reap it, and remove its temporary directory."""
    global _child
    child, _child = _child, None
    prefork.discard()  # one forked early that the render never reached
    while _retired:
        prefork.kill(_retired.pop())
    if child is None or child.owner != os.getpid():
        return
    prefork.kill(child)


def _death(child: Forked) -> str:
    try:
        _, status = os.waitpid(child.pid, 0)
    except ChildProcessError:
        return "gone"
    if os.WIFSIGNALED(status):
        reason = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        reason = f"exit status {os.WEXITSTATUS(status)}"
    with contextlib.suppress(OSError):
        lines = (
            (Path(child.root) / "stderr").read_text(encoding="utf-8", errors="replace").splitlines()
        )
        first = next((line.strip() for line in lines if "fatal" in line or "panic" in line), "")
        if first:
            reason += f": {first[:300]}"
    return reason


def _unwrap(reply: tuple[Any, ...], what: str) -> Any:
    kind = reply[0]
    if kind == "ok":
        return reply[1]
    if kind == "error":
        _, name, message, detail = reply
        cls = getattr(errors, name, None)
        if not (isinstance(cls, type) and issubclass(cls, LspRenderError)):
            cls = RenderError
        raise cls(message, detail=detail)
    _, name, where = reply
    msg = f"{what}: internal error in the embedded Helm engine ({name} at {where}); report it"
    raise RenderError(msg)


# -- the wire: a length, then a pickle (both ends are this program) -----------------------------


class TextParts:
    """A text as the pieces it is joined from: the child sends them without joining them.

    The parent receives the text joined as one piece; a call run in-process
    (no child) returns this object as it is. ``crd_files`` travels with it: a
    rendered chart's CRD files, ``(name printed, path in the chart)``, that
    precede the text in the stream and that the parent reads itself (the
    text is then what follows the CRDs, :meth:`.output.Release.parts` of none), or None.
    """

    __slots__ = ("crd_files", "parts")

    def __init__(self, parts: list[str], crd_files: list[tuple[str, str]] | None = None) -> None:
        self.parts = parts
        self.crd_files = crd_files

    def __str__(self) -> str:
        if self.crd_files is not None:
            msg = "a text sent without its CRD files cannot be joined alone"
            raise TypeError(msg)
        return "".join(self.parts)


# A header with this bit set announces an ("ok", TextParts) reply: its CRD files pickled
# (a length, then the bytes), then its text as UTF-8 chunks, each with its own length, the
# last one empty: a rendered stream is never joined, encoded or pickled whole in the child
# (kube-prometheus-stack's 5 MB pickle raised its peak by 10 MB).
_TEXT = 1 << 63
_CHUNK = 1 << 20  # characters per chunk


def _send(fd: int, message: Any) -> None:
    if (
        isinstance(message, tuple)
        and len(message) == 2  # ("ok", result)
        and message[0] == "ok"
        and isinstance(message[1], TextParts)
    ):
        _send_text(fd, message[1])
        return
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    # header and body written apart: joining them copied a 5 MB stream once more at the
    # engine child's peak of memory
    _write_all(fd, _HEADER.pack(len(data)))
    _write_all(fd, data)


def _send_text(fd: int, text: TextParts) -> None:
    _write_all(fd, _HEADER.pack(_TEXT))
    listing = pickle.dumps(text.crd_files, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _HEADER.pack(len(listing)))
    _write_all(fd, listing)
    parts = text.parts
    pending: list[str] = []
    size = 0
    for part in parts:
        for start in range(0, len(part), _CHUNK):
            piece = part[start : start + _CHUNK]
            pending.append(piece)
            size += len(piece)
            if size >= _CHUNK:
                _send_chunk(fd, pending)
                pending, size = [], 0
    if pending:
        _send_chunk(fd, pending)
    _write_all(fd, _HEADER.pack(0))


def _send_chunk(fd: int, pieces: list[str]) -> None:
    chunk = "".join(pieces).encode("utf-8", "surrogatepass")
    _write_all(fd, _HEADER.pack(len(chunk)))
    _write_all(fd, chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise _DiedError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None) -> Any:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size == _TEXT:
        (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
        crd_files = pickle.loads(_read_exactly(fd, length, deadline))  # noqa: S301 - our child
        chunks: list[bytes] = []
        while True:
            (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
            if not length:
                text = b"".join(chunks).decode("utf-8", "surrogatepass")
                return ("ok", TextParts([text], crd_files))
            chunks.append(_read_exactly(fd, length, deadline))
    return pickle.loads(_read_exactly(fd, size, deadline))  # noqa: S301 - our own child


# -- the child -----------------------------------------------------------------------------------


def serve_engine(requests: int, replies: int, root: str, parent: int) -> None:  # pragma: no cover
    """Load Helm, then answer calls until the parent closes the pipe (runs in the child).

    The child's server loop (:data:`SERVER`), forked by :mod:`lsp_render.core.prefork`.
    """
    global _in_child  # noqa: PLW0603 - this process is the engine child from here on
    _in_child = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    enter_empty_network_namespace()  # single-threaded now, before Go starts its threads
    os.environ["TMPDIR"] = root
    tempfile.tempdir = root
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    log = os.open(Path(root) / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    with contextlib.suppress(ImportError):
        importlib.import_module(_SDK)  # while the parent prepares the first call
        importlib.import_module(_ENGINE)  # and what the first call runs (when forked early)
    while True:
        try:
            module, function, args = _receive(requests, None)
        except _DiedError:  # the parent is gone (a render-all worker exits without atexit)
            shutil.rmtree(root, ignore_errors=True)
            return
        try:
            target = getattr(importlib.import_module(module), function)
            reply: tuple[Any, ...] = ("ok", target(*args))
        except LspRenderError as exc:
            reply = ("error", type(exc).__name__, exc.message, exc.detail)
        except Exception as exc:
            reply = ("internal", type(exc).__name__, innermost_frame(exc))
        _send(replies, reply)


def _die_with_parent(parent: int) -> None:  # pragma: no cover - in the child
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(0)
