"""Hide secret values in a diff while still showing which of them changed.

A value is secret when it is in the ``data`` or ``stringData`` of a core v1
``Secret``, or when lsp-render substituted a placeholder into it (found by
comparing the render before and after substitution). Both sides of a diff are
masked together: a secret value equal on both sides becomes
:data:`UNCHANGED` on both (no diff line), a changed one becomes
:data:`CHANGED_OLD` and :data:`CHANGED_NEW` (a diff line that says "changed"
and nothing else). Markers are derived only from comparing the two values,
never from the values themselves (no hash, no length).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ADDED",
    "CHANGED_NEW",
    "CHANGED_OLD",
    "HIDDEN",
    "REMOVED",
    "UNCHANGED",
    "ValuePath",
    "all_leaf_paths",
    "mask_one",
    "mask_pair",
    "secret_paths",
    "substituted_paths",
]

ValuePath = tuple[str | int, ...]

UNCHANGED = "******** (unchanged)"
CHANGED_OLD = "++++++++ (changed, old value)"
CHANGED_NEW = "++++++++ (changed, new value)"
ADDED = "++++++++ (added)"
REMOVED = "++++++++ (removed)"
HIDDEN = "******** (hidden)"

_MISSING = object()


def secret_paths(obj: Any) -> set[ValuePath]:
    """Return the path of every value of a core v1 ``Secret``'s ``data`` and ``stringData``."""
    if not isinstance(obj, dict) or obj.get("apiVersion") != "v1" or obj.get("kind") != "Secret":
        return set()
    paths: set[ValuePath] = set()
    for field in ("data", "stringData"):
        section = obj.get(field)
        if isinstance(section, dict):
            paths.update((field, str(key)) for key in section)
        elif section is not None:
            paths.add((field,))
    return paths


def substituted_paths(raw: Any, final: Any, path: ValuePath = ()) -> set[ValuePath]:
    """Return the paths where ``final`` (after substitution) differs from ``raw`` (before)."""
    if isinstance(raw, dict) and isinstance(final, dict):
        found: set[ValuePath] = set()
        for key, value in final.items():
            if key in raw:
                found |= substituted_paths(raw[key], value, (*path, key))
            else:
                found.add((*path, key))
        return found
    if isinstance(raw, list) and isinstance(final, list) and len(raw) == len(final):
        found = set()
        for index, (before, after) in enumerate(zip(raw, final, strict=True)):
            found |= substituted_paths(before, after, (*path, index))
        return found
    return set() if raw == final and type(raw) is type(final) else {path}


def all_leaf_paths(obj: Any, path: ValuePath = ()) -> set[ValuePath]:
    """Return the path of every scalar in ``obj`` (used when a render cannot be aligned)."""
    if isinstance(obj, dict):
        return set().union(*(all_leaf_paths(v, (*path, k)) for k, v in obj.items()))
    if isinstance(obj, list):
        return set().union(*(all_leaf_paths(v, (*path, i)) for i, v in enumerate(obj)))
    return {path}


def _get(obj: Any, path: ValuePath) -> Any:
    for part in path:
        found = (isinstance(obj, dict) and part in obj) or (
            isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj)
        )
        if not found:
            return _MISSING
        obj = obj[part]
    return obj


def _set(obj: Any, path: ValuePath, value: str) -> Any:
    if not path:
        return value
    parent = _get(obj, path[:-1])
    parent[path[-1]] = value
    return obj


def _outermost(paths: Iterable[ValuePath]) -> list[ValuePath]:
    """Drop paths inside other paths (masking the outer one hides them)."""
    kept: list[ValuePath] = []
    for path in sorted(set(paths), key=lambda p: (len(p), repr(p))):
        if not any(path[: len(outer)] == outer for outer in kept):
            kept.append(path)
    return kept


def mask_one(obj: Any, paths: Iterable[ValuePath], marker: str = HIDDEN) -> Any:
    """Return a copy of ``obj`` with the value at each path replaced by ``marker``."""
    out = copy.deepcopy(obj)
    for path in _outermost(paths):
        if _get(out, path) is not _MISSING:
            out = _set(out, path, marker)
    return out


def mask_pair(
    old: Any, new: Any, old_paths: Iterable[ValuePath], new_paths: Iterable[ValuePath]
) -> tuple[Any, Any]:
    """Mask the secret values of two versions of one resource, comparing them.

    Parameters
    ----------
    old, new
        The two versions (parsed objects).
    old_paths, new_paths
        The secret value paths of each version.

    Returns
    -------
    tuple
        Copies of ``old`` and ``new`` where every secret value is a marker:
        :data:`UNCHANGED` on both sides when equal, :data:`CHANGED_OLD` /
        :data:`CHANGED_NEW` when different, :data:`ADDED` / :data:`REMOVED`
        when on one side only.
    """
    old_out = copy.deepcopy(old)
    new_out = copy.deepcopy(new)
    for path in _outermost([*old_paths, *new_paths]):
        before = _get(old_out, path)
        after = _get(new_out, path)
        if before is _MISSING and after is _MISSING:
            continue
        if before is _MISSING:
            new_out = _set(new_out, path, ADDED)
        elif after is _MISSING:
            old_out = _set(old_out, path, REMOVED)
        elif before == after and type(before) is type(after):
            old_out = _set(old_out, path, UNCHANGED)
            new_out = _set(new_out, path, UNCHANGED)
        else:
            old_out = _set(old_out, path, CHANGED_OLD)
            new_out = _set(new_out, path, CHANGED_NEW)
    return old_out, new_out
