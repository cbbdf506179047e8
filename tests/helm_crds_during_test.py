"""CRDs listed from a second copy during the render equal Helm's listing of the rendered chart.

:class:`lsp_render.sources.helm.crds.DuringRender` keeps, from a copy with
every subchart, what ``CRDObjects`` of the rendered chart lists. Each case
renders a chart with the embedded engine in a fresh interpreter (the test
process never loads Helm's Go library) and compares, for every combination of
enabled subcharts, the selection with Helm's own listing after the render;
where the selection cannot be sure (a CRD two levels down, an alias) it must
answer None.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

_SCRIPT = """
import itertools, json, sys
from pathlib import Path
from lsp_render.sources.helm import crds, sdk

chart_dir, flags = Path(sys.argv[1]), json.loads(sys.argv[2])
out = []
for combo in itertools.product([False, True], repeat=len(flags)):
    values = {flag: {"enabled": on} for flag, on in zip(flags, combo)}
    during = crds.DuringRender(lambda: sdk.load_chart(chart_dir), sdk.chart_metadata(
        sdk.load_chart(chart_dir))["name"])
    chart = sdk.load_chart(chart_dir)
    sdk.render(chart, json.dumps(values), {"name": "r", "namespace": "n"})
    selected = during.select(chart)
    helm = [list(c) for c in sdk.chart_crds(chart)]
    out.append({"values": values, "helm": helm,
                "selected": None if selected is None else [[c.filename, c.data] for c in selected]})
print(json.dumps(out))
"""


def _crd(name: str) -> str:
    kind = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    return f"{kind}metadata:\n  name: {name}\n"


def _chart(
    root: Path, name: str, deps: list[tuple[str, str | None]] = (), crds: list[str] = ()
) -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    lines = [f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n"]
    if deps:
        lines.append("dependencies:\n")
        for dep, alias in deps:
            lines.append(
                f"  - name: {dep}\n    version: 0.1.0\n    condition: {alias or dep}.enabled\n"
            )
            if alias:
                lines.append(f"    alias: {alias}\n")
    (chart / "Chart.yaml").write_text("".join(lines))
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n"
    )
    for crd in crds:
        (chart / "crds").mkdir(exist_ok=True)
        (chart / "crds" / f"{crd}.yaml").write_text(_crd(crd))
    return chart


def _run(chart: Path, flags: list[str], tmp_path: Path) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k != "LSP_RENDER_HELM"}
    env["PATH"] = str(tmp_path / "no-helm")
    plugin = Path(__file__).resolve().parents[1] / "plugin"
    env["PYTHONPATH"] = f"{plugin}{os.pathsep}{env.get('PYTHONPATH', '')}"
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(chart), json.dumps(flags)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, object]] = json.loads(proc.stdout)
    return result


def test_the_crd_pattern_chart(tmp_path: Path) -> None:
    chart = tmp_path / "crd-pattern"
    shutil.copytree(DATA / "crd-pattern", chart)
    for case in _run(chart, ["crds"], tmp_path):
        assert case["selected"] == case["helm"], case["values"]


def test_subcharts_in_chart_yaml_order_not_directory_order(tmp_path: Path) -> None:
    """zeta before alpha in Chart.yaml: Helm lists zeta's CRDs first when both stay."""
    app = _chart(tmp_path, "app", [("zeta", None), ("alpha", None), ("plain", None)], ["a-own"])
    charts = app / "charts"
    _chart(charts, "zeta", crds=["z-one", "z-two"])
    _chart(charts, "alpha", crds=["a-one"])
    _chart(charts, "plain")
    cases = _run(app, ["zeta", "alpha", "plain"], tmp_path)
    assert len(cases) == 8
    for case in cases:
        assert case["selected"] is not None
        assert case["selected"] == case["helm"], case["values"]


@pytest.mark.parametrize("shape", ["nested", "alias"])
def test_what_the_selection_cannot_be_sure_of_is_left_to_helm(tmp_path: Path, shape: str) -> None:
    if shape == "nested":
        app = _chart(tmp_path, "app", [("mid", None)])
        mid = _chart(app / "charts", "mid", [("leaf", None)])
        _chart(mid / "charts", "leaf", crds=["deep"])
        flags = ["mid"]
    else:
        app = _chart(tmp_path, "app", [("sub", "renamed")])
        _chart(app / "charts", "sub", crds=["s-one"])
        flags = ["renamed"]
    cases = _run(app, flags, tmp_path)
    assert all(case["selected"] is None for case in cases)
    assert any(case["helm"] for case in cases)  # there were CRDs to list
