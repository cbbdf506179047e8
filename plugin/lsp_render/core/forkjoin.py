"""Do one CPU-bound job on two halves at once: the second in a forked child.

libyaml composing a 5 MB plain stream holds the GIL for half a second, so a
thread does not help; a forked child shares the text without copying it and
sends back only its (small) answer. Used where the halves are independent and
the answer is cheap to pickle (:func:`lsp_render.core.yamlfile.outline_stream`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Callable
from typing import TypeVar

from lsp_render.core.prefork import single_threaded

__all__ = ["in_two"]

_T = TypeVar("_T")
_R = TypeVar("_R")


def in_two(job: Callable[[_T], _R], first: _T, second: _T) -> tuple[_R, _R] | None:
    """Return ``(job(first), job(second))``, the second computed in a forked child.

    Returns ``None`` when the work cannot be split here (no ``os.fork``, other
    threads running) or the child did not answer (it raised, or died): the
    caller then does the whole job itself, which also gives any error exactly.
    What ``job(first)`` raises is raised, after the child is killed.
    """
    if not hasattr(os, "fork") or not single_threaded():
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        status = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.close(read_end)
            data = memoryview(pickle.dumps(job(second), protocol=pickle.HIGHEST_PROTOCOL))
            while data:
                data = data[os.write(write_end, data) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        mine = job(first)
        answer = _read_all(read_end)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    if status != 0 or not answer:
        return None
    theirs: _R = pickle.loads(answer)  # noqa: S301 - our own child
    return mine, theirs


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
