"""The helm binary engine, against a recording stand-in for helm on a private PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lsp_render.core.errors import InputError, RenderError
from lsp_render.sources.helm import render_chart
from lsp_render.sources.helm.binary import find_helm_binary
from tests.helm_fixtures import REPO, inputs, snapshot, write_fake_helm

_CANNED = """---
# Source: lsp-order/crds/widgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org

---
# Source: lsp-order/templates/a-workloads.yaml
apiVersion: v1
kind: Service
metadata:
  name: lsp-order-rel
---
# Source: lsp-order/templates/e-hooks.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: pre-install-job
  annotations:
    helm.sh/hook: pre-install
"""


@pytest.fixture
def fake_helm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake helm first on PATH; its calls are logged to ``calls.json``."""
    helm = write_fake_helm(tmp_path / "bin")
    output = tmp_path / "canned.yaml"
    output.write_text(_CANNED)
    monkeypatch.setenv("PATH", str(helm.parent))
    monkeypatch.setenv("FAKE_HELM_LOG", str(tmp_path / "calls.json"))
    monkeypatch.setenv("FAKE_HELM_OUTPUT", str(output))
    return helm


def _calls(tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = json.loads((tmp_path / "calls.json").read_text())
    return calls


def test_the_binary_on_path_is_found(fake_helm: Path) -> None:
    assert find_helm_binary() == fake_helm


def test_without_binary_the_embedded_engine_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_helm_binary() is None


def test_lsp_render_helm_names_the_binary(
    fake_helm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = write_fake_helm(tmp_path / "elsewhere")
    monkeypatch.setenv("LSP_RENDER_HELM", str(other))
    assert find_helm_binary() == other
    monkeypatch.setenv("LSP_RENDER_HELM", str(tmp_path / "no-such-helm"))
    with pytest.raises(InputError, match=r"^LSP_RENDER_HELM="):
        find_helm_binary()


def test_exact_argv_stdin_and_split_output(fake_helm: Path, tmp_path: Path) -> None:
    chart = REPO / "applications" / "lsp-order"
    first, second = chart / "values.yaml", chart / "charts" / "sub" / "values.yaml"
    docs = render_chart(
        inputs(
            "lsp-order",
            release_name="web",
            namespace="apps",
            value_files=(first, second),
            values={"inline": {"n": 1, "s": "--set x=y"}},
            set_values=("a.b=1,c=x", "--weird=$(rm -rf /)"),
            include_crds=True,
            skip_tests=True,
            kube_version="1.29",
            api_versions=("example.org/v1", "example.org/v1/Widget"),
        )
    )
    assert _calls(tmp_path) == [
        {
            "argv": [
                "template",
                "web",
                str(chart),
                "--namespace",
                "apps",
                "--include-crds",
                "--skip-tests",
                "--kube-version",
                "1.29",
                "--api-versions",
                "example.org/v1",
                "--api-versions",
                "example.org/v1/Widget",
                "-f",
                str(first),
                "-f",
                str(second),
                "-f",
                "-",
                "--set",
                "a.b=1,c=x",
                "--set",
                "--weird=$(rm -rf /)",
            ],
            "stdin": '{"inline": {"n": 1, "s": "--set x=y"}}',
        }
    ]
    assert [d.source for d in docs] == [
        "lsp-order/crds/widgets.yaml",
        "lsp-order/templates/a-workloads.yaml",
        "lsp-order/templates/e-hooks.yaml",
    ]
    assert docs[0].text == (
        "# Source: lsp-order/crds/widgets.yaml\napiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.org\n\n"
    )
    assert docs[2].text.endswith("helm.sh/hook: pre-install\n")


def test_minimal_argv_without_options(fake_helm: Path, tmp_path: Path) -> None:
    render_chart(inputs("lsp-order", include_crds=False))
    chart = str(REPO / "applications" / "lsp-order")
    assert _calls(tmp_path) == [
        {"argv": ["template", "rel", chart, "--namespace", "ns"], "stdin": None}
    ]


def test_helm_failure_is_one_line_render_error(
    fake_helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HELM_EXIT", "1")
    monkeypatch.setenv(
        "FAKE_HELM_STDERR",
        "Error: execution error at (lsp-order/templates/x.yaml:3:4): boom",
    )
    with pytest.raises(RenderError) as caught:
        render_chart(inputs("lsp-order"))
    assert str(caught.value) == (
        "chart lsp-order: helm template failed: "
        "execution error at (lsp-order/templates/x.yaml:3:4): boom"
    )


def test_timeout_from_environment(fake_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_SLEEP", "5")
    monkeypatch.setenv("LSP_RENDER_ENGINE_TIMEOUT", "0.5")
    with pytest.raises(
        RenderError, match=r"^chart lsp-order: helm template timed out after 0.5 s$"
    ):
        render_chart(inputs("lsp-order"))
    monkeypatch.setenv("LSP_RENDER_ENGINE_TIMEOUT", "soon")
    with pytest.raises(InputError, match=r"LSP_RENDER_ENGINE_TIMEOUT"):
        render_chart(inputs("lsp-order"))


def test_bad_release_name_never_reaches_the_command_line(fake_helm: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^invalid release name '--debug'"):
        render_chart(inputs("lsp-order", release_name="--debug"))
    assert not (tmp_path / "calls.json").exists()


def test_file_dependency_built_by_helm_in_scratch(
    fake_helm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_HELM_BUILDS", "prompt-keda")
    before = snapshot(REPO)
    render_chart(inputs("prompt-keda-hsc"))
    assert snapshot(REPO) == before
    build, template = _calls(tmp_path)
    assert build["argv"][:3] == ["dependency", "build", "--skip-refresh"]
    scratch_chart = build["argv"][3]
    assert scratch_chart.endswith("/repo/applications/prompt-keda-hsc")
    assert not scratch_chart.startswith(str(REPO))
    assert template["argv"][:3] == ["template", "rel", scratch_chart]
    assert not Path(scratch_chart).exists()


def test_file_dependency_left_missing_by_the_build_is_an_error(fake_helm: Path) -> None:
    with pytest.raises(RenderError, match=r"left dependencies missing: prompt-keda"):
        render_chart(inputs("prompt-keda-hsc"))


def test_binary_render_does_not_load_the_embedded_engine(fake_helm: Path) -> None:
    code = (
        "import sys\n"
        "from lsp_render.sources.helm import render_chart\n"
        "from tests.helm_fixtures import inputs\n"
        "assert 'helm_python' not in sys.modules\n"
        "docs = render_chart(inputs('lsp-order'))\n"
        "assert len(docs) == 3, docs\n"
        "print('helm_python' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONPATH": "plugin:."},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_symlink_leaving_the_repository_never_reaches_helm(fake_helm: Path, tmp_path: Path) -> None:
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, symlinks=True)
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: Secret\n")
    chart = repo / "applications" / "lsp-order"
    (chart / "templates" / "leak.yaml").symlink_to(outside)
    with pytest.raises(InputError, match=r"leak\.yaml: symbolic link leaves the repository"):
        render_chart(inputs("lsp-order", chart_dir=chart, repo_root=repo))
    assert not (tmp_path / "calls.json").exists()
