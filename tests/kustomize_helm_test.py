"""Kustomize ``helmCharts:`` apps without a helm binary (issue 12, item 9).

tests/data/kustomize-helm/app is a kustomization with two ``helmCharts:``
entries of a chart vendored in ``charts/`` (value files, inline values,
``includeCRDs``, ``skipHooks``, ``apiVersions``) and ``kustomize.enableHelm``
in its ``lsp-render.yaml``. With no helm binary anywhere, lsp-render hands
Kustomize a shim to ``lsp-render helm`` (the embedded engine); the stream must
be what Kustomize v5.8.1 (Argo CD v3.5.1's) prints with a real Helm 4.2.3
(tests/realhelm.py). Nothing is ever pulled.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import assert_failure, base_env, run
from tests.realhelm import real_helm, real_kubectl

__all__ = ["real_helm", "real_kubectl"]

DATA = Path(__file__).parent / "data" / "kustomize-helm"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(DATA, root)
    (root / ".git").mkdir()
    return root


def _no_helm_env(tmp_path: Path, kubectl: Path) -> dict[str, str]:
    """PATH holds kubectl (Kustomize v5.8.1) and nothing else: no helm binary."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "kubectl"
    if not link.exists():
        link.symlink_to(kubectl)
    env = base_env(tmp_path)
    env["PATH"] = str(bin_dir)
    return env


def _kustomize_with_real_helm(
    kubectl: Path, helm: Path, app: Path, tmp_path: Path, kube_version: str = "1.36.0"
) -> str:
    argv = [str(kubectl), "kustomize", "--enable-helm", "--helm-command", str(helm)]
    argv += ["--helm-kube-version", kube_version, str(app)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, timeout=120)
    return result.stdout


def test_helm_charts_render_without_a_helm_binary_as_with_real_helm(
    real_kubectl: Path, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    app = repo / "app"
    expected = _kustomize_with_real_helm(real_kubectl, real_helm, app, tmp_path, "1.31.2")
    # Both entries inflated: the CRD, both Deployments, web's hook Job, api's Widget.
    for needle in ("widgets.example.org", "web-widget", "api-widget", "web-migrate", "name: api\n"):
        assert needle in expected
    assert "api-migrate" not in expected  # skipHooks: helm template --no-hooks
    assert "kube: v1.31.2" in expected  # Argo CD's --helm-kube-version (KUBE_VERSION)
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*"))
    env = _no_helm_env(tmp_path, real_kubectl)
    env["KUBE_VERSION"] = "1.31.2"
    result = run(["render", "app"], cwd=repo, env=env)
    assert result.code == 0, result.stderr
    assert result.stdout == expected
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*")) == before


def test_with_a_helm_binary_kustomize_uses_it(
    real_kubectl: Path, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    expected = _kustomize_with_real_helm(real_kubectl, real_helm, repo / "app", tmp_path)
    env = _no_helm_env(tmp_path, real_kubectl)
    env["LSP_RENDER_HELM"] = str(real_helm)
    result = run(["render", "app"], cwd=repo, env=env)
    assert (result.code, result.stdout) == (0, expected), result.stderr


def test_helm_charts_are_opt_in(real_kubectl: Path, repo: Path, tmp_path: Path) -> None:
    (repo / "app" / "lsp-render.yaml").unlink()
    result = run(["render", "app"], cwd=repo, env=_no_helm_env(tmp_path, real_kubectl))
    assert_failure(result, 1, "kustomize build app", "must specify --enable-helm")


def test_a_chart_not_vendored_is_refused_and_never_pulled(
    real_kubectl: Path, repo: Path, tmp_path: Path
) -> None:
    shutil.rmtree(repo / "app" / "charts")
    result = run(["render", "app"], cwd=repo, env=_no_helm_env(tmp_path, real_kubectl))
    assert_failure(result, 2, "app/kustomization.yaml: helmCharts[0]", "'widget' is not vendored")


# What the confinement check (sources/kustomize_refs.py) says, before any chart is looked at.
_OUTSIDE = {
    "chartHome": ("../../outside", "helmGlobals.chartHome '../../outside' leaves the repository"),
    "additionalValuesFiles": (
        ["../../outside/v.yaml"],
        "helmCharts[0].additionalValuesFiles[0] '../../outside/v.yaml' leaves the repository",
    ),
}


@pytest.mark.parametrize("field", sorted(_OUTSIDE))
def test_helm_chart_paths_stay_in_the_repository(
    field: str, real_kubectl: Path, repo: Path, tmp_path: Path
) -> None:
    value, needle = _OUTSIDE[field]
    import yaml

    outside = tmp_path / "outside"
    shutil.copytree(repo / "app" / "charts", outside)
    (outside / "v.yaml").write_text("replicas: 9\n")
    path = repo / "app" / "kustomization.yaml"
    data = yaml.safe_load(path.read_text())
    if field == "chartHome":
        data["helmGlobals"] = {field: value}
    else:
        data["helmCharts"][0][field] = value
    path.write_text(yaml.safe_dump(data))
    result = run(["render", "app"], cwd=repo, env=_no_helm_env(tmp_path, real_kubectl))
    assert_failure(result, 2, "app/kustomization.yaml", needle)


def test_lsp_render_helm_answers_what_kustomize_asks(repo: Path, tmp_path: Path) -> None:
    from helm_python import _native

    env = base_env(tmp_path)
    version = run(["helm", "version", "--short"], env=env)
    assert (version.code, version.stdout) == (0, f"{_native.helm_sdk_version()}\n")
    pull = run(
        ["helm", "pull", "--untar", "--untardir", str(tmp_path), "--repo", "https://x", "w"],
        env=env,
    )
    assert_failure(pull, 1, "helm: cannot pull w", "never downloads", "chartHome")
    assert not any(tmp_path.glob("w*"))
    chart = repo / "app" / "charts" / "widget"
    outside = run(["helm", "--root", str(repo / "app"), "template", "r", "/etc"], env=env)
    assert_failure(outside, 2, "helm template: chart /etc is not inside")
    for bad in (["helm", "install", "r", str(chart)], ["helm", "template", "r", str(chart), "-x"]):
        assert run(bad, env=env, cwd=repo).code == 2
    template = run(
        ["helm", "--root", str(repo), "template", "r", str(chart), "--no-hooks", "-n", "x"],
        env=env,
    )
    assert template.code == 0, template.stderr
    assert template.stdout.startswith("---\n# Source: widget/templates/deploy.yaml\n")
    assert "namespace: x\n" in template.stdout
    assert "kind: Job" not in template.stdout


def test_the_operators_policy_may_enable_helm_charts_per_project(
    real_kubectl: Path, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    (repo / "app" / "lsp-render.yaml").unlink()
    expected = _kustomize_with_real_helm(real_kubectl, real_helm, repo / "app", tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "projects:\n  shop:\n    kustomize: {enableHelm: true}\n  '*':\n    paths: []\n"
    )
    env = _no_helm_env(tmp_path, real_kubectl)
    env["LSP_RENDER_POLICY"] = str(policy)
    env["ARGOCD_APP_PROJECT_NAME"] = "shop"
    result = run(["render", "app"], cwd=repo, env=env)
    assert (result.code, result.stdout) == (0, expected), result.stderr
    env["ARGOCD_APP_PROJECT_NAME"] = "other"  # "*" does not enable it
    other = run(["render", "app"], cwd=repo, env=env)
    assert_failure(other, 1, "must specify --enable-helm")


def test_a_hybrids_last_mile_may_inflate_helm_charts(
    real_kubectl: Path, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    app = repo / "hybrid"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: main\nversion: 0.1.0\n")
    (app / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: main\n"
    )
    (app / "lsp-render.yaml").write_text("kustomize:\n  path: overlay\n  enableHelm: true\n")
    shutil.copytree(repo / "app" / "charts", app / "overlay" / "vendor")
    (app / "overlay" / "kustomization.yaml").write_text(
        "helmGlobals:\n  chartHome: vendor\nhelmCharts:\n  - name: widget\n    releaseName: side\n"
    )
    env = _no_helm_env(tmp_path, real_kubectl)
    embedded = run(["render", "hybrid"], cwd=repo, env=env)
    assert embedded.code == 0, embedded.stderr
    assert "name: main\n" in embedded.stdout
    assert "name: side-widget\n" in embedded.stdout
    env["LSP_RENDER_HELM"] = str(real_helm)
    binary = run(["render", "hybrid"], cwd=repo, env=env)
    assert (binary.code, binary.stdout) == (0, embedded.stdout), binary.stderr


@pytest.mark.parametrize("engine", ["embedded", "binary"])
def test_a_vendored_chart_may_not_link_out_of_the_repository(
    engine: str, real_kubectl: Path, real_helm: Path, repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for charts\n")
    (repo / "app" / "charts" / "widget" / "leak.txt").symlink_to(secret)
    env = _no_helm_env(tmp_path, real_kubectl)
    if engine == "binary":
        env["LSP_RENDER_HELM"] = str(real_helm)
    result = run(["render", "app"], cwd=repo, env=env)
    assert_failure(result, 2, "widget/leak.txt: symbolic link leaves the repository")
