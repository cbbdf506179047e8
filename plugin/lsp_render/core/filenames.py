"""The names of the files that decide a render, in a module that imports nothing.

The CLI reads them first thing (the early Kustomize build, the engine child's
fork) before it has imported the modules that use them; the operator's policy
file is named by a variable, and asking whether there is one must not import
the policy's models (pydantic).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CONFIG_FILE",
    "KUSTOMIZATION_FILES",
    "POLICY_VARIABLE",
    "REPO_CONFIG_FILE",
    "policy_file",
]

CONFIG_FILE = "lsp-render.yaml"
"""An application's configuration."""

REPO_CONFIG_FILE = "lsp-render-repo.yaml"
"""The repository's configuration."""

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names Kustomize reads a kustomization from, in its order."""

POLICY_VARIABLE = "LSP_RENDER_POLICY"
"""Names the operator's policy file (:mod:`lsp_render.secrets.policy`)."""


def policy_file(environ: Mapping[str, str]) -> str:
    """Return the policy file ``LSP_RENDER_POLICY`` names, blanks stripped; ``""`` for none."""
    return environ.get(POLICY_VARIABLE, "").strip()
