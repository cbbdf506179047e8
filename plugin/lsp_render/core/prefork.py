"""Fork a server child first thing, before the parent imports the rest of the program.

The embedded Helm engine runs in a child process (:mod:`lsp_render.sources.helm.engine_child`)
that spends about 70 ms loading Helm's library and the engine's modules. Forked
only when the render reaches the engine, that time came after the parent's own
imports; forked here, from a module that imports nothing but ``os`` and ``sys``,
the child loads on the other core while the parent imports, reads its
configuration and checks the chart.

:func:`fork_server` forks a child that runs ``module:function(requests,
replies, root, parent)`` (imported in the child) and returns a :class:`Forked`
that :func:`adopt` hands to the engine module, which owns it from then on. A
child nobody adopted (the render stopped early, or was another kind) is killed
at exit, its private temporary directory removed.
"""

from __future__ import annotations

import os
import sys

__all__ = ["Forked", "adopt", "can_fork", "discard", "fork_server", "kill"]


class Forked:
    """A forked server child: its pid, both pipe ends the parent keeps, its directory."""

    __slots__ = ("one_shot", "owner", "pid", "replies", "requests", "root")

    def __init__(self, pid: int, requests: int, replies: int, root: str, owner: int) -> None:
        self.pid = pid
        self.requests = requests  # write end
        self.replies = replies  # read end
        self.root = root
        self.owner = owner  # the process that forked it: only it may talk to it
        self.one_shot = False  # serves one render: killed as soon as it answered


_pending: Forked | None = None
_exit_hook: list[int] = []


def fork_server(target: str, *, keep: bool = False, one_shot: bool = False) -> Forked:
    """Fork a child that runs ``target`` (``"module:function"``) and return it.

    Parameters
    ----------
    target
        The server loop, imported and called in the child with the request
        pipe's read end, the reply pipe's write end, the child's directory and
        the parent's pid. The child exits when it returns.
    keep
        Keep it as the pending child (:func:`adopt` takes it; killed at exit if
        nobody does).
    one_shot
        The process renders once (``lsp-render render``): its owner may kill
        the child as soon as the render's answer is in.
    """
    global _pending  # noqa: PLW0603 - one pending child per process
    root = _private_directory()
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        status = 0
        try:
            os.close(request_w)
            os.close(reply_r)
            import importlib

            module, _, function = target.partition(":")
            getattr(importlib.import_module(module), function)(request_r, reply_w, root, parent)
        except BaseException:
            status = 70
        finally:
            os._exit(status)
    os.close(request_r)
    os.close(reply_w)
    child = Forked(pid, request_w, reply_r, root, parent)
    child.one_shot = one_shot
    if keep:
        _pending = child
        if parent not in _exit_hook:
            import atexit

            _exit_hook.append(parent)
            atexit.register(discard)
    return child


def _private_directory() -> str:
    """Make ``lsp-render-engine-XXXXXXXX`` (mode 0700) where ``tempfile.mkdtemp`` would.

    The candidates are tempfile's (``TMPDIR``, ``TEMP``, ``TMP``, then ``/tmp``,
    ``/var/tmp``, ``/usr/tmp``, the working directory); the first that takes a
    new directory wins. Importing tempfile (shutil, random, hashlib) would cost
    the fork ~4 ms.
    """
    from pathlib import Path  # loaded already by the CLI

    candidates = [os.environ[name] for name in ("TMPDIR", "TEMP", "TMP") if os.environ.get(name)]
    candidates += ["/tmp", "/var/tmp", "/usr/tmp"]  # noqa: S108 - tempfile's list
    try:
        candidates.append(str(Path.cwd()))
    except OSError:  # the working directory was removed
        candidates.append(os.curdir)
    for directory in candidates:
        for _ in range(8):
            path = Path(directory).absolute() / f"lsp-render-engine-{os.urandom(6).hex()}"
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            except OSError:
                break
            return str(path)
    msg = f"no usable temporary directory among {', '.join(candidates)}"
    raise FileNotFoundError(msg)


def adopt() -> Forked | None:
    """Take the pending child this process forked, if there is one (the caller owns it now)."""
    global _pending
    child, _pending = _pending, None
    if child is None or child.owner != os.getpid():
        return None
    return child


def discard() -> None:
    """Kill the pending child if nobody adopted it, reap it and remove its directory."""
    child = adopt()
    if child is not None:
        kill(child)


def kill(child: Forked) -> None:
    """Kill ``child``, reap it, close its pipes and remove its directory."""
    import contextlib
    import shutil
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child.pid, 0)
    for fd in (child.requests, child.replies):
        with contextlib.suppress(OSError):
            os.close(fd)
    shutil.rmtree(child.root, ignore_errors=True)


def single_threaded() -> bool:
    """Tell whether this process runs one thread (``threading`` not imported counts as one).

    What a fork followed by Python code, or an ``os._exit`` that skips waiting
    for threads, needs.
    """
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def can_fork() -> bool:
    """Tell whether a server child may be forked here (``os.fork`` exists, no Go runtime yet)."""
    return hasattr(os, "fork") and "helm_python" not in sys.modules
