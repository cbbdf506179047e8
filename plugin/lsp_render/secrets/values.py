"""Placeholders in Helm values (``secrets.resolveInValues``), resolved before the chart renders.

Only inline ``<path:...>`` placeholders (plain or JSON-escaped) count: values have
no annotations. Strings in maps and lists are substituted, keys never; a string
that is exactly one placeholder and resolves to a non-string becomes that value,
so a values schema that wants a number or an object gets one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lsp_render.core.errors import InputError
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.secrets.modifiers import ModifierError
from lsp_render.secrets.placeholders import (
    PlaceholderSyntaxError,
    find_placeholders,
    kv_read_version,
    might_hold_placeholder,
)
from lsp_render.secrets.resolve import Bound, resolve_string, stringify

__all__ = ["ValueSite", "placeholder_overlay", "plan_values", "substitute_values"]

_Key = str | int


@dataclass(frozen=True, slots=True)
class ValueSite:
    """One string of the values that holds placeholders."""

    path: tuple[_Key, ...]
    text: str
    bounds: tuple[Bound, ...]

    @property
    def field(self) -> str:
        """The dotted name of the value (``db.password``, ``hosts[0]``)."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out


def plan_values(values: Any, environ: Mapping[str, str], *, source: str) -> list[ValueSite]:
    """Find the placeholders in Helm values.

    Parameters
    ----------
    values
        The merged values.
    environ
        The sidecar's environment (``AVP_KV_VERSION``).
    source
        Names the values in messages.

    Returns
    -------
    list of ValueSite
        Every string with placeholders.

    Raises
    ------
    InputError
        A malformed placeholder or unknown modifier.
    """
    kv_text = environ.get("AVP_KV_VERSION", "").strip()
    if kv_text and kv_text not in ("1", "2"):
        raise InputError(f"AVP_KV_VERSION must be 1 or 2, not {kv_text!r}")
    kv = int(kv_text) if kv_text else None
    sites: list[ValueSite] = []
    stack: list[tuple[tuple[_Key, ...], Any]] = [((), values)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if not might_hold_placeholder(node, generic=False):
                continue
            site = ValueSite(path, node, ())
            try:
                found = find_placeholders(node, generic=False)
            except PlaceholderSyntaxError as err:
                raise InputError(f"{source}: {err} in {site.field}") from None
            if found:
                bounds = []
                for placeholder in found:
                    try:
                        version = kv_read_version(
                            placeholder.version, kv, what=f"{source}: {placeholder.label}"
                        )
                    except PlaceholderSyntaxError as err:
                        raise InputError(
                            f"{source}: malformed placeholder {placeholder.label}: {err} "
                            f"in {site.field}"
                        ) from None
                    bounds.append(
                        Bound(placeholder, SecretRef(placeholder.path or "", version, kv))
                    )
                sites.append(ValueSite(path, node, tuple(bounds)))
        elif isinstance(node, Mapping):
            stack.extend(((*path, str(key)), item) for key, item in reversed(list(node.items())))
        elif isinstance(node, list | tuple):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(node))))
    return sites


def substitute_values(
    values: dict[str, Any],
    sites: list[ValueSite],
    results: Mapping[SecretRef, SecretResult],
    *,
    source: str,
    mask: bool,
    written: set[str] | None = None,
) -> dict[str, Any]:
    """Return a copy of ``values`` with every site substituted.

    Parameters
    ----------
    values
        The merged values (not changed).
    sites
        From :func:`plan_values`.
    results
        The backend's answer.
    source
        Names the values in messages.
    mask
        Write ``********`` for every value.
    written
        Receives every string a secret put into the values (each placeholder's
        value, the strings inside a structured one, and its JSON text): the
        rendered manifests are not scanned inside them again (SPEC 5).

    Returns
    -------
    dict
        The substituted copy.
    """
    values_written: list[Any] = []
    replacements = {
        site.path: resolve_string(
            site.text,
            site.bounds,
            results,
            where=source,
            field=site.field,
            mask=mask,
            written=values_written,
        )
        for site in sites
    }
    if written is not None:
        for value in values_written:
            _strings(value, written)
    copied = _copy(values, (), replacements)
    assert isinstance(copied, dict)  # noqa: S101 - a dict copies to a dict
    return copied


def _strings(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        out.add(value)
        return
    if isinstance(value, Mapping | list | tuple):
        with contextlib.suppress(ModifierError):  # NaN or an infinity: no JSON text to shield
            out.add(stringify(value))
        items = value.values() if isinstance(value, Mapping) else value
        for item in items:
            _strings(item, out)


def placeholder_overlay(values: Any) -> Any:
    """Return the part of ``values`` that holds inline placeholders (``None`` when none).

    Maps keep only the keys whose values hold placeholders; a list or a string
    that holds one is kept whole (Helm replaces lists as a whole). Layered under
    the user's values, it resolves a chart's own ``values.yaml`` exactly where no
    user value overrides it.

    Parameters
    ----------
    values
        A chart's default values.

    Returns
    -------
    Any
        The overlay, or ``None``.
    """
    if isinstance(values, str):
        return values if might_hold_placeholder(values, generic=False) else None
    if isinstance(values, Mapping):
        kept = {}
        for key, item in values.items():
            sub = placeholder_overlay(item)
            if sub is not None:
                kept[str(key)] = sub
        return kept or None
    if isinstance(values, list | tuple):
        holds = any(placeholder_overlay(item) is not None for item in values)
        return list(values) if holds else None
    return None


def _copy(node: Any, path: tuple[_Key, ...], replacements: Mapping[tuple[_Key, ...], Any]) -> Any:
    if path in replacements:
        return replacements[path]
    if isinstance(node, Mapping):
        return {key: _copy(item, (*path, str(key)), replacements) for key, item in node.items()}
    if isinstance(node, list | tuple):
        return [_copy(item, (*path, index), replacements) for index, item in enumerate(node)]
    return node
