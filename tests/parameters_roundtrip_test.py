"""``parameters`` announces what ``render`` uses: its defaults sent back change no render.

Every example application goes through ``sidecar/plugin.yaml`` as
``argocd-cmp-server`` runs it (``tests/cmp_harness.py``): ``lsp-render
parameters`` under Argo CD's reduced environment, then ``init`` + ``generate``
once as the Application says and once with every announced default written
into ``spec.source.plugin.parameters``, the way the UI writes them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run
from tests.cmp_harness import PROJECT, AppSource, CmpServer
from tests.cmp_test import EXAMPLE_APPS, ExampleApp, cmp, sidecar_vault
from tests.workflow_fixtures import SECRETS_FILE, repo

__all__ = ["cmp", "repo", "sidecar_vault"]

ENVIRONMENTS = (None, "dev", "prod")


def _announced(cmp: CmpServer, source: AppSource, repo: Path = PROJECT) -> list[dict[str, Any]]:
    result = cmp.parameters(repo, source)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert isinstance(items, list)
    return items


def _sent_back(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters the UI writes when a user accepts every announced default."""
    sent = []
    for item in items:
        for key in ("string", "array", "map"):
            if key in item:
                sent.append({"name": item["name"], key: item[key]})
    return sent


def _with_env(source: AppSource, env: str | None) -> AppSource:
    if env is None:
        return source
    return dataclasses.replace(source, env={**source.env, "ENV": env})


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda e: e or "app-as-written")
@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=[app.id for app in EXAMPLE_APPS])
def test_announced_defaults_sent_back_change_no_render(
    app: ExampleApp, env: str | None, cmp: CmpServer
) -> None:
    source = _with_env(app.source, env)
    before = cmp.generate(PROJECT, source)
    items = _announced(cmp, source)
    sent = _sent_back(items)
    after = cmp.generate(PROJECT, dataclasses.replace(source, parameters=sent))
    assert (after.returncode, after.stdout, after.stderr) == (
        before.returncode,
        before.stdout,
        before.stderr,
    ), sent
    assert before.returncode == 0, before.stderr


def test_hybrid_announces_the_three_value_files_it_renders_with(cmp: CmpServer) -> None:
    source = next(a.source for a in EXAMPLE_APPS if a.source.path == "examples/hybrid")
    for env in ("dev", "prod"):
        items = {i["name"]: i for i in _announced(cmp, _with_env(source, env))}
        assert items["values-files"]["array"] == [
            "../helm/values.yaml",
            f"../helm/values-{env}.yaml",
            "values-storefront.yaml",
        ]
        assert items["env"]["string"] == env
        assert "dev, prod" in items["env"]["tooltip"]
        assert items["release-name"]["string"] == "storefront"
        assert items["namespace"]["string"] == "shop"


def test_defaults_that_depend_on_the_destination_namespace_are_not_announced(
    cmp: CmpServer, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    app = repo / "apps" / "web"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (app / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "  namespace: {{ .Release.Namespace }}\n"
    )
    (app / "lsp-render.yaml").write_text('helm:\n  releaseName: "web-{{ app.namespace }}"\n')
    source = AppSource(path="apps/web", name="web", namespace="shop")
    items = {i["name"]: i for i in _announced(cmp, source, repo)}
    assert "string" not in items["release-name"]
    assert "string" not in items["namespace"]
    before = cmp.generate(repo, source)
    after = cmp.generate(
        repo, dataclasses.replace(source, parameters=_sent_back(list(items.values())))
    )
    assert before.returncode == 0, before.stderr
    assert "name: web-shop" in before.stdout
    assert after.stdout == before.stdout


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # An announced parameter reads the field of its announced type.
        ({"name": "env", "string": "prod", "array": ["dev"], "map": {"a": "dev"}}, "prod"),
        (
            {"name": "values-files", "string": "values.yaml", "array": ["values-prod.yaml"]},
            "prod",
        ),
    ],
)
def test_one_rule_for_an_entry_with_string_array_and_map(
    cmp: CmpServer, entry: dict[str, Any], expected: str
) -> None:
    source = next(a.source for a in EXAMPLE_APPS if a.source.path == "examples/helm")
    source = dataclasses.replace(source, parameters=[entry])
    items = {i["name"]: i for i in _announced(cmp, source)}
    result = cmp.generate(PROJECT, source)
    assert result.returncode == 0, result.stderr
    if entry["name"] == "env":
        assert items["env"]["string"] == expected
        assert items["values-files"]["array"] == ["values.yaml", f"values-{expected}.yaml"]
    else:
        assert items["values-files"]["array"] == entry["array"]
    # The render used what the announcement says: sending it back changes nothing.
    again = cmp.generate(
        PROJECT, dataclasses.replace(source, parameters=_sent_back(list(items.values())))
    )
    assert again.stdout == result.stdout


REPO_APPS = ("api", "web", "worker-a", "worker-b", "config")


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("app", REPO_APPS)
def test_a_repository_config_repo_round_trips_too(repo: Path, app: str, env: str) -> None:
    """lsp-render-repo.yaml adds --set, release names and envdata: still one decision."""
    app_dir = repo / "applications" / app
    argocd = {
        "ARGOCD_APP_NAME": app,
        "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.org/deploy.git",
        "ARGOCD_APP_SOURCE_PATH": f"applications/{app}",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "ARGOCD_ENV_ENV": env,
    }
    announced = run(["parameters", str(app_dir)], extra_env=argocd)
    assert announced.code == 0, announced.stderr
    sent = json.dumps(_sent_back(json.loads(announced.stdout)))
    full = {**argocd, "ARGOCD_APP_NAMESPACE": "team", "KUBE_VERSION": "1.29.3"}
    args = ["render", str(app_dir), "--secrets-file", str(SECRETS_FILE)]
    before = run(args, extra_env=full)
    after = run(args, extra_env={**full, "ARGOCD_APP_PARAMETERS": sent})
    assert (after.code, after.stdout, after.stderr) == (before.code, before.stdout, before.stderr)
    if (app, env) != ("worker-b", "prod"):  # worker-b has no values-prod.yaml
        assert before.code == 0, before.stderr
    assert '"env"' in sent
