"""Let a caller see the values a render read from its secret backend (``diff`` masks them).

:func:`recording` collects, for the renders run inside it on this thread, every
result the backend returned. Only ``workflows.diff`` uses it, to mask every
string derived from a secret wherever it lands (names, keys, annotations);
nothing is recorded outside it.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lsp_render.secrets.backend import SecretRef, SecretResult

__all__ = ["leaf_strings", "record", "recording"]

_SEEN: contextvars.ContextVar[tuple[list[Mapping[str, Any]], ...]] = contextvars.ContextVar(
    "lsp_render_secret_recording", default=()
)


@contextmanager
def recording() -> Iterator[list[Mapping[str, Any]]]:
    """Collect the data of every secret read inside (recordings nest: each one sees all).

    Yields
    ------
    list
        Receives the key/value mapping of each secret read.
    """
    seen: list[Mapping[str, Any]] = []
    token = _SEEN.set((*_SEEN.get(), seen))
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
    data = [result.data for result in results.values() if result.data is not None]
    for seen in _SEEN.get():
        seen.extend(data)


def leaf_strings(seen: Iterable[Mapping[str, Any]]) -> set[str]:
    """Return every value of the secrets read as text, and the strings inside JSON values.

    Parameters
    ----------
    seen
        From :func:`recording`.

    Returns
    -------
    set of str
        Each scalar value (numbers as text), and the scalars of values that
        are JSON objects or arrays (what ``jsonPath`` and ``jsonParse`` give).
    """
    out: set[str] = set()
    for data in seen:
        _leaves(data, out)
    return out


def _leaves(value: Any, out: set[str]) -> None:
    if isinstance(value, Mapping):
        for item in value.values():
            _leaves(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _leaves(item, out)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        out.add(text)
        if isinstance(value, str) and text.lstrip()[:1] in ("{", "["):
            try:
                parsed = json.loads(text)
            except ValueError:
                return
            _leaves(parsed, out)
