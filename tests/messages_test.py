"""Messages and exit codes of failures users meet first (issue 12, item 7).

Every case runs the real ``lsp-render`` with the real Kustomize (``kubectl
kustomize`` or ``kustomize``) and checks SPEC section 9: the exit code, empty
stdout and one stderr line that says what to do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.core.engines import engine_message
from tests.cli_helpers import assert_failure, run

# What `kubectl kustomize` (v1.34) writes for helmCharts without --enable-helm: a klog block.
KLOG_BLOCK = (
    'E1129 14:32:39.114401   12769 run.go:72] "command failed" err=<\n'
    "\ttrouble configuring builtin HelmChartInflationGenerator with config: `\n"
    "\tname: web\n"
    "\treleaseName: web\n"
    "\trepo: https://charts.example.org\n"
    "\tversion: 1.0.0\n"
    "\t`: must specify --enable-helm\n"
    " >\n"
)
CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    app = root / "web"
    for name, text in files.items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return app


def test_a_klog_block_is_kept_whole_without_its_closing_mark() -> None:
    message = engine_message(KLOG_BLOCK)
    assert message.startswith("trouble configuring builtin HelmChartInflationGenerator")
    assert "must specify --enable-helm" in message
    assert "hybrid" in message
    assert not message.rstrip().endswith(">")
    assert "\n" not in message


def test_warnings_before_a_klog_error_are_dropped() -> None:
    stderr = "# Warning: 'commonLabels' is deprecated. Please use 'labels' instead.\n" + KLOG_BLOCK
    assert "Warning" not in engine_message(stderr)


def test_warnings_before_an_error_line_are_dropped() -> None:
    stderr = "# Warning: 'commonLabels' is deprecated.\nError: accumulating resources: x\ny\n"
    assert engine_message(stderr) == "accumulating resources: x y"


def test_helm_charts_in_a_kustomization_says_what_failed_and_points_to_the_hybrid(
    tmp_path: Path,
) -> None:
    app = _app(
        tmp_path,
        {
            "kustomization.yaml": (
                # a vendored chart (a remote repo is refused before Kustomize runs)
                "helmCharts:\n  - name: web\n    version: 1.0.0\n    releaseName: web\n"
            )
        },
    )
    result = run(["render", str(app)])
    assert_failure(
        result,
        1,
        "web: kustomize build web: trouble configuring builtin HelmChartInflationGenerator",
        "must specify --enable-helm",
        "enableHelm: true",
        "make the app a hybrid",
    )
    assert not result.stderr.rstrip().endswith(">")


@pytest.mark.parametrize(
    "kustomization",
    [
        "resources:\n  - cm.yaml\n  bad: [\n",  # not YAML
        "resources: [cm.yaml]\nresourcez: []\n",  # an unknown field
        "resources: cm.yaml\n",  # a wrong type
    ],
    ids=["syntax", "unknown-field", "wrong-type"],
)
def test_a_malformed_kustomization_is_bad_input(tmp_path: Path, kustomization: str) -> None:
    app = _app(tmp_path, {"kustomization.yaml": kustomization, "cm.yaml": CONFIGMAP})
    assert_failure(run(["render", str(app)]), 2, "kustomize build web", "invalid Kustomization")


def test_a_malformed_resource_of_a_kustomization_is_bad_input(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": CONFIGMAP + "data: [\n"},
    )
    assert_failure(run(["render", str(app)]), 2, "MalformedYAMLError", "cm.yaml")


def test_a_missing_resource_still_fails_the_render(tmp_path: Path) -> None:
    app = _app(tmp_path, {"kustomization.yaml": "resources: [absent.yaml]\n"})
    assert_failure(run(["render", str(app)]), 1, "absent.yaml")


def test_a_missing_remote_dependency_names_init_and_vendoring(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "Chart.yaml": CHART
            + "dependencies:\n  - name: redis\n    version: 1.0.0\n"
            + "    repository: https://charts.example.org\n",
            "templates/cm.yaml": CONFIGMAP,
        },
    )
    result = run(["render", str(app)])
    assert_failure(result, 1, "redis (https://charts.example.org)", "lsp-render init", "vendor")
    assert "helm dependency build" not in result.stderr


@pytest.mark.parametrize(
    ("name", "text"),
    [("settings.yaml", "replicas: 3\n"), ("settings.json", '{"replicas": 3}\n')],
)
def test_a_file_that_is_no_manifest_in_a_plain_app_points_to_plain_exclude(
    tmp_path: Path, name: str, text: str
) -> None:
    app = _app(tmp_path, {"cm.yaml": CONFIGMAP, name: text})
    result = run(["render", str(app)])
    assert_failure(result, 2, f"web/{name}", "not a Kubernetes object", "plain.exclude")
    # Doing what the message says works.
    (app / "lsp-render.yaml").write_text(f"plain:\n  exclude: ['{name}']\n")
    fixed = run(["render", str(app)])
    assert fixed.code == 0, fixed.stderr
    assert [obj["kind"] for obj in fixed.objects()] == ["ConfigMap"]


def test_the_plain_exclude_hint_escapes_glob_characters(tmp_path: Path) -> None:
    app = _app(tmp_path, {"cm.yaml": CONFIGMAP, "notes[1].yaml": "a: 1\n", "notes1.yaml": "b\n"})
    (app / "notes1.yaml").write_text(CONFIGMAP.replace("name: web", "name: notes"))
    result = run(["render", str(app)])
    assert_failure(result, 2, "plain.exclude: ['notes[[]1].yaml']")
    (app / "lsp-render.yaml").write_text("plain:\n  exclude: ['notes[[]1].yaml']\n")
    fixed = run(["render", str(app)])
    assert fixed.code == 0, fixed.stderr
    assert len(fixed.objects()) == 2  # notes1.yaml is not excluded by the escaped pattern


def test_a_bare_lsp_render_prints_the_help_as_click_formats_it() -> None:
    result = run([])
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: lsp-render")
    assert "Commands:" in lines
    assert any(line.strip().startswith("render-all") for line in lines)
    assert max(len(line) for line in lines) <= 100


def test_an_application_path_the_system_refuses_is_bad_input(tmp_path: Path) -> None:
    """A name longer than the file system allows was an internal error (stat raised)."""
    app = tmp_path / ("a" * 300)
    result = run(["render", str(app)])
    assert_failure(result, 2, "cannot read the application directory", "File name too long")
