"""Dynamic parameter announcements, computed under the parameters command's reduced environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lsp_render.argocd.parameters import announcements
from tests.cli_helpers import assert_failure, run

# What Argo CD gives the parameters command: no namespace, project, revision or KUBE_*.
REDUCED = {
    "ARGOCD_APP_NAME": "web",
    "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.org/deploy.git",
    "ARGOCD_APP_SOURCE_PATH": "apps/web",
    "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
}

CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


@pytest.fixture
def helm_app(repo: Path) -> Path:
    app = repo / "apps" / "web"
    _write(
        app,
        {
            "Chart.yaml": CHART,
            "templates/cm.yaml": MANIFEST,
            "values.yaml": "replicas: 1\n",
            "values-dev.yaml": "replicas: 1\n",
            "values-prod.yaml": "replicas: 3\n",
        },
    )
    return app


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def _check_shape(items: list[dict[str, Any]]) -> None:
    """Every announcement is what the Argo CD UI expects, and JSON round-trips."""
    assert isinstance(items, list)
    assert json.loads(json.dumps(items)) == items
    for item in items:
        assert item["title"]
        assert item["tooltip"]
        assert item["collectionType"] in {"string", "array", "map"}
        collection = item["collectionType"]
        if collection == "array":
            assert all(isinstance(v, str) for v in item["array"])
        if collection == "map":
            assert all(isinstance(v, str) for v in item["map"].values())
        if collection == "string" and "string" in item:
            assert isinstance(item["string"], str)
        defaults = {"string", "array", "map"} & set(item)
        assert defaults <= {collection}


def test_helm_app_with_environments(helm_app: Path) -> None:
    items = announcements(helm_app, {**REDUCED, "ARGOCD_ENV_ENV": "prod"})
    _check_shape(items)
    assert [i["name"] for i in items] == [
        "env",
        "values-files",
        "helm-parameters",
        "release-name",
        "namespace",
    ]
    by_name = _by_name(items)
    assert by_name["env"]["string"] == "prod"
    assert "dev, prod" in by_name["env"]["tooltip"]
    assert by_name["values-files"]["collectionType"] == "array"
    assert by_name["values-files"]["array"] == ["values.yaml", "values-prod.yaml"]
    assert by_name["helm-parameters"]["collectionType"] == "map"
    assert by_name["helm-parameters"]["map"] == {}
    assert by_name["release-name"]["string"] == "web"
    assert "string" not in by_name["namespace"], "the reduced environment has no namespace"


def test_env_parameter_wins_over_argocd_env(helm_app: Path) -> None:
    params = json.dumps([{"name": "env", "string": "dev"}])
    environ = {**REDUCED, "ARGOCD_ENV_ENV": "prod", "ARGOCD_APP_PARAMETERS": params}
    by_name = _by_name(announcements(helm_app, environ))
    assert by_name["env"]["string"] == "dev"
    assert by_name["values-files"]["array"] == ["values.yaml", "values-dev.yaml"]


def test_without_environment_no_value_file_is_announced(helm_app: Path) -> None:
    # The render passes no value file: Helm reads the chart's own values.yaml itself.
    by_name = _by_name(announcements(helm_app, {**REDUCED, "ARGOCD_APP_PARAMETERS": "null"}))
    assert "string" not in by_name["env"]
    assert by_name["values-files"]["array"] == []


def test_value_files_the_render_fails_on_are_not_announced(helm_app: Path) -> None:
    # There is no values-staging.yaml: the render fails, and [] sends back as "no override".
    by_name = _by_name(announcements(helm_app, {**REDUCED, "ARGOCD_ENV_ENV": "staging"}))
    assert by_name["env"]["string"] == "staging"
    assert by_name["values-files"]["array"] == []


def test_app_outside_control_plane_namespace(helm_app: Path) -> None:
    environ = {**REDUCED, "ARGOCD_APP_NAME": "team-a_web"}
    assert _by_name(announcements(helm_app, environ))["release-name"]["string"] == "web"


def test_release_name_falls_back_to_directory(helm_app: Path) -> None:
    items = announcements(helm_app, {})
    assert _by_name(items)["release-name"]["string"] == "web"


def test_full_environment_announces_the_same(helm_app: Path) -> None:
    # Argo CD never gives the parameters command these; they must not matter.
    full = {
        **REDUCED,
        "ARGOCD_APP_NAMESPACE": "elsewhere",
        "ARGOCD_APP_PROJECT_NAME": "team-a",
        "ARGOCD_APP_REVISION": "0123456789abcdef",
        "KUBE_VERSION": "1.29.3",
    }
    assert announcements(helm_app, full) == announcements(helm_app, REDUCED)


def test_hybrid_app_is_announced_like_helm(helm_app: Path) -> None:
    (helm_app / "kustomization.yaml").write_text("resources: []\n")
    names = [i["name"] for i in announcements(helm_app, REDUCED)]
    assert names == ["env", "values-files", "helm-parameters", "release-name", "namespace"]


def test_config_gives_defaults(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(repo, {"charts/web/Chart.yaml": CHART, "common/base.yaml": "a: 1\n"})
    _write(
        app,
        {
            "lsp-render.yaml": (
                "helm:\n"
                "  chart: ../../charts/web\n"
                "  releaseName: ingress\n"
                "  namespace: ingress-nginx\n"
                '  valueFiles: [../../common/base.yaml, "values-{{ env }}.yaml", absent.yaml]\n'
                "  ignoreMissingValueFiles: true\n"
            ),
            "values-dev.yaml": "a: 2\n",
        },
    )
    by_name = _by_name(announcements(app, {**REDUCED, "ARGOCD_ENV_ENV": "dev"}))
    assert by_name["release-name"]["string"] == "ingress"
    assert by_name["namespace"]["string"] == "ingress-nginx"
    assert by_name["values-files"]["array"] == ["../../common/base.yaml", "values-dev.yaml"]


def test_value_files_the_config_always_applies_are_no_environments(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(
        app,
        {
            "Chart.yaml": CHART,
            "lsp-render.yaml": (
                'helm:\n  valueFiles: [values-common.yaml, "values-{{ env }}.yaml"]\n'
            ),
            "values-common.yaml": "a: 1\n",
            "values-dev.yaml": "a: 2\n",
        },
    )
    by_name = _by_name(announcements(app, {**REDUCED, "ARGOCD_ENV_ENV": "dev"}))
    assert "This app has: dev " in by_name["env"]["tooltip"]
    assert by_name["values-files"]["array"] == ["values-common.yaml", "values-dev.yaml"]


def test_templated_config_values_are_not_announced_as_defaults(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(
        app,
        {
            "Chart.yaml": CHART,
            "lsp-render.yaml": (
                'helm:\n  releaseName: "{{ app.name }}-x"\n  namespace: "{{ env }}"\n'
                '  valueFiles: ["values-{{ env }}.yaml"]\n'
            ),
            "values-dev.yaml": "a: 2\n",
        },
    )
    by_name = _by_name(announcements(app, REDUCED))
    # app.name is known to the parameters command, so the template is rendered as render does.
    assert by_name["release-name"]["string"] == "web-x"
    # Without env the namespace template is "", so the render uses the destination namespace.
    assert "string" not in by_name["namespace"]
    assert by_name["values-files"]["array"] == []


def test_value_files_outside_the_repository_are_not_offered(repo: Path) -> None:
    app = repo / "apps" / "web"
    (repo.parent / "outside.yaml").write_text("a: 1\n")
    _write(
        app,
        {
            "Chart.yaml": CHART,
            "lsp-render.yaml": "helm:\n  valueFiles: [../../../outside.yaml, /etc/hostname]\n",
        },
    )
    # The render refuses the configuration, so nothing is announced, least of all those paths.
    assert announcements(app, REDUCED) == []


def test_config_symlinked_from_outside_is_not_read(repo: Path) -> None:
    app = repo / "apps" / "web"
    app.mkdir(parents=True)
    outside = repo.parent / "lsp-render.yaml"
    outside.write_text("helm:\n  releaseName: leaked\n")
    (app / "lsp-render.yaml").symlink_to(outside)
    assert announcements(app, REDUCED) == []


def test_kustomize_app_with_environments_gets_env_only(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(app, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": MANIFEST})
    assert announcements(app, REDUCED) == []
    (app / "values-dev.yaml").write_text("a: 1\n")
    items = announcements(app, REDUCED)
    _check_shape(items)
    assert [i["name"] for i in items] == ["env"]
    assert "dev" in items[0]["tooltip"]


def test_kustomize_app_with_env_set_announces_it(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(app, {"Kustomization": "resources: []\n"})
    items = announcements(app, {**REDUCED, "ARGOCD_ENV_ENV": "dev"})
    assert [(i["name"], i["string"]) for i in items] == [("env", "dev")]


def test_plain_app_without_environments(repo: Path) -> None:
    app = repo / "apps" / "web"
    _write(app, {"cm.yaml": MANIFEST, "notes.txt": "hello"})
    assert announcements(app, REDUCED) == []


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"README.md": "nothing to render"},
        {"lsp-render.yaml": "helm: [unclosed\n"},
        {"lsp-render.yaml": "- just\n- a list\n"},
        {"lsp-render-repo.yaml": "applications: []\n"},
    ],
)
def test_directories_without_an_app_announce_nothing(repo: Path, files: dict[str, str]) -> None:
    app = repo / "apps" / "web"
    app.mkdir(parents=True)
    _write(app, files)
    assert announcements(app, REDUCED) == []


def test_weird_inputs_never_raise(helm_app: Path, tmp_path: Path) -> None:
    assert announcements(tmp_path / "missing", REDUCED) == []
    assert announcements(helm_app / "Chart.yaml", REDUCED) == []
    for parameters in ("{not json", '{"name": "env"}', "[1, 2]", '[{"name": 3}]'):
        items = announcements(helm_app, {**REDUCED, "ARGOCD_APP_PARAMETERS": parameters})
        _check_shape(items)
        assert "string" not in _by_name(items)["env"]
    loop = helm_app / "values-loop.yaml"
    loop.symlink_to(loop)
    _check_shape(announcements(helm_app, REDUCED))
    (helm_app / "lsp-render.yaml").write_bytes(b"\xff\xfe\x00binary")
    assert announcements(helm_app, REDUCED) == []  # the render fails on it too


def test_render_refuses_a_config_symlinked_from_outside(repo: Path) -> None:
    (repo / ".git").mkdir()
    _write(repo, {"chart/Chart.yaml": CHART, "chart/templates/cm.yaml": MANIFEST})
    app = repo / "apps" / "web"
    app.mkdir(parents=True)
    outside = repo.parent / "lsp-render.yaml"
    outside.write_text("helm:\n  chart: ../../chart\n  releaseName: leaked\n")
    (app / "lsp-render.yaml").symlink_to(outside)
    result = run(["render", str(app)])
    assert_failure(result, 2, "apps/web/lsp-render.yaml", "leaves the repository")


def test_value_files_that_depend_on_the_namespace_are_not_announced(helm_app: Path) -> None:
    # The parameters command is not told the destination namespace; the render is.
    (helm_app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles:\n"
        "    - \"{{ 'values-prod.yaml' if app.namespace.endswith('a') else 'values-dev.yaml' }}\"\n"
    )
    assert _by_name(announcements(helm_app, REDUCED))["values-files"]["array"] == []
