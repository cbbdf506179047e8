"""One Kubernetes version for ``.Capabilities``, whatever the engine (issue 12, item 3).

Without ``KUBE_VERSION`` Helm assumes the version of the Kubernetes client it
was built with (v1.36.0 for Helm 4.2, v1.35.0 for Helm 4.1). lsp-render always
passes one: ``--kube-version`` > ``helm.kubeVersion`` of ``lsp-render.yaml`` >
``KUBE_VERSION`` (Argo CD's) > ``helm.kubeVersion`` of ``lsp-render-repo.yaml``
> ``DEFAULT_KUBE_VERSION``. ``render-all`` and ``diff`` take ``--kube-version``
and ``--api-versions`` as Argo CD's ``KUBE_VERSION`` and ``KUBE_API_VERSIONS``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lsp_render.sources.helm.capabilities import DEFAULT_KUBE_VERSION
from tests.cli_helpers import base_env, run
from tests.realhelm import real_helm_4_1

__all__ = ["real_helm_4_1"]

_TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.org/v1" | quote }}
"""


def _chart(directory: Path) -> None:
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text("apiVersion: v2\nname: caps\nversion: 0.1.0\n")
    (directory / "templates" / "caps.yaml").write_text(_TEMPLATE)
    (directory / "values.yaml").write_text("{}\n")
    (directory / "values-dev.yaml").write_text("{}\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """apps/free (no kubeVersion of its own) and apps/pinned (lsp-render.yaml: 1.29)."""
    root = tmp_path / "repo"
    _chart(root / "apps" / "free")
    _chart(root / "apps" / "pinned")
    (root / "apps" / "pinned" / "lsp-render.yaml").write_text('helm:\n  kubeVersion: "1.29"\n')
    (root / "lsp-render-repo.yaml").write_text('applications: ["apps/*"]\n')
    return root


def _caps(stdout: str) -> dict[str, str]:
    (doc,) = [d for d in yaml.safe_load_all(stdout) if d]
    data: dict[str, str] = doc["data"]
    return data


def _env(tmp_path: Path, helm: Path | None, **extra: str) -> dict[str, str]:
    env = base_env(tmp_path)
    if helm is None:
        empty = tmp_path / "no-helm"
        empty.mkdir(exist_ok=True)
        env["PATH"] = str(empty)
    else:
        env["LSP_RENDER_HELM"] = str(helm)
    env.update(extra)
    return env


@pytest.mark.parametrize("engine", ["embedded", "binary"])
def test_one_default_whatever_the_engine(
    engine: str, real_helm_4_1: Path, repo: Path, tmp_path: Path
) -> None:
    # Helm 4.1's own default is v1.35.0, the embedded Helm 4.2's v1.36.0.
    env = _env(tmp_path, real_helm_4_1 if engine == "binary" else None)
    result = run(["render", "apps/free"], cwd=repo, env=env)
    assert result.code == 0, result.stderr
    assert _caps(result.stdout)["kube"] == f"v{DEFAULT_KUBE_VERSION}"


def test_precedence_flag_app_config_kube_version_repo_config_default(
    repo: Path, tmp_path: Path
) -> None:
    def kube(app: str, *flags: str, **extra: str) -> str:
        result = run(["render", app, *flags], cwd=repo, env=_env(tmp_path, None, **extra))
        assert result.code == 0, result.stderr
        return _caps(result.stdout)["kube"]

    assert kube("apps/free") == f"v{DEFAULT_KUBE_VERSION}"
    (repo / "lsp-render-repo.yaml").write_text(
        'applications: ["apps/*"]\nhelm:\n  kubeVersion: "1.30.2"\n'
    )
    assert kube("apps/free") == "v1.30.2"  # the repository's default for local runs
    assert kube("apps/free", KUBE_VERSION="1.31.1") == "v1.31.1"  # Argo CD's cluster wins
    assert kube("apps/pinned", KUBE_VERSION="1.31.1") == "v1.29.0"  # the app's own setting
    assert kube("apps/pinned", "--kube-version", "1.33") == "v1.33.0"  # the command line


def test_repo_kube_version_applies_only_to_the_apps_it_covers(repo: Path, tmp_path: Path) -> None:
    (repo / "lsp-render-repo.yaml").write_text(
        'applications: ["apps/pinned"]\nhelm:\n  kubeVersion: "1.30.2"\n'
    )
    result = run(["render", "apps/free"], cwd=repo, env=_env(tmp_path, None))
    assert _caps(result.stdout)["kube"] == f"v{DEFAULT_KUBE_VERSION}", result.stderr


def test_render_all_takes_the_clusters_versions(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    flags = ["--kube-version", "1.31", "--api-versions", "example.org/v1", "--jobs", "1"]
    result = run(
        ["render-all", ".", "--output-dir", str(out), *flags], cwd=repo, env=_env(tmp_path, None)
    )
    assert result.code == 0, result.stdout + result.stderr
    free = _caps((out / "dev" / "apps" / "free.yaml").read_text())
    assert free == {"kube": "v1.31.0", "widgets": "true"}
    # As in Argo CD, the app's own lsp-render.yaml still names its version.
    assert _caps((out / "dev" / "apps" / "pinned.yaml").read_text())["kube"] == "v1.29.0"
    plain = run(
        ["render-all", ".", "--output-dir", str(tmp_path / "plain"), "--jobs", "1"],
        cwd=repo,
        env=_env(tmp_path, None),
    )
    assert plain.code == 0, plain.stderr
    assert _caps((tmp_path / "plain" / "dev" / "apps" / "free.yaml").read_text()) == {
        "kube": f"v{DEFAULT_KUBE_VERSION}",
        "widgets": "false",
    }


def test_diff_takes_the_clusters_versions(repo: Path, tmp_path: Path) -> None:
    (repo / "apps" / "free" / "values-prod.yaml").write_text("{}\n")
    env = _env(tmp_path, None)
    same = run(["diff", "apps/free", "--env", "dev", "--against-env", "prod"], cwd=repo, env=env)
    assert same.code == 0, same.stderr
    flags = ["--kube-version", "1.31", "--api-versions", "example.org/v1"]
    args = ["diff", "apps/free", "--env", "dev", "--against-env", "prod", *flags]
    assert run(args, cwd=repo, env=env).code == 0
    # Both sides take the flags: a version that breaks the chart breaks both sides.
    (repo / "apps" / "free" / "Chart.yaml").write_text(
        'apiVersion: v2\nname: caps\nversion: 0.1.0\nkubeVersion: ">=1.32"\n'
    )
    old = run(args, cwd=repo, env=env)
    assert old.code == 2
    assert "incompatible with Kubernetes v1.31.0" in old.stderr
