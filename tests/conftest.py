"""Fixtures shared by every test: no test can reach a real Vault or a user's files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_LEAKY_PREFIXES = ("VAULT_", "AVP_", "LSP_RENDER_", "ARGOCD_", "KUBE_")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Drop Vault, AVP, Argo CD and lsp-render variables; give each test its own HOME."""
    import os

    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    yield
