"""Value files mean to lsp-render what they mean to ``helm template -f`` (issue 12, item 1).

tests/data/values-fidelity holds a chart whose template prints every value
with its Go type, a ``values-dev.yaml`` of scalars and keys that YAML 1.1 and
Helm's go-yaml read differently (``2:30``, ``5e3``, ``0o10``, ``y:``, ``on:``,
``!!binary``, a second document), inline values and ``--set`` from
``lsp-render.yaml``, and ``--set`` from ``lsp-render-repo.yaml``. The oracle
is a real Helm 4 binary (tests/realhelm.py) given the same layers on its own
command line; lsp-render must print the same bytes with the embedded engine
and with that binary as ``LSP_RENDER_HELM``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import base_env, run
from tests.realhelm import real_helm

__all__ = ["real_helm"]

DATA = Path(__file__).parent / "data" / "values-fidelity"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the test repository (its root holds lsp-render-repo.yaml)."""
    root = tmp_path / "repo"
    shutil.copytree(DATA, root)
    return root


def _helm_template(helm: Path, repo: Path, tmp_path: Path, *extra: str) -> str:
    """What ``helm template`` prints for apps/edge with Argo CD's layers on its command line."""
    app = repo / "apps" / "edge"
    inline = tmp_path / "inline.json"  # helm.values of lsp-render.yaml, as Argo CD passes them
    inline.write_text(json.dumps({"layered": {"inline": "inline", "set": "inline"}}))
    argv = [
        str(helm),
        "template",
        "edge",
        str(app),
        "--namespace",
        "default",
        "--include-crds",
        *extra,
        "-f",
        str(app / "values.yaml"),
        "-f",
        str(app / "values-dev.yaml"),
        "-f",
        str(inline),
        "--set",
        "fromRepo=dev",  # lsp-render-repo.yaml: helm.set, in its order
        "--set",
        "layered.repo=repo",
        "--set",
        "layered.set=set",  # lsp-render.yaml: helm.set, in its order
        "--set",
        "fromSet=0o17",
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, timeout=120)
    return result.stdout


def _render(repo: Path, tmp_path: Path, helm: Path | None, *extra: str) -> str:
    env = base_env(tmp_path)
    if helm is None:
        empty = tmp_path / "no-helm"
        empty.mkdir(exist_ok=True)
        env["PATH"] = str(empty)  # the embedded engine
    else:
        env["LSP_RENDER_HELM"] = str(helm)
    result = run(["render", "apps/edge", "--env", "dev", *extra], cwd=repo, env=env)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


@pytest.mark.parametrize("engine", ["embedded", "binary"])
def test_value_files_render_as_real_helm(
    engine: str, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    expected = _helm_template(real_helm, repo, tmp_path)
    got = _render(repo, tmp_path, real_helm if engine == "binary" else None)
    assert got == expected
    (config_map,) = [doc for doc in yaml.safe_load_all(expected) if doc]
    data = json.loads(config_map["data"]["values.json"])
    # What the issue names, as Helm reads it (so the comparison above is not vacuous).
    assert data["window"] == "2:30"
    assert data["exponent"] == 5000
    assert data["octal"] == 8
    assert data["keyY"] == {"true": "short-yes"}
    assert data["keyN"] == {"false": "short-no"}
    assert data["keyOn"] == {"true": "long-on"}
    assert data["binary"] == "hello world"
    assert data["second"] == "document"
    assert data["layered"] == {
        "chart": "chart",
        "file": "dev",
        "fileDoc2": "dev",
        "inline": "inline",
        "repo": "repo",
        "set": "set",
    }


def test_a_value_file_helm_cannot_read_is_bad_input_on_both_engines(
    real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    (repo / "apps" / "edge" / "values-dev.yaml").write_text("a: 1\n  b: 2\n")
    for helm in (None, real_helm):
        env = base_env(tmp_path)
        if helm is None:
            env["PATH"] = str(tmp_path)
        else:
            env["LSP_RENDER_HELM"] = str(helm)
        result = run(["render", "apps/edge", "--env", "dev"], cwd=repo, env=env)
        assert (result.code, result.stdout) == (2, ""), result.stderr
        assert result.stderr.strip() == (
            "lsp-render: apps/edge/values-dev.yaml: invalid YAML at line 2: "
            "mapping values are not allowed in this context"
        )
