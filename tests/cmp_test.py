"""Every example application, run through sidecar/plugin.yaml as argocd-cmp-server runs it.

The repository the sidecar receives is a git-less copy of this project (the
examples' Applications say ``path: examples/<kind>``); ``tests/cmp_harness.py``
unpacks it with Argo CD's file modes and environment. The secrets example reads
its placeholders from a Vault-compatible server on 127.0.0.1 through kubernetes
auth and the operator policy in ``sidecar/policy.yaml``, as the sidecar would.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cmp_harness import PROJECT, AppSource, CmpResult, CmpServer
from tests.vaultserver import VaultServer

EXAMPLES = PROJECT / "examples"
BROKEN_REPO = Path(__file__).resolve().parent / "data" / "argocd" / "broken-repo"
APPLICATION_FILES = ("application.yaml", "argocd-application.yaml")
APP_MARKERS = ("Chart.yaml", "kustomization.yaml", "kustomization.yml", "Kustomization")
K8S_JWT = "eyJhbGciOiJSUzI1NiJ9.cmp-harness-service-account.sig"
K8S_ROLE = "lsp-render"


@dataclass(frozen=True)
class ExampleApp:
    """One example application: an id for pytest and the source Argo CD would send."""

    id: str
    source: AppSource


def _plugin_sources(manifest_file: Path) -> Iterator[AppSource]:
    for doc in yaml.safe_load_all(manifest_file.read_text()):
        if not isinstance(doc, dict) or doc.get("kind") != "Application":
            continue
        spec = doc.get("spec", {})
        sources = [spec["source"]] if "source" in spec else spec.get("sources", [])
        if any((s.get("plugin") or {}).get("name") == "lsp-render" for s in sources):
            yield AppSource.from_application(doc)


def discover_examples(examples: Path = EXAMPLES) -> list[ExampleApp]:
    """Find the example apps: their Argo CD Applications, else their Chart.yaml/kustomization.

    A directory below one that holds an Application or a chart is part of that
    app (a base, a subchart), not an app of its own.
    """
    apps: list[ExampleApp] = []
    if not examples.is_dir():
        return apps
    owners: list[Path] = []
    for directory in sorted(p for p in examples.rglob("*") if p.is_dir()):
        if any(directory.is_relative_to(owner) for owner in owners):
            continue
        rel = directory.relative_to(PROJECT).as_posix()
        declared = [directory / n for n in APPLICATION_FILES if (directory / n).is_file()]
        if declared:
            owners.append(directory)
            for manifest_file in declared:
                for index, source in enumerate(_plugin_sources(manifest_file)):
                    apps.append(ExampleApp(f"{rel}:{source.name}:{index}", source))
        elif any((directory / marker).is_file() for marker in APP_MARKERS):
            owners.append(directory)
            apps.append(ExampleApp(rel, AppSource(path=rel, name=directory.name)))
    return apps


EXAMPLE_APPS = discover_examples()


def _objects(stdout: str) -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(stdout) if doc is not None]
    assert docs, "no Kubernetes objects on stdout"
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc.get("apiVersion")
        assert doc.get("kind")
        assert doc.get("metadata", {}).get("name")
    return docs


def _explain(result: CmpResult) -> str:
    return f"{result.stage} {' '.join(result.argv)} exited {result.returncode}: {result.stderr}"


@dataclass
class SidecarVault:
    """A Vault-compatible server seeded with the secrets example's paths."""

    server: VaultServer
    env: dict[str, str]
    values: list[str]


def _seed_example_secrets(server: VaultServer) -> list[str]:
    """Put every path of examples/secrets/secrets.yaml into the server with fresh values."""
    values: list[str] = []
    secrets_file = EXAMPLES / "secrets" / "secrets.yaml"
    layout = yaml.safe_load(secrets_file.read_text()) if secrets_file.is_file() else {}
    for path, keys in (layout or {}).items():
        mount, _, rest = str(path).partition("/")
        rest = rest.removeprefix("data/")
        data = {}
        for key in keys:
            value = f"S3CR3T-{key}-{uuid.uuid4().hex[:10]}"
            data[key] = value
            values.append(value)
        server.put(f"{mount}/{rest}", data)
    return values


@pytest.fixture
def sidecar_vault(tmp_path: Path) -> Iterator[SidecarVault]:
    server = VaultServer().start()
    try:
        server.add_kv_mount("secret", 2)
        values = _seed_example_secrets(server)
        server.add_policy("reader", ["secret/data/*"])
        server.enable_auth("kubernetes", "kubernetes")
        server.add_login("kubernetes", K8S_ROLE, K8S_JWT, policies=["reader"])
        jwt = tmp_path / "serviceaccount-token"
        jwt.write_text(K8S_JWT + "\n")
        policy = tmp_path / "policy.yaml"
        shutil.copyfile(PROJECT / "sidecar" / "policy.yaml", policy)
        env = {
            "VAULT_ADDR": server.address,
            "LSP_RENDER_VAULT_AUTH": "kubernetes",
            "LSP_RENDER_VAULT_ROLE": K8S_ROLE,
            "LSP_RENDER_VAULT_K8S_TOKEN_PATH": str(jwt),
            "LSP_RENDER_POLICY": str(policy),
            "LSP_RENDER_VAULT_BACKOFF": "0.01",
            "LSP_RENDER_VAULT_TIMEOUT": "5",
        }
        yield SidecarVault(server=server, env=env, values=values)
    finally:
        server.stop()


@pytest.fixture
def cmp(tmp_path: Path, sidecar_vault: SidecarVault) -> CmpServer:
    return CmpServer(tmp_path / "sidecar", sidecar_env=sidecar_vault.env)


def test_examples_are_discovered() -> None:
    paths = {app.source.path for app in EXAMPLE_APPS}
    assert paths, "no example applications under examples/"
    for kind in ("helm", "kustomize", "plain", "hybrid", "secrets"):
        if (EXAMPLES / kind).is_dir():
            assert f"examples/{kind}" in paths


@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=[app.id for app in EXAMPLE_APPS])
def test_example_generates_in_the_sidecar(
    app: ExampleApp, cmp: CmpServer, sidecar_vault: SidecarVault
) -> None:
    result = cmp.generate(PROJECT, app.source)
    assert result.returncode == 0, _explain(result)
    assert result.stage == "generate"
    _objects(result.stdout)
    for value in sidecar_vault.values:
        assert value not in result.stderr


@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=[app.id for app in EXAMPLE_APPS])
def test_example_renders_the_same_twice(app: ExampleApp, cmp: CmpServer) -> None:
    first = cmp.generate(PROJECT, app.source)
    second = cmp.generate(PROJECT, app.source)
    assert first.returncode == 0, _explain(first)
    assert first.stdout == second.stdout, "output changes between renders: perpetual OutOfSync"


@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=[app.id for app in EXAMPLE_APPS])
def test_example_announces_parameters(app: ExampleApp, cmp: CmpServer) -> None:
    result = cmp.parameters(PROJECT, app.source)
    assert result.returncode == 0, _explain(result)
    items = json.loads(result.stdout)
    assert isinstance(items, list)
    for item in items:
        assert item["name"]
        assert item["collectionType"] in {"string", "array", "map"}


def test_secrets_example_reads_vault_through_the_policy(
    cmp: CmpServer, sidecar_vault: SidecarVault
) -> None:
    source = next(a.source for a in EXAMPLE_APPS if a.source.path == "examples/secrets")
    result = cmp.generate(PROJECT, source)
    assert result.returncode == 0, _explain(result)
    assert any(value in result.stdout for value in sidecar_vault.values)
    assert "<path:" not in result.stdout
    for value in sidecar_vault.values:
        assert value not in result.stderr

    # A project the operator's policy does not allow to read payments' secrets.
    sidecar_vault.server.reset_log()
    refused = cmp.generate(PROJECT, dataclasses.replace(source, project="team-a"))
    assert refused.returncode == 1, _explain(refused)
    assert sidecar_vault.server.requests() == [], "the policy is checked before any Vault request"
    assert refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    for value in sidecar_vault.values:
        assert value not in refused.stderr


def test_helm_example_environment_from_plugin_env_and_parameters(cmp: CmpServer) -> None:
    manifest = yaml.safe_load((EXAMPLES / "helm" / "application.yaml").read_text())
    dev = AppSource.from_application(manifest)
    prod_env = AppSource.from_application(manifest, parameters=None, env={"ENV": "prod"})
    prod_param = AppSource.from_application(
        manifest, parameters=[{"name": "env", "string": "prod"}]
    )

    def replicas(source: AppSource) -> set[int]:
        result = cmp.generate(PROJECT, source)
        assert result.returncode == 0, _explain(result)
        return {
            doc["spec"]["replicas"]
            for doc in _objects(result.stdout)
            if doc["kind"] == "Deployment" and "replicas" in doc.get("spec", {})
        }

    expected = yaml.safe_load((EXAMPLES / "helm" / "values-prod.yaml").read_text())["replicaCount"]
    assert replicas(prod_env) == {expected}
    assert replicas(prod_param) == {expected}
    assert replicas(dev) != {expected}


def test_helm_example_value_files_and_helm_parameters(cmp: CmpServer) -> None:
    manifest = yaml.safe_load((EXAMPLES / "helm" / "application.yaml").read_text())
    parameters = [
        {"name": "env", "string": "dev"},
        {"name": "values-files", "array": ["values.yaml", "values-prod.yaml"]},
        {"name": "helm-parameters", "map": {"replicaCount": "7", "image.tag": "1.2.3"}},
        {"name": "release-name", "string": "shop"},
    ]
    source = AppSource.from_application(manifest, parameters=parameters)
    result = cmp.generate(PROJECT, source)
    assert result.returncode == 0, _explain(result)
    deployments = [d for d in _objects(result.stdout) if d["kind"] == "Deployment"]
    assert [d["spec"]["replicas"] for d in deployments] == [7]
    images = [c["image"] for c in deployments[0]["spec"]["template"]["spec"]["containers"]]
    assert all(image.endswith(":1.2.3") for image in images)
    assert all("shop" in d["metadata"]["name"] for d in deployments)


def test_helm_example_parameters_under_the_reduced_environment(cmp: CmpServer) -> None:
    manifest = yaml.safe_load((EXAMPLES / "helm" / "application.yaml").read_text())
    result = cmp.parameters(PROJECT, AppSource.from_application(manifest))
    assert result.returncode == 0, _explain(result)
    by_name = {item["name"]: item for item in json.loads(result.stdout)}
    assert by_name["env"]["string"] == "dev"
    assert by_name["values-files"]["array"] == ["values.yaml", "values-dev.yaml"]
    assert by_name["helm-parameters"]["collectionType"] == "map"
    assert by_name["release-name"]["string"] == manifest["metadata"]["name"]


@pytest.mark.parametrize(
    ("path", "exit_code"),
    [
        ("apps/bad-template", 1),
        ("apps/bad-yaml", 2),
        ("apps/nothing", 2),
        ("apps/no-backend", 3),
    ],
)
def test_broken_app_fails_cleanly(tmp_path: Path, path: str, exit_code: int) -> None:
    cmp = CmpServer(tmp_path / "sidecar")
    result = cmp.generate(BROKEN_REPO, AppSource(path=path, name=Path(path).name))
    assert result.returncode == exit_code, _explain(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_checkout_uses_argo_cd_file_modes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "app" / "bin").mkdir(parents=True)
    script = repo / "app" / "bin" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (repo / "app" / "private").mkdir(mode=0o700)
    (repo / "app" / "link.sh").symlink_to("bin/run.sh")
    copy = CmpServer(tmp_path / "sidecar").checkout(repo)
    assert copy.parent.name == "_cmp_server"
    # reposerver.plugin.tar.exclusions: .git/* matches what is inside .git, not .git itself
    # (Go's filepath.Match: '*' never matches '/'), so an empty .git directory arrives.
    assert (copy / ".git").is_dir()
    assert list((copy / ".git").iterdir()) == []
    assert stat.S_IMODE((copy / "app" / "bin" / "run.sh").stat().st_mode) == 0o644
    assert stat.S_IMODE((copy / "app" / "private").stat().st_mode) == 0o755
    assert (copy / "app" / "link.sh").is_symlink()


def test_checkout_refuses_symlinks_out_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "outside").write_text("x")
    (repo / "escape").symlink_to("../outside")
    with pytest.raises(ValueError, match="leaves the repository"):
        CmpServer(tmp_path / "sidecar").checkout(repo)


def test_build_environment_matches_argo_cd() -> None:
    source = AppSource(
        path="apps/web",
        name="team-a_web",
        env={"ENV": "prod", "HOST": "$ARGOCD_APP_NAME.example.org", "COST": "$$5"},
        parameters=[
            {"name": "values-files", "array": ["values-prod.yaml"]},
            {"name": "helm-parameters", "map": {"image.tag": "v1.2.3"}},
            {"name": "env", "string": "prod"},
        ],
    )
    env = source.build_env()
    assert env["ARGOCD_ENV_HOST"] == "team-a_web.example.org"
    assert env["ARGOCD_ENV_COST"] == "$5"
    assert env["ARGOCD_APP_REVISION_SHORT"] == source.revision[:7]
    assert env["ARGOCD_APP_REVISION_SHORT_8"] == source.revision[:8]
    assert env["KUBE_VERSION"] == "1.29.3"
    versions = env["KUBE_API_VERSIONS"].split(",")
    assert versions == sorted(versions)
    assert "apps/v1" in versions
    assert "apps/v1/Deployment" in versions
    assert json.loads(env["ARGOCD_APP_PARAMETERS"]) == list(source.parameters or [])
    assert " " not in env["ARGOCD_APP_PARAMETERS"]
    assert env["PARAM_HELM_PARAMETERS_IMAGE_TAG"] == "v1.2.3"
    reduced = source.parameters_env()
    assert "ARGOCD_APP_NAMESPACE" not in reduced
    assert "ARGOCD_APP_PROJECT_NAME" not in reduced
    assert "ARGOCD_APP_REVISION" not in reduced
    assert not any(name.startswith("KUBE_") for name in reduced)
    assert reduced["ARGOCD_ENV_ENV"] == "prod"
    assert AppSource(path=".").build_env()["ARGOCD_APP_PARAMETERS"] == "null"


def test_hostile_application_cannot_redirect_vault_or_loosen_the_policy(
    cmp: CmpServer, sidecar_vault: SidecarVault, tmp_path: Path
) -> None:
    """An Application's plugin env and parameters try to take over the sidecar's Vault.

    They name another Vault (with a token it would accept), another auth method and role,
    a permissive policy file and AVP's aliases; the render must still go to the sidecar's
    own Vault under its own policy, and the other server must see no request at all.
    """
    attacker = VaultServer().start()
    try:
        attacker.add_kv_mount("secret", 2)
        permissive = tmp_path / "permissive-policy.yaml"
        permissive.write_text('projects:\n  "*":\n    paths: ["*"]\n')
        hostile_env = {
            "VAULT_ADDR": attacker.address,
            "VAULT_TOKEN": "attacker-token",
            "AVP_TYPE": "vault",
            "AVP_AUTH_TYPE": "token",
            "LSP_RENDER_VAULT_AUTH": "token",
            "LSP_RENDER_VAULT_ROLE": "admin",
            "LSP_RENDER_POLICY": str(permissive),
            "AVP_K8S_ROLE": "admin",
        }
        hostile_parameters = [
            {"name": "vault-addr", "string": attacker.address},
            {"name": "helm-parameters", "map": {"VAULT_ADDR": attacker.address}},
        ]
        source = next(a.source for a in EXAMPLE_APPS if a.source.path == "examples/secrets")
        hostile = dataclasses.replace(source, env=hostile_env, parameters=hostile_parameters)
        result = cmp.generate(PROJECT, hostile)
        assert result.returncode == 0, _explain(result)
        assert any(value in result.stdout for value in sidecar_vault.values)
        logins = sidecar_vault.server.requests("POST", "/v1/auth/kubernetes/login")
        assert len(logins) == 1, "the sidecar's own auth method and role were used"

        # The policy still binds: a project outside payments is refused, before any request.
        sidecar_vault.server.reset_log()
        refused = cmp.generate(PROJECT, dataclasses.replace(hostile, project="team-a"))
        assert refused.returncode == 1, _explain(refused)
        assert refused.stdout == ""
        assert sidecar_vault.server.requests() == []
        assert attacker.requests() == [], "no request may reach the Application's server"
    finally:
        attacker.stop()
