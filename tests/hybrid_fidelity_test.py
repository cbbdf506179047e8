"""A real project's Helm + last-mile Kustomize release pipeline, reproduced as a hybrid app.

The chart is Phalanx's ``wobbly`` (tests/data/charts/repo, MIT). The expected side is built
without lsp-render: Helm's engine renders the chart directly, and ``kubectl kustomize`` builds
the same last-mile kustomization over that output, as a ``helm template | kustomize build``
release pipeline does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import yaml

from tests.cli_helpers import run

CHARTS = Path(__file__).resolve().parent / "data" / "charts" / "repo"

SETS: dict[str, Any] = {
    "global": {
        "host": "data-dev.lsst.cloud",
        "baseUrl": "https://data-dev.lsst.cloud",
        "environmentName": "idfdev",
        "vaultSecretsPath": "secret/phalanx/idfdev",
        "repertoireUrl": "https://data-dev.lsst.cloud/repertoire",
    }
}

CONFIG = """\
helm:
  chart: ../../applications/wobbly
  releaseName: wobbly
  namespace: wobbly
  valueFiles:
    - ../../applications/wobbly/values.yaml
    - "../../applications/wobbly/values-{{ env }}.yaml"
  kubeVersion: "1.30.2"
  set:
    global.host: data-dev.lsst.cloud
    global.baseUrl: https://data-dev.lsst.cloud
    global.environmentName: "{{ env }}"
    global.vaultSecretsPath: secret/phalanx/idfdev
    global.repertoireUrl: https://data-dev.lsst.cloud/repertoire
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: wobbly
commonLabels:
  team: sqre
patches:
  - target: {group: apps, version: v1, kind: Deployment, name: wobbly}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 3
      - op: add
        path: /spec/template/spec/priorityClassName
        value: rsp-critical
  - target: {version: v1, kind: Service, name: wobbly}
    patch: |-
      - op: add
        path: /metadata/annotations
        value: {cloud.google.com/neg: '{"ingress": true}'}
"""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _expected(chart: Path, tmp: Path) -> str:
    values: dict[str, Any] = {}
    for name in ("values.yaml", "values-idfdev.yaml"):
        values = _merge(values, helm_python.values_from_yaml((chart / name).read_text()))
    values = _merge(values, SETS)
    with helm_python.Chart.load(str(chart)) as loaded:
        rendered = loaded.render(values, name="wobbly", namespace="wobbly")
    docs = [
        text
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt") and text.strip()
    ]
    build = tmp / "expected"
    build.mkdir()
    (build / "helm.yaml").write_text("\n---\n".join(docs))
    (build / "kustomization.yaml").write_text(KUSTOMIZATION + "resources: [helm.yaml]\n")
    return subprocess.run(
        ["kubectl", "kustomize", str(build)], capture_output=True, text=True, check=True
    ).stdout


def test_hybrid_reproduces_helm_template_piped_into_kustomize_build(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CHARTS / "applications" / "wobbly", repo / "applications" / "wobbly")
    (repo / ".git").mkdir()
    app = repo / "deploy" / "wobbly"
    app.mkdir(parents=True)
    (app / "lsp-render.yaml").write_text(CONFIG)
    (app / "kustomization.yaml").write_text(KUSTOMIZATION)

    result = run(["render", str(app), "--env", "idfdev"])
    assert result.code == 0, result.stderr
    expected = _expected(repo / "applications" / "wobbly", tmp_path)
    ours = result.stdout.removeprefix("---\n")
    assert ours == expected

    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(ours) if o}
    deployment = objects[("Deployment", "wobbly")]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "rsp-critical"
    assert all(o["metadata"].get("namespace") == "wobbly" for o in objects.values())
    assert all(o["metadata"]["labels"]["team"] == "sqre" for o in objects.values())
