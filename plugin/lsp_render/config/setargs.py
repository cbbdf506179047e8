"""Helm ``--set`` arguments made from configuration values (no heavy imports)."""

from __future__ import annotations

__all__ = ["ScalarValue", "escape_set_value", "format_set"]

ScalarValue = str | int | float | bool | None


def escape_set_value(value: str) -> str:
    """Escape a value for Helm's ``--set`` parser (backslashes and commas)."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


def format_set(key: str, value: ScalarValue) -> str:
    """Format one ``key: value`` of a configuration's ``set`` as a ``--set`` argument."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"{key}={value}"
    return f"{key}={escape_set_value(value)}"
