"""lsp-render prints the native tools' bytes (issue 12, item 6).

tests/data/crd-pattern reproduces kube-prometheus-stack's CRD files: a ``crds``
subchart whose CRD files begin with a comment line and ``---``, so that
``helm template --include-crds`` prints a comment-only ``# Source:`` document
before each CRD, and blank lines after a file that ends in some. lsp-render's
stream must be the bytes a real Helm 4 binary prints (tests/realhelm.py), with
the embedded engine and with that binary. A Kustomize app's stream must be
``kubectl kustomize``'s bytes: no ``---`` before the first document.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import base_env, run
from tests.realhelm import real_helm

__all__ = ["real_helm"]

DATA = Path(__file__).parent / "data" / "crd-pattern"


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    """A copy of the chart, alone in its repository."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".git").mkdir()
    shutil.copytree(DATA, root / "crd-pattern")
    return root / "crd-pattern"


def _helm_template(helm: Path, chart: Path, tmp_path: Path) -> str:
    argv = [str(helm), "template", "rel", str(chart), "--namespace", "ns", "--include-crds"]
    argv += ["--kube-version", "1.36.0"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, check=True, timeout=120
    ).stdout


@pytest.mark.parametrize("engine", ["embedded", "binary"])
def test_helm_stream_is_helm_templates_bytes(
    engine: str, real_helm: Path, chart: Path, tmp_path: Path
) -> None:
    expected = _helm_template(real_helm, chart, tmp_path)
    # The pattern is there: comment-only Source documents and a CRD file's blank lines.
    assert "# Source: crd-pattern/charts/crds/crds/crd-widgets.yaml\n# https://" in expected
    assert "storage: true}]\n\n\n\n---\n" in expected
    env = base_env(tmp_path)
    if engine == "binary":
        env["LSP_RENDER_HELM"] = str(real_helm)
    else:
        env["PATH"] = str(tmp_path / "no-helm")
    args = ["render", str(chart), "--release-name", "rel", "--namespace", "ns"]
    result = run([*args, "--kube-version", "1.36.0"], env=env)
    assert result.code == 0, result.stderr
    assert result.stdout == expected


def test_disabled_crd_subchart_prints_no_crds(real_helm: Path, chart: Path, tmp_path: Path) -> None:
    (chart / "values.yaml").write_text("crds:\n  enabled: false\n")
    expected = _helm_template(real_helm, chart, tmp_path)
    assert "crd-widgets" not in expected
    env = base_env(tmp_path)
    env["PATH"] = str(tmp_path / "no-helm")
    args = ["render", str(chart), "--release-name", "rel", "--namespace", "ns"]
    result = run([*args, "--kube-version", "1.36.0"], env=env)
    assert (result.code, result.stdout) == (0, expected), result.stderr


def test_kustomize_stream_is_kubectl_kustomizes_bytes(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text("resources: [a.yaml]\nnamePrefix: x-\n")
    (app / "a.yaml").write_text(
        "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n"
    )
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is on the machine (BRIEF)"
    expected = subprocess.run(
        [kubectl, "kustomize", str(app)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert not expected.startswith("---")
    result = run(["render", str(app)], env=base_env(tmp_path))
    assert result.code == 0, result.stderr
    assert result.stdout == expected
