"""The contract every secret backend implements (Vault, file).

The resolver collects the placeholders of a render into ``SecretRef`` values,
asks one backend for all of them at once, and gets one ``SecretResult`` each.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["SecretBackend", "SecretRef", "SecretResult"]


@dataclass(frozen=True, slots=True)
class SecretRef:
    """One secret a placeholder refers to (what a backend reads)."""

    path: str  # as written in the placeholder ("secret/data/app" or "secret/app" or "kv/app")
    version: str | None  # "3", or None for latest
    kv_version: int | None  # 1 or 2 from annotations/AVP_KV_VERSION, None = detect per mount


@dataclass(frozen=True, slots=True)
class SecretResult:
    """What a backend found for one ``SecretRef``: the data or a one-line error."""

    # key/value mapping of the secret; None when it could not be read
    data: Mapping[str, Any] | None
    error: str | None  # one-line reason, no secret values (e.g. "Could not find secrets at path X")


class SecretBackend(Protocol):
    """A source of secrets: reads every reference of a render at once."""

    def read(self, refs: Collection[SecretRef]) -> dict[SecretRef, SecretResult]:
        """Return one result per reference (no traffic for an empty collection)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
