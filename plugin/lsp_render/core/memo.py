"""What a text parses to, kept per process: keyed by the text itself, so never stale.

render-all renders each chart for every environment: the same ``values.yaml``,
``Chart.yaml`` and many of the same rendered manifests come back each time.
A :class:`TextMemo` remembers what was computed from a text (str or bytes),
bounded by the total length of the texts it holds; the least recently used go
first. The values are shared: callers only read them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["TextMemo"]

_K = TypeVar("_K", str, bytes)
_V = TypeVar("_V")


class TextMemo(Generic[_K, _V]):
    """A bounded map from texts to what they parse to (least recently used dropped first)."""

    def __init__(self, max_length: int) -> None:
        self._entries: OrderedDict[_K, _V] = OrderedDict()
        self._length = 0
        self._max_length = max_length

    def get(self, text: _K) -> _V | None:
        """Return what ``text`` was remembered with, or None."""
        value = self._entries.get(text)
        if value is not None:
            self._entries.move_to_end(text)
        return value

    def put(self, text: _K, value: _V) -> None:
        """Remember ``value`` for ``text``, dropping the oldest texts past the bound."""
        if text in self._entries:
            self._entries.move_to_end(text)
            self._entries[text] = value
            return
        self._entries[text] = value
        self._length += len(text)
        while self._length > self._max_length and len(self._entries) > 1:
            oldest, _ = self._entries.popitem(last=False)
            self._length -= len(oldest)
