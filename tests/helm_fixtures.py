"""Fixtures and helpers for the Helm source tests (charts in tests/data/charts/repo)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsp_render.core.manifests import Document
from lsp_render.sources.helm import HelmInputs
from lsp_render.sources.helm.embedded import clear_cache

__all__ = [
    "REPO",
    "embedded_only",
    "inputs",
    "objects",
    "snapshot",
    "write_fake_helm",
]

REPO = (Path(__file__).parent / "data" / "charts" / "repo").resolve()


def inputs(app: str, **overrides: Any) -> HelmInputs:
    """HelmInputs for ``applications/<app>`` of the test repository."""
    fields: dict[str, Any] = {
        "chart_dir": REPO / "applications" / app,
        "repo_root": REPO,
        "release_name": "rel",
        "namespace": "ns",
    }
    fields.update(overrides)
    return HelmInputs(**fields)


def objects(docs: list[Document]) -> list[Any]:
    """Parse every document (comment-only ones become ``None``)."""
    return [yaml.safe_load(doc.text) for doc in docs]


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a hash of its content (or its link target)."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                state[rel] = f"link:{path.readlink()}"
            elif path.is_file():
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[rel] = "dir"
    return state


@pytest.fixture
def embedded_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No helm binary reachable (an empty PATH) and no chart cached from another test."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    clear_cache()
    yield
    clear_cache()


_FAKE_HELM = '''#!{python}
"""A stand-in for helm: records its argv and stdin, prints a canned stream."""
import json, os, pathlib, sys

log = pathlib.Path(os.environ["FAKE_HELM_LOG"])
calls = json.loads(log.read_text()) if log.exists() else []
stdin = sys.stdin.read() if "-" in sys.argv else None
calls.append({{"argv": sys.argv[1:], "stdin": stdin}})
log.write_text(json.dumps(calls))
if sys.argv[1:3] == ["dependency", "build"]:
    chart = pathlib.Path(sys.argv[-1])
    for name in os.environ.get("FAKE_HELM_BUILDS", "").split(","):
        if name:
            (chart / "charts" / name).mkdir(parents=True, exist_ok=True)
            (chart / "charts" / name / "Chart.yaml").write_text(f"name: {{name}}\\n")
    sys.exit(0)
if os.environ.get("FAKE_HELM_SLEEP"):
    import time
    time.sleep(float(os.environ["FAKE_HELM_SLEEP"]))
code = int(os.environ.get("FAKE_HELM_EXIT", "0"))
if code:
    sys.stderr.write("walk.go:75: found symbolic link in path\\n")
    sys.stderr.write(os.environ.get("FAKE_HELM_STDERR", "Error: failed") + "\\n")
    sys.exit(code)
sys.stdout.write(pathlib.Path(os.environ["FAKE_HELM_OUTPUT"]).read_text())
'''


def write_fake_helm(directory: Path) -> Path:
    """Write an executable fake ``helm`` into ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "helm"
    script.write_text(_FAKE_HELM.format(python=sys.executable))
    script.chmod(0o755)
    return script
