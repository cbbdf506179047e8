"""The hybrid's Kustomize starts before Helm renders and reads Helm's output through a pipe.

sources/kustomize.py (HybridBuild): the same result, errors in the same order,
and nothing left running or on disk, whatever fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from lsp_render.sources.kustomize import HELM_OUTPUT_FILE, HybridBuild
from tests.cli_helpers import assert_failure, base_env, run

CHART = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-config
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
"""
PATCH = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
patches:
  - target: {kind: ConfigMap, name: demo-config}
    patch: |-
      - op: add
        path: /metadata/annotations
        value: {example.org/last-mile: "true"}
"""


def _hybrid(tmp_path: Path, kustomization: str = PATCH, template: str = CONFIG_MAP) -> Path:
    app = tmp_path / "repo" / "app"
    (app / "templates").mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    (app / "Chart.yaml").write_text(CHART)
    (app / "templates" / "cm.yaml").write_text(template)
    (app / "kustomization.yaml").write_text(kustomization)
    return app


def _env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return {**base_env(tmp_path), "TMPDIR": str(scratch), "LSP_RENDER_ENGINE_TIMEOUT": "20"}


def test_hybrid_render_patches_helms_output_and_leaves_nothing(tmp_path: Path) -> None:
    app = _hybrid(tmp_path)
    result = run(["render", str(app), "--set", "greeting=hi"], env=_env(tmp_path))
    assert result.code == 0, result.stderr
    [config] = result.objects()
    assert config["metadata"]["annotations"] == {"example.org/last-mile": "true"}
    assert config["data"] == {"greeting": "hi"}
    assert list((tmp_path / "scratch").iterdir()) == []


def test_helm_output_read_a_second_time_is_a_regular_file(tmp_path: Path) -> None:
    kustomization = PATCH + (
        "configMapGenerator:\n"
        f"  - name: helm-stream\n    files: [stream={HELM_OUTPUT_FILE}]\n"
        "generatorOptions: {disableNameSuffixHash: true}\n"
    )
    app = _hybrid(tmp_path, kustomization)
    result = run(["render", str(app)], env=_env(tmp_path))
    assert result.code == 0, result.stderr
    objects = {o["metadata"]["name"]: o for o in result.objects()}
    stream = objects["helm-stream"]["data"]["stream"]
    assert [doc["metadata"]["name"] for doc in yaml.safe_load_all(stream) if doc] == ["demo-config"]


def test_helm_failure_wins_and_stops_kustomize(tmp_path: Path) -> None:
    app = _hybrid(tmp_path, template='{{ fail "greeting is required" }}\n')
    result = run(["render", str(app)], env=_env(tmp_path))
    assert_failure(result, 1, "greeting is required")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_errors_keep_their_order_helm_first_then_the_last_mile(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: []\n")
    leaving = "resources: [../../outside]\n"
    app = _hybrid(tmp_path, leaving, template='{{ fail "greeting is required" }}\n')
    assert_failure(run(["render", str(app)], env=_env(tmp_path)), 1, "greeting is required")
    (app / "templates" / "cm.yaml").write_text(CONFIG_MAP)
    assert_failure(run(["render", str(app)], env=_env(tmp_path)), 2, "leaves the repository")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_kustomize_failure_is_reported_not_waited_for(tmp_path: Path) -> None:
    app = _hybrid(tmp_path, "resources: [missing.yaml]\n")
    result = run(["render", str(app)], env=_env(tmp_path))
    assert_failure(result, 1, "missing.yaml")
    assert "did not finish" not in result.stderr


def test_an_unused_hybrid_build_kills_kustomize_and_cleans_up(tmp_path: Path) -> None:
    app = _hybrid(tmp_path)
    repo = app.parent
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    with HybridBuild(app, repo, label="app", environ=environ) as hybrid:
        proc = hybrid._proc
        copy = hybrid._copy
        assert proc is not None and copy is not None
        assert (copy / HELM_OUTPUT_FILE).exists()
    assert proc.returncode is not None
    assert not copy.exists()
