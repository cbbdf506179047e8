"""render-all's environments: value files named as fixed files are not environments.

The rule (``lsp_render.config.environments``): an app's environments are the
``values-<env>.yaml`` files of its directory that ``helm.valueFiles`` does not
name as fixed value files, plus the files an environment-dependent
``helm.valueFiles`` entry names. Every case runs the real ``lsp-render``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from lsp_render.config.environments import app_environments
from tests.cli_helpers import EXAMPLES, run

SECRETS = EXAMPLES / "secrets" / "secrets.yaml"

CHART = """\
apiVersion: v2
name: tiny
version: 0.1.0
"""
TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  tier: {{ .Values.tier | quote }}
  extra: {{ .Values.extra | default "none" | quote }}
"""


def _written(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))


def _chart(directory: Path) -> None:
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(CHART)
    (directory / "templates" / "cm.yaml").write_text(TEMPLATE)
    (directory / "values.yaml").write_text("tier: base\n")


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def test_render_all_examples_renders_the_hybrid_for_dev_and_prod(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["render-all", str(EXAMPLES), "--output-dir", str(out), "--jobs", "2"]
    result = run([*args, "--secrets-file", str(SECRETS)])
    assert result.code == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    written = _written(out)
    assert "dev/hybrid.yaml" in written
    assert "prod/hybrid.yaml" in written
    # values-storefront.yaml is a fixed value file of the hybrid, not an environment.
    assert not any("storefront" in name for name in written)
    for env in ("dev", "prod"):
        single = run(["render", str(EXAMPLES / "hybrid"), "--env", env])
        assert single.code == 0, single.stderr
        assert (out / env / "hybrid.yaml").read_text() == single.stdout
    assert (out / "dev" / "hybrid.yaml").read_text() != (out / "prod" / "hybrid.yaml").read_text()


def test_fixed_value_files_are_not_environments(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    app = root / "web"
    _chart(app)
    for name, tier in (("dev", "d"), ("prod", "p"), ("common", "c")):
        (app / f"values-{name}.yaml").write_text(f"tier: {tier}\n")
    (app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles: [values.yaml, values-common.yaml, 'values-{{ env }}.yaml']\n"
    )
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--output-dir", str(out)])
    assert result.code == 0, result.stdout + result.stderr
    assert _written(out) == ["dev/web.yaml", "prod/web.yaml"]
    assert 'tier: "p"' in (out / "prod" / "web.yaml").read_text()


def test_environments_from_a_templated_directory(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    app = root / "web"
    _chart(app)
    for env in ("qa", "live"):
        (root / "envs" / env).mkdir(parents=True)
        (root / "envs" / env / "web.yaml").write_text(f"tier: {env}\n")
    (root / "envs" / "README.md").write_text("not an environment\n")
    (app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles: [values.yaml, '../envs/{{ env }}/web.yaml']\n"
    )
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--output-dir", str(out)])
    assert result.code == 0, result.stdout + result.stderr
    assert _written(out) == ["live/web.yaml", "qa/web.yaml"]


def test_every_templated_file_must_exist_unless_missing_ones_are_ignored(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    app = root / "web"
    _chart(app)
    (app / "tier-dev.yaml").write_text("tier: d\n")
    (app / "tier-prod.yaml").write_text("tier: p\n")
    (app / "extra-dev.yaml").write_text("extra: x\n")
    config = "helm:\n  valueFiles: ['tier-{{ env }}.yaml', 'extra-{{ env }}.yaml']\n"
    (app / "lsp-render.yaml").write_text(config)
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--output-dir", str(out)])
    assert result.code == 0, result.stdout + result.stderr
    assert _written(out) == ["dev/web.yaml"]  # prod has no extra-prod.yaml
    (app / "lsp-render.yaml").write_text(config + "  ignoreMissingValueFiles: true\n")
    shutil.rmtree(out)
    result = run(["render-all", str(root), "--output-dir", str(out)])
    assert result.code == 0, result.stdout + result.stderr
    assert _written(out) == ["dev/web.yaml", "prod/web.yaml"]


def test_no_environment_is_found_outside_the_repository(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "values-stolen.yaml").write_text("tier: x\n")
    app = root / "web"
    _chart(app)
    (app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles: [values.yaml, '../../outside/values-{{ env }}.yaml']\n"
    )
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--output-dir", str(out)])
    # One pair, without environment: it fails on its path, and no "stolen" pair exists.
    assert "stolen" not in result.stdout + result.stderr
    assert result.code == 1
    assert "leaves the repository" in result.stdout


def test_a_symlink_out_of_the_repository_names_no_environment(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "values-stolen.yaml").write_text("tier: x\n")
    _chart(root / "chart")
    app = root / "web"
    app.mkdir()
    (app / "values-dev.yaml").write_text("tier: d\n")
    (app / "values-stolen.yaml").symlink_to(outside / "values-stolen.yaml")
    (app / "lsp-render.yaml").write_text(
        "helm:\n  chart: ../chart\n  valueFiles: ['values-{{ env }}.yaml']\n"
    )
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--output-dir", str(out)])
    assert result.code == 0, result.stdout + result.stderr
    assert [name for name in _written(out) if "web" in name] == ["dev/web.yaml"]


_LISTED: list[str] = []
_RECORDING: list[bool] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _RECORDING and event in {"os.listdir", "os.scandir"} and args:
        _LISTED.append(str(args[0]))


sys.addaudithook(_audit)


def test_no_directory_outside_the_repository_is_listed(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "values-stolen.yaml").write_text("tier: x\n")
    app = root / "web"
    _chart(app)
    (app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles: ['../../outside/values-{{ env }}.yaml']\n"
    )
    context = {"app": {"name": "web"}, "env": "", "params": {}, "envdata": {}}
    _LISTED.clear()
    _RECORDING.append(True)
    try:
        found = app_environments(app, root, context)
    finally:
        _RECORDING.clear()
    assert found == []
    listed = [Path(path) for path in _LISTED if Path(path).is_relative_to(tmp_path)]
    assert app in listed  # the audit hook sees the listing of the app directory
    assert not [path for path in listed if not path.is_relative_to(root)]
