"""Argo CD's semantics, read from argo-cd v3.5 (issue 12, item 8).

- ``reposerver.plugin.use.manifest.generate.paths=true``: the tarball's root is the
  common root of the app path and its ``manifest-generate-paths`` annotation
  (``reposerver/repository/utils.go``), not the repository root;
- one deadline for the whole request (``LSP_RENDER_DEADLINE``), because Argo CD has
  one for ``init`` and ``generate`` together and ``ARGOCD_EXEC_TIMEOUT`` does not apply
  to plugin commands (``cmpserver/plugin/plugin.go``);
- the patched Deployment names its default container; the install base mounts no
  ServiceAccount token;
- the harness itself: the parameters command's four variables
  (``populatePluginAppDetails``), ``.git/*`` matched by Go's ``filepath.Match``
  (``util/io/files/tar.go``), Go's HTML escaping in ``ARGOCD_APP_PARAMETERS``
  (``ApplicationSourcePluginParameters.Environ``: ``json.Marshal``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import EXAMPLES, assert_failure, base_env, run
from tests.cmp_harness import (
    PROJECT,
    AppSource,
    CmpServer,
    application_root_path,
    go_json,
    go_match,
)
from tests.cmp_test import EXAMPLE_APPS
from tests.vault_fixtures import Seeded, vault

__all__ = ["vault"]

SIDECAR = PROJECT / "sidecar"
DATA = Path(__file__).resolve().parent / "data" / "argocd"


def _source(path: str) -> AppSource:
    return next(a.source for a in EXAMPLE_APPS if a.source.path == path)


# -- manifest-generate-paths ----------------------------------------------------------


# The expectations of argo-cd v3.5.1's reposerver/repository/utils_test.go
# (TestGetCommonRootPath), as (annotation, app path below the root, tarball root below it).
ROOT_CASES = [
    (".", "services/helloworld", "services/helloworld"),
    ("../../overlays;.", "services/helloworld", ""),
    ("/services;.", "services/helloworld", "services"),
    ("../../;..;.", "services/team/helloworld", "services"),
    ("", "services/helloworld", ""),
    ("./manifests", "services/team/helloworld", "services/team/helloworld"),
    ("/services/shared/*-secret.yaml", "services/helloworld", "services"),
    ("../*", "services/helloworld", "services"),
    ("//services/shared/*-secret.yaml", "services/helloworld", "services"),
    # and the hybrid example's annotation
    (".;../helm", "examples/hybrid", "examples"),
]


@pytest.mark.parametrize(("annotation", "app", "expected"), ROOT_CASES)
def test_the_tarball_root_is_the_common_root_of_the_annotation_paths(
    annotation: str, app: str, expected: str
) -> None:
    root = "/tmp/_argocd-repo/7a58c52a-0030-4fd9-8cc5-35b2d8b4e731"
    got = application_root_path(f"{root}/{app}", root, annotation)
    assert got == (f"{root}/{expected}" if expected else root)


def test_hybrid_renders_from_a_tarball_rooted_below_the_repository(tmp_path: Path) -> None:
    source = _source("examples/hybrid")
    assert source.manifest_generate_paths == ".;../helm"
    whole = CmpServer(tmp_path / "whole").generate(PROJECT, source)
    assert whole.returncode == 0, whole.stderr
    narrow = CmpServer(tmp_path / "narrow", use_manifest_generate_paths=True)
    seen: list[list[str]] = []
    result = narrow.generate(
        PROJECT,
        source,
        before=lambda copy, app: seen.append([copy.name, *sorted(p.name for p in copy.iterdir())]),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == whole.stdout
    # The copy really was rooted at examples/: no .git, no plugin/, the app one level down.
    assert seen[0][1:] == sorted(p.name for p in EXAMPLES.iterdir() if p.name != "__pycache__")


def test_a_path_the_annotation_leaves_out_is_outside_the_repository(tmp_path: Path) -> None:
    source = dataclasses.replace(_source("examples/hybrid"), manifest_generate_paths=".")
    result = CmpServer(tmp_path / "s", use_manifest_generate_paths=True).generate(PROJECT, source)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "'../helm' leaves the repository" in result.stderr


# -- one deadline -------------------------------------------------------------------------


def _age(*paths: Path, seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def test_time_before_render_counts_against_the_deadline(tmp_path: Path) -> None:
    """The copy was unpacked 20 s ago (a slow init): a 15 s deadline has passed already."""
    source = _source("examples/kustomize")
    late = CmpServer(tmp_path / "late", sidecar_env={"LSP_RENDER_DEADLINE": "15"})
    result = late.generate(PROJECT, source, before=lambda copy, app: _age(copy, app, seconds=20))
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "LSP_RENDER_DEADLINE=15 s" in result.stderr
    assert "kustomize build examples/kustomize: not started" in result.stderr
    roomy = CmpServer(tmp_path / "roomy", sidecar_env={"LSP_RENDER_DEADLINE": "40"})
    ok = roomy.generate(PROJECT, source, before=lambda copy, app: _age(copy, app, seconds=20))
    assert ok.returncode == 0, ok.stderr


def test_helm_does_not_start_past_the_deadline(tmp_path: Path) -> None:
    source = _source("examples/helm")
    late = CmpServer(tmp_path / "late", sidecar_env={"LSP_RENDER_DEADLINE": "15"})
    result = late.generate(PROJECT, source, before=lambda copy, app: _age(copy, app, seconds=20))
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "helm template examples/helm: not started" in result.stderr
    assert "LSP_RENDER_DEADLINE=15 s" in result.stderr


def test_init_counts_too_no_engine_starts_past_the_deadline(tmp_path: Path) -> None:
    """init's `helm dependency build` (here a helm binary) does not start past the deadline."""
    repo = tmp_path / "repo"
    for name in ("app", "lib"):
        (repo / name / "templates").mkdir(parents=True)
        (repo / name / "templates" / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        )
    (repo / "lib" / "Chart.yaml").write_text("apiVersion: v2\nname: lib\nversion: 0.1.0\n")
    (repo / "app" / "Chart.yaml").write_text(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n"
        "  - name: lib\n    version: 0.1.0\n    repository: file://../lib\n"
    )
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\nexit 0\n")
    helm.chmod(0o755)
    env = {"LSP_RENDER_DEADLINE": "15", "LSP_RENDER_HELM": str(helm)}
    late = CmpServer(tmp_path / "late", sidecar_env=env)
    source = AppSource(path="app", name="app")
    result = late.generate(repo, source, before=lambda copy, app: _age(copy, app, seconds=20))
    assert result.stage == "init"
    assert result.returncode == 1, result.stderr
    assert "helm: not started" in result.stderr
    assert "LSP_RENDER_DEADLINE=15 s" in result.stderr


def test_an_old_checkout_outside_argo_cd_does_not_eat_the_deadline(tmp_path: Path) -> None:
    app = tmp_path / "repo" / "kustomize"
    shutil.copytree(EXAMPLES / "kustomize", app)
    (tmp_path / "repo" / ".git").mkdir()
    # Edited 20 s ago, outside Argo CD: the deadline starts with the command.
    _age(app, tmp_path / "repo", seconds=20)
    result = run(["render", str(app)], extra_env={"LSP_RENDER_DEADLINE": "15"})
    assert result.code == 0, result.stderr
    _age(app, tmp_path / "repo", seconds=3600)
    # A copy an hour old is not Argo CD's fresh per-request copy either.
    argocd = {"LSP_RENDER_DEADLINE": "15", "ARGOCD_APP_SOURCE_PATH": "kustomize"}
    assert run(["render", str(app)], extra_env=argocd).code == 0


def test_an_engine_gets_only_what_is_left_of_the_deadline(tmp_path: Path) -> None:
    app = tmp_path / "repo" / "app"
    app.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    (app / "kustomization.yaml").write_text("resources: []\n")
    slow = tmp_path / "kustomize"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    env = {"LSP_RENDER_KUSTOMIZE": str(slow), "LSP_RENDER_ENGINE_TIMEOUT": "45"}
    result = run(["render", str(app)], extra_env={**env, "LSP_RENDER_DEADLINE": "1"})
    assert_failure(result, 1, "did not finish before", "LSP_RENDER_DEADLINE=1 s")


def test_vault_gets_only_what_is_left_of_the_deadline(vault: Seeded, tmp_path: Path) -> None:
    app = tmp_path / "repo" / "app"
    app.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    (app / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        "stringData:\n  password: <path:secret/data/app#password>\n"
    )
    vault.server.latency = 1.0
    env = {
        **base_env(tmp_path / "home"),
        "VAULT_ADDR": vault.server.address,
        "VAULT_TOKEN": vault.server.root_token,
        "LSP_RENDER_VAULT_TIMEOUT": "5",
        "LSP_RENDER_VAULT_BUDGET": "40",
        "LSP_RENDER_VAULT_RETRIES": "1",
    }
    # The same Vault answers within its own budget...
    assert run(["render", str(app)], env={**env, "LSP_RENDER_DEADLINE": "30"}).code == 0
    # ...but not within what is left of a 0.8 s request.
    short = run(["render", str(app)], env={**env, "LSP_RENDER_DEADLINE": "0.8"})
    assert_failure(short, 3, "app")
    for value in vault.values:
        assert value not in short.stderr


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_a_malformed_deadline_is_bad_input(tmp_path: Path, value: str) -> None:
    result = run(["render", str(EXAMPLES / "plain")], extra_env={"LSP_RENDER_DEADLINE": value})
    assert_failure(result, 2, "LSP_RENDER_DEADLINE")


def test_sidecar_deadline_stays_below_argo_cds() -> None:
    patch = yaml.safe_load((SIDECAR / "repo-server-patch.yaml").read_text())
    container = patch["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "ARGOCD_EXEC_TIMEOUT" not in env, "it has no effect on plugin commands"
    assert 0 < float(env["LSP_RENDER_DEADLINE"]) < 60


# -- the patched Deployment ----------------------------------------------------------------


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) must be on PATH"
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_the_patched_deployment_names_the_repo_server_as_default_container(
    tmp_path: Path,
) -> None:
    shutil.copytree(SIDECAR, tmp_path / "sidecar")
    shutil.copytree(DATA / "install", tmp_path / "install")
    docs = _kustomize(tmp_path / "install")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    names = [c["name"] for c in template["spec"]["containers"]]
    default = template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"]
    assert default == "argocd-repo-server"
    assert default in names
    assert names[0] == "lsp-render", "kubectl would pick the sidecar without the annotation"
    # As in argo-cd's manifests/base: no ServiceAccount token in the pod; the sidecar
    # gets its own projected token for Vault.
    assert template["spec"]["automountServiceAccountToken"] is False


def test_the_helm_values_name_the_charts_repo_server_container() -> None:
    import helm_python

    chart = helm_python.Chart.load(str(DATA / "argo-cd-chart-twin"))
    values = yaml.safe_load((SIDECAR / "argo-cd-values.yaml").read_text())
    rendered = chart.render(values, name="argocd", namespace="argocd")
    docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    template = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    default = annotations["kubectl.kubernetes.io/default-container"]
    assert default in [c["name"] for c in template["spec"]["containers"]]
    assert default != "lsp-render"
    # The chart rolls the pods itself when configs.cmp changes: no restart to document.
    assert annotations["checksum/cmp-cm"]


# -- the harness is Argo CD's ----------------------------------------------------------------


def test_the_parameters_command_gets_only_argo_cds_four_variables() -> None:
    source = AppSource(
        path="apps/web",
        name="web",
        namespace="shop",
        env={"WHERE": "$ARGOCD_APP_NAMESPACE/$ARGOCD_APP_NAME"},
        parameters=[{"name": "env", "string": "dev"}],
    )
    reduced = source.parameters_env()
    assert {k for k in reduced if not k.startswith(("ARGOCD_ENV_", "PARAM_"))} == {
        "ARGOCD_APP_NAME",
        "ARGOCD_APP_SOURCE_REPO_URL",
        "ARGOCD_APP_SOURCE_PATH",
        "ARGOCD_APP_SOURCE_TARGET_REVISION",
        "ARGOCD_APP_PARAMETERS",
    }
    # envsubst sees only those four: the namespace expands to nothing here.
    assert reduced["ARGOCD_ENV_WHERE"] == "/web"
    assert source.build_env()["ARGOCD_ENV_WHERE"] == "shop/web"


def test_git_is_excluded_the_way_gos_filepath_match_leaves_it(tmp_path: Path) -> None:
    assert go_match(".git/*", ".git/HEAD")
    assert not go_match(".git/*", ".git")
    assert not go_match(".git/*", "apps/.git/HEAD")
    assert not go_match("*.md", "docs/a.md")
    repo = tmp_path / "repo"
    (repo / ".git" / "objects" / "ab").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "objects" / "ab" / "cd").write_text("x")
    (repo / "sub").mkdir()
    (repo / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")  # a submodule
    copy = CmpServer(tmp_path / "sidecar").checkout(repo)
    assert (copy / ".git").is_dir()
    assert list((copy / ".git").iterdir()) == []
    assert (copy / "sub" / ".git").is_file()


def test_parameters_reach_the_render_with_gos_html_escaping(tmp_path: Path) -> None:
    greeting = "<b>fish & chips</b>"
    assert go_json([{"name": "x", "string": greeting}]) == (
        '[{"name":"x","string":"\\u003cb\\u003efish \\u0026 chips\\u003c/b\\u003e"}]'
    )
    source = dataclasses.replace(
        _source("examples/helm"),
        parameters=[{"name": "helm-parameters", "map": {"config.greeting": greeting}}],
    )
    env = source.build_env()
    assert "\\u003cb\\u003e" in env["ARGOCD_APP_PARAMETERS"]
    assert json.loads(env["ARGOCD_APP_PARAMETERS"])[0]["map"]["config.greeting"] == greeting
    result = CmpServer(tmp_path / "sidecar").generate(PROJECT, source)
    assert result.returncode == 0, result.stderr
    assert f"GREETING: {json.dumps(greeting)}" in result.stdout


def test_a_fresh_checkout_with_argo_cds_variables_does_not_eat_the_deadline(
    tmp_path: Path,
) -> None:
    """Only the sidecar's per-request copy (``_cmp_server/<id>``) dates the request.

    A CI clone made a minute ago, rendered with Argo CD's variables set, is no such
    copy: its age must not count against the deadline.
    """
    app = tmp_path / "repo" / "kustomize"
    shutil.copytree(EXAMPLES / "kustomize", app)
    (tmp_path / "repo" / ".git").mkdir()
    _age(app, tmp_path / "repo", seconds=20)
    env = {"LSP_RENDER_DEADLINE": "15", "ARGOCD_APP_SOURCE_PATH": "kustomize"}
    result = run(["render", str(app)], extra_env=env)
    assert result.code == 0, result.stderr


def test_outside_argo_cd_even_a_cmp_server_like_copy_does_not_date_the_request(
    tmp_path: Path,
) -> None:
    """Without Argo CD's variables the deadline starts with the command, wherever the app is."""
    repo = tmp_path / "_cmp_server" / "0d1e"
    app = repo / "kustomize"
    shutil.copytree(EXAMPLES / "kustomize", app)
    (repo / ".git").mkdir()
    _age(app, repo, seconds=20)
    result = run(["render", str(app)], extra_env={"LSP_RENDER_DEADLINE": "15"})
    assert result.code == 0, result.stderr


def test_a_stale_cmp_server_copy_does_not_date_the_request(tmp_path: Path) -> None:
    """A ``_cmp_server`` copy older than any Argo CD request (10 min) is not this request's."""
    repo = tmp_path / "_cmp_server" / "5eed"
    app = repo / "kustomize"
    shutil.copytree(EXAMPLES / "kustomize", app)
    (repo / ".git").mkdir()
    _age(app, repo, seconds=3600)
    env = {"LSP_RENDER_DEADLINE": "15", "ARGOCD_APP_SOURCE_PATH": "kustomize"}
    result = run(["render", str(app)], extra_env=env)
    assert result.code == 0, result.stderr
