"""Hide secret values in a diff while still showing which of them changed.

A value is secret when it is in the ``data`` or ``stringData`` of a core v1
``Secret``, when lsp-render substituted a placeholder into it (found by
comparing the render before and after substitution), or when it holds any form
of a value the render read from its backend (:func:`secret_pattern`: exact,
whitespace-collapsed, quoted, JSON-escaped, base64, SHA-256, and the strings
inside a JSON value), wherever it stands: a name, a namespace, a label, an
annotation. A mapping key holding one is renamed (:func:`mask_keys`), and so is
a resource's identity in the diff's headers. Both sides of a diff are
masked together: a secret value equal on both sides becomes
:data:`UNCHANGED` on both (no diff line), a changed one becomes
:data:`CHANGED_OLD` and :data:`CHANGED_NEW` (a diff line that says "changed"
and nothing else). Markers are derived only from comparing the two values,
never from the values themselves (no hash, no length).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from lsp_render.core.redaction import secret_forms
from lsp_render.secrets.recorder import leaf_strings

__all__ = [
    "ADDED",
    "CHANGED_NEW",
    "CHANGED_OLD",
    "HIDDEN",
    "MASKED_KEY",
    "REMOVED",
    "UNCHANGED",
    "ValuePath",
    "all_leaf_paths",
    "mask_keys",
    "mask_one",
    "mask_pair",
    "scan_paths",
    "secret_paths",
    "secret_pattern",
    "substituted_paths",
]

ValuePath = tuple[str | int, ...]

UNCHANGED = "******** (unchanged)"
CHANGED_OLD = "++++++++ (changed, old value)"
CHANGED_NEW = "++++++++ (changed, new value)"
ADDED = "++++++++ (added)"
REMOVED = "++++++++ (removed)"
HIDDEN = "******** (hidden)"
MASKED_KEY = "******** (secret key{n})"

_MIN_NEEDLE = 4  # shorter values would mask ordinary words; substitution paths still catch them

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


def secret_pattern(seen: Iterable[Mapping[str, Any]]) -> re.Pattern[str] | None:
    """Build one pattern matching every form of every value a render read.

    Parameters
    ----------
    seen
        The data of the secrets read (``secrets.recorder.recording``).

    Returns
    -------
    re.Pattern or None
        Matches any form of four characters or more; ``None`` when nothing was read.
    """
    values = leaf_strings(seen)
    needles: set[str] = set()
    for value in values:
        forms = secret_forms(value) | {hashlib.sha256(value.encode()).hexdigest()}
        needles |= {form for form in forms if len(form) >= _MIN_NEEDLE}
    if not needles:
        return None
    ordered = sorted(needles, key=len, reverse=True)
    return re.compile("|".join(re.escape(n) for n in ordered))


def _holds(value: Any, pattern: re.Pattern[str]) -> bool:
    if value is None or isinstance(value, bool | dict | list):
        return False
    return pattern.search(str(value)) is not None


def scan_paths(obj: Any, pattern: re.Pattern[str] | None, path: ValuePath = ()) -> set[ValuePath]:
    """Return the path of every scalar of ``obj`` that holds a form of a secret value.

    Parameters
    ----------
    obj
        A parsed object.
    pattern
        From :func:`secret_pattern` (``None``: nothing is secret).
    path
        Where ``obj`` stands.

    Returns
    -------
    set of tuple
        Value paths to mask.
    """
    if pattern is None:
        return set()
    if isinstance(obj, dict):
        found: set[ValuePath] = set()
        for key, value in obj.items():
            found |= scan_paths(value, pattern, (*path, key))
        return found
    if isinstance(obj, list):
        found = set()
        for index, item in enumerate(obj):
            found |= scan_paths(item, pattern, (*path, index))
        return found
    return {path} if _holds(obj, pattern) else set()


def mask_keys(obj: Any, pattern: re.Pattern[str] | None) -> Any:
    """Return ``obj`` with every mapping key that holds a secret form renamed.

    Keys are renamed to :data:`MASKED_KEY`, numbered in the order of the
    original keys when a mapping has several.

    Parameters
    ----------
    obj
        A parsed (and value-masked) object.
    pattern
        From :func:`secret_pattern`.

    Returns
    -------
    Any
        A copy when something was renamed, else ``obj``.
    """
    if pattern is None:
        return obj
    if isinstance(obj, list):
        return [mask_keys(item, pattern) for item in obj]
    if not isinstance(obj, dict):
        return obj
    secret = sorted(str(k) for k in obj if _holds(k, pattern))
    out = {}
    for key, value in obj.items():
        if _holds(key, pattern):
            number = secret.index(str(key)) + 1
            key = MASKED_KEY.format(n=f" {number}" if len(secret) > 1 else "")  # noqa: PLW2901
        out[key] = mask_keys(value, pattern)
    return out
