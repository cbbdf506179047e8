"""Nested mappings merged the way Helm's CLI layers ``-f`` files (``mergeMaps``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["deep_merge"]


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Layer ``overlay`` over ``base``: mappings merge key by key, anything else replaces.

    Neither argument is modified; ``None`` in ``overlay`` is kept as a value.
    """
    out = dict(base)
    for key, value in overlay.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out
