"""Turn one string holding placeholders into its value, from the backend's results.

Shared by manifests (``document.py``) and Helm values (``values.py``). A string
is cut into literal text and placeholders; each placeholder's value is looked up,
run through its modifiers and written back, and the result is never scanned
again. A placeholder that is the whole string and resolves to a non-string
(``jsonParse`` output, a number stored in the secret) gives that value itself.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsp_render.core.errors import InputError, SecretError
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.secrets.exposure import UNREAD
from lsp_render.secrets.jsonpath import format_value, go_json
from lsp_render.secrets.modifiers import ModifierError, apply_modifiers
from lsp_render.secrets.placeholders import Placeholder

__all__ = ["MASK", "Bound", "MissingKeyError", "resolve_string", "stringify"]

MASK = "********"
"""What ``--mask-secrets`` prints in place of every value."""


class MissingKeyError(SecretError):
    """The secret exists but has no such key (``remove-missing`` may drop the field)."""


@dataclass(frozen=True, slots=True)
class Bound:
    """A placeholder together with the secret it reads."""

    placeholder: Placeholder
    ref: SecretRef


def stringify(value: Any) -> str:
    """Write a resolved value as text (AVP's ``stringify``; JSON for maps and lists).

    Parameters
    ----------
    value
        A resolved value.

    Returns
    -------
    str
        Its text: strings as they are, numbers and booleans as Go prints them.

    Raises
    ------
    ModifierError
        The value is or holds NaN or an infinity (``yamlParse`` of ``.inf``),
        which neither JSON nor Go's formatting writes (bad input).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModifierError(
                "the value is NaN or infinite, which has no text form here", bad_input=True
            )
        return go_json(value)
    if isinstance(value, Mapping) or (isinstance(value, Sequence) and not isinstance(value, bytes)):
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise ModifierError(
                "the value holds NaN or an infinity, which JSON cannot write", bad_input=True
            ) from None
    return format_value(value)


def _json_escaped(text: str) -> str:
    """Escape ``text`` for the inside of a JSON string, as Go's encoder (and Helm's toJson) does."""
    return go_json(text)[1:-1]


def _value(bound: Bound, results: Mapping[SecretRef, SecretResult], where: str, field: str) -> Any:
    placeholder, ref = bound.placeholder, bound.ref
    result = results.get(ref)
    if result is None:
        raise SecretError(
            f"{where}: the backend returned nothing for path {ref.path} ({placeholder.label})"
        )
    if result.data is UNREAD:  # streamed sources: deliberately not read, always masked
        return _masked(placeholder)
    if result.error is not None or result.data is None:
        reason = result.error or f"Could not find secrets at path {ref.path}"
        raise SecretError(f"{where}: {reason} (placeholder {placeholder.label} in {field})")
    value = result.data.get(placeholder.key)
    if value is None:
        raise MissingKeyError(
            f"{where}: missing Vault value for placeholder {placeholder.key} in string {field} "
            f"({placeholder.label})"
        )
    try:
        return apply_modifiers(value, placeholder.modifiers)
    except ModifierError as err:
        error = InputError if err.bad_input else SecretError
        raise error(f"{where}: {err} for placeholder {placeholder.label} in {field}") from None


def _masked(placeholder: Placeholder) -> str:
    last = placeholder.modifiers[-1].name if placeholder.modifiers else ""
    if last == "base64encode":
        return base64.b64encode(MASK.encode()).decode("ascii")
    return MASK


def resolve_string(
    text: str,
    bounds: Sequence[Bound],
    results: Mapping[SecretRef, SecretResult],
    *,
    where: str,
    field: str,
    mask: bool,
    written: list[Any] | None = None,
) -> Any:
    """Substitute every placeholder of ``text``.

    Parameters
    ----------
    text
        The string as written.
    bounds
        Its placeholders (in order, from ``find_placeholders``) with their secrets.
    results
        The backend's answer for every secret of the render.
    where
        The document or file, for messages.
    field
        The field (``data.password``), for messages.
    mask
        Write ``********`` instead of each value (still resolving it).
    written
        Receives each placeholder's value as it was written (for the values of
        ``resolveInValues``, which must never be scanned again).

    Returns
    -------
    Any
        The new string; or, for a placeholder that is the whole string (blanks
        around it aside), its value itself when that is not a string.

    Raises
    ------
    MissingKeyError
        A secret has no such key.
    SecretError
        A secret is missing or unreadable, or a modifier failed on its value.
    """
    values = [_value(bound, results, where, field) for bound in bounds]
    if written is not None and not mask:
        written.extend(values)
    if len(bounds) == 1 and not isinstance(values[0], str):
        only = bounds[0].placeholder
        whole = not text[: only.start].strip() and not text[only.end :].strip()
        if whole and not only.escaped:
            return _masked(only) if mask else values[0]
    pieces: list[str] = []
    cursor = 0
    for bound, value in zip(bounds, values, strict=True):
        placeholder = bound.placeholder
        try:
            rendered = _masked(placeholder) if mask else stringify(value)
        except ModifierError as err:
            raise InputError(
                f"{where}: {err} for placeholder {placeholder.label} in {field}"
            ) from None
        if placeholder.escaped:
            rendered = _json_escaped(rendered)
        pieces.append(text[cursor : placeholder.start])
        pieces.append(rendered)
        cursor = placeholder.end
    pieces.append(text[cursor:])
    return "".join(pieces)
