"""Where manifests come from: Helm, Kustomize (and the hybrid last mile), plain files."""

from __future__ import annotations

__all__: list[str] = []
