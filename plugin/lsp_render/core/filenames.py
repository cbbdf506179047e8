"""The file names that say what a directory is, in a module that imports nothing.

The CLI reads them first thing (the early Kustomize build, the engine child's
fork) before it has imported the modules that use them.
"""

from __future__ import annotations

__all__ = ["CONFIG_FILE", "KUSTOMIZATION_FILES", "REPO_CONFIG_FILE"]

CONFIG_FILE = "lsp-render.yaml"
"""An application's configuration."""

REPO_CONFIG_FILE = "lsp-render-repo.yaml"
"""The repository's configuration."""

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names Kustomize reads a kustomization from, in its order."""
