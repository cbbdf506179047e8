"""Let a caller see the values a render read from its secret backend (``diff`` masks them).

:func:`recording` collects, for the renders run inside it on this thread, every
result the backend returned. Only ``workflows.diff`` uses it, to mask every
string derived from a secret wherever it lands (names, keys, annotations);
nothing is recorded outside it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lsp_render.secrets.backend import SecretRef, SecretResult

__all__ = ["record", "recording"]

_SEEN: contextvars.ContextVar[list[Mapping[str, Any]] | None] = contextvars.ContextVar(
    "lsp_render_secret_recording", default=None
)


@contextmanager
def recording() -> Iterator[list[Mapping[str, Any]]]:
    """Collect the data of every secret read inside.

    Yields
    ------
    list
        Receives the key/value mapping of each secret read.
    """
    seen: list[Mapping[str, Any]] = []
    token = _SEEN.set(seen)
    try:
        yield seen
    finally:
        _SEEN.reset(token)


def record(results: Mapping[SecretRef, SecretResult]) -> None:
    """Hand the backend's results to the active :func:`recording`, if any.

    Parameters
    ----------
    results
        What the backend returned for one render's secrets.
    """
    seen = _SEEN.get()
    if seen is None:
        return
    seen.extend(result.data for result in results.values() if result.data is not None)
