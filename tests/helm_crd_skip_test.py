"""A chart with no CRD file is not asked for its CRDs on each render; one with some always is.

The embedded engine learns, when a loaded chart is rendered a second time,
whether any ``crds/`` file exists with every subchart present
(``_LoadedChart.has_crds``); a chart rendered once is never asked. A render whose
values disable the CRD subchart must not teach it "none": the next render
that enables it prints the CRDs again. Both run in one fresh interpreter, as
the engine child of render-all renders one chart for many environments (the
test process itself never loads Helm's Go library: later forks would inherit it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import base_env, fresh_python

DATA = Path(__file__).parent / "data"

_SCRIPT = """
import json, sys
from pathlib import Path
from lsp_render.sources.helm import HelmInputs
from lsp_render.sources.helm import embedded
from lsp_render.sources.helm.crd_files import read_crd_text
from lsp_render.sources.helm.output import crd_section

root = Path(sys.argv[1])
def render(chart, *sets):
    inputs = HelmInputs(chart_dir=root / chart, repo_root=root, release_name="rel",
                        namespace="ns", set_values=sets, include_crds=True)
    result = embedded.render_parts_here(inputs)  # CRD files read from the chart: their text
    crds = [crd_section(name, read_crd_text(root / chart / path))
            for name, path in result.crd_files or ()]
    return "".join(crds + result.parts)

first = render("crd-pattern", "crds.enabled=false")
report = {
    "first": first,
    "disabled": "crd-widgets" in first,
    "enabled": "crd-widgets" in render("crd-pattern", "crds.enabled=true"),
    "plain": render("plain-chart") + render("plain-chart"),
    "once": render("once-chart"),
    "first_enabled": "crd-widgets" in render("crd-first", "crds.enabled=true"),
}
report["flags"] = {Path(key[0]).name: loaded.has_crds for key, loaded in embedded._cache.items()}
print(json.dumps(report))
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the CRD-pattern chart and a chart with no CRD."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    shutil.copytree(DATA / "crd-pattern", root / "crd-pattern")
    # Its only CRDs are then the subchart's: a render that disables it prints none.
    shutil.rmtree(root / "crd-pattern" / "crds")
    plain = root / "plain-chart"
    (plain / "templates").mkdir(parents=True)
    (plain / "Chart.yaml").write_text("apiVersion: v2\nname: plain-chart\nversion: 0.1.0\n")
    (plain / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    shutil.copytree(root / "crd-pattern", root / "crd-first")
    once = root / "once-chart"
    shutil.copytree(plain, once)
    (once / "Chart.yaml").write_text("apiVersion: v2\nname: once-chart\nversion: 0.1.0\n")
    return root


def _run(repo: Path, tmp_path: Path) -> dict[str, object]:
    env = base_env(tmp_path)
    env["PATH"] = str(tmp_path / "no-helm")
    proc = fresh_python(_SCRIPT, str(repo), env=env)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def test_crds_follow_the_values_of_each_render(repo: Path, tmp_path: Path) -> None:
    report = _run(repo, tmp_path)
    assert report["disabled"] is False
    assert "CustomResourceDefinition" not in str(report["first"])
    assert report["enabled"] is True  # the first render's "none" was not remembered
    flags = report["flags"]
    assert isinstance(flags, dict)
    assert flags["crd-pattern"] is True


def test_a_chart_without_crds_is_remembered_as_such(repo: Path, tmp_path: Path) -> None:
    report = _run(repo, tmp_path)
    assert "kind: ConfigMap" in str(report["plain"])
    flags = report["flags"]
    assert isinstance(flags, dict)
    assert flags["plain-chart"] is False


def test_a_chart_rendered_once_is_not_asked(repo: Path, tmp_path: Path) -> None:
    """lsp-render render renders once: listing every CRD of a big chart would be waste."""
    report = _run(repo, tmp_path)
    flags = report["flags"]
    assert isinstance(flags, dict)
    assert flags["once-chart"] is None
    assert report["first_enabled"] is True  # not asked is not "none"
