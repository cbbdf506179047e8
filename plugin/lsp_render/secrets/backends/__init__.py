"""Secret backends: ``file`` (``--secrets-file``) and ``vault``, each a ``SecretBackend``."""

from __future__ import annotations

__all__: list[str] = []
