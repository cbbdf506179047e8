"""The sidecar: plugin.yaml, the Kustomize Component and the argo-cd Helm chart values.

The Component is built with the real ``kubectl kustomize`` on top of a trimmed
``argocd-repo-server`` like Argo CD's install.yaml; the Helm values are rendered
with Helm's own engine through a stand-in chart that treats them as the argo-cd
chart does. Both must give the same sidecar.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SIDECAR = ROOT / "sidecar"
DATA = Path(__file__).resolve().parent / "data" / "argocd"
PLUGIN_YAML = SIDECAR / "plugin.yaml"
POLICY_YAML = SIDECAR / "policy.yaml"
VALUES_YAML = SIDECAR / "argo-cd-values.yaml"

CONFIG_PATH = "/home/argocd/cmp-server/config/plugin.yaml"


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) must be on PATH"
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _install_with_component(workdir: Path, *, with_cmd_params: bool = True) -> Path:
    """Lay out ``install/`` (a base plus ``components: [../sidecar]``) and ``sidecar/``."""
    shutil.copytree(SIDECAR, workdir / "sidecar")
    install = shutil.copytree(DATA / "install", workdir / "install")
    if not with_cmd_params:
        base = install / "argocd-repo-server.yaml"
        docs = [d for d in yaml.safe_load_all(base.read_text()) if d]
        kept = [d for d in docs if d["kind"] != "ConfigMap"]
        base.write_text(yaml.safe_dump_all(kept))
    return install


@pytest.fixture(scope="module")
def component_output(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _kustomize(_install_with_component(tmp_path_factory.mktemp("component")))


@pytest.fixture(scope="module")
def helm_output() -> list[dict[str, Any]]:
    import helm_python

    chart = helm_python.Chart.load(str(DATA / "argo-cd-chart-twin"))
    values = yaml.safe_load(VALUES_YAML.read_text())
    rendered = chart.render(values, name="argocd", namespace="argocd")
    docs: list[dict[str, Any]] = []
    for text in rendered.values():
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in pod["containers"] if c["name"] == name]
    assert len(found) == 1
    return found[0]


def _volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found = [v for v in pod["volumes"] if v["name"] == name]
    assert len(found) == 1, f"volume {name} is missing or duplicated"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def _mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert len(mounts) == len(container["volumeMounts"]), "two mounts at one path"
    return mounts


def _check_sidecar(
    docs: list[dict[str, Any]], plugin_key: str, repo_server: str = "argocd-repo-server"
) -> dict[str, Any]:
    """Check the lsp-render sidecar in ``docs``; return the plugin ConfigMap's data."""
    pod = _one(docs, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
    # The base's own containers and volumes survive the patch.
    _container(pod, repo_server)
    assert [c["name"] for c in pod["initContainers"]] == ["copyutil"]
    assert "emptyDir" in _volume(pod, "var-files")
    assert "emptyDir" in _volume(pod, "plugins")

    sidecar = _container(pod, "lsp-render")
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert "args" not in sidecar
    image = sidecar["image"]
    assert "lsp-render:" in image
    assert image.rsplit(":", 1)[1][0].isdigit(), "the image tag must be a pinned version"

    security = sidecar["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 999
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]

    env = _env(sidecar)
    assert env["HOME"] == "/tmp"
    assert env["VAULT_ADDR"].startswith("https://")
    assert env["LSP_RENDER_VAULT_AUTH"] == "kubernetes"
    assert env["LSP_RENDER_VAULT_ROLE"]
    assert not any(name.startswith("ARGOCD_ENV_") for name in env)

    resources = sidecar["resources"]
    for section in ("requests", "limits"):
        assert set(resources[section]) == {"cpu", "memory"}

    mounts = _mounts(sidecar)
    assert mounts["/var/run/argocd"]["name"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"]["name"] == "plugins"
    config = mounts[CONFIG_PATH]
    assert config["subPath"] == plugin_key
    tmp = mounts["/tmp"]
    assert tmp["name"] not in {"tmp", "var-files", "plugins"}, "the sidecar needs its own /tmp"
    assert _volume(pod, tmp["name"]) == {"name": tmp["name"], "emptyDir": {}}
    for mount in mounts.values():
        _volume(pod, mount["name"])

    token_path = Path(env["LSP_RENDER_VAULT_K8S_TOKEN_PATH"])
    token_mount = mounts[str(token_path.parent)]
    sources = _volume(pod, token_mount["name"])["projected"]["sources"]
    assert sources == [
        {"serviceAccountToken": {"path": token_path.name, "expirationSeconds": 3600}}
    ]
    others = [c for c in pod["containers"] + pod["initContainers"] if c["name"] != "lsp-render"]
    for other in others:
        names = {m["name"] for m in other.get("volumeMounts", [])}
        assert token_mount["name"] not in names, "only the sidecar gets the Vault login token"

    policy_path = Path(env["LSP_RENDER_POLICY"])
    policy_mount = mounts[str(policy_path.parent)]
    assert policy_mount.get("readOnly") is True
    policy_cm = _volume(pod, policy_mount["name"])["configMap"]["name"]
    policy_data = _one(docs, "ConfigMap", policy_cm)["data"]
    assert yaml.safe_load(policy_data[policy_path.name]) == yaml.safe_load(POLICY_YAML.read_text())

    plugin_cm = _volume(pod, config["name"])["configMap"]["name"]
    data: dict[str, Any] = _one(docs, "ConfigMap", plugin_cm)["data"]
    return data


def test_plugin_yaml_is_an_explicit_argv_plugin() -> None:
    plugin = yaml.safe_load(PLUGIN_YAML.read_text())
    assert plugin["apiVersion"] == "argoproj.io/v1alpha1"
    assert plugin["kind"] == "ConfigManagementPlugin"
    assert plugin["metadata"] == {"name": "lsp-render"}
    spec = plugin["spec"]
    assert "version" not in spec, "a version renames the plugin to lsp-render-<version>"
    assert "discover" not in spec, "Applications name the plugin explicitly"
    assert spec["init"] == {"command": ["lsp-render", "init"]}
    assert spec["generate"] == {"command": ["lsp-render", "render"]}
    assert spec["parameters"] == {"dynamic": {"command": ["lsp-render", "parameters"]}}
    assert spec["preserveFileMode"] is False
    for command in (spec["init"], spec["generate"], spec["parameters"]["dynamic"]):
        assert command["command"][0] not in {"sh", "bash", "/bin/sh", "/bin/bash"}


def test_component_is_a_kustomize_component() -> None:
    kustomization = yaml.safe_load((SIDECAR / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    assert kustomization["kind"] == "Component"


def test_component_adds_the_sidecar(component_output: list[dict[str, Any]]) -> None:
    data = _check_sidecar(component_output, "plugin.yaml")
    assert data == {"plugin.yaml": PLUGIN_YAML.read_text()}
    pod = _one(component_output, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
    assert _container(pod, "lsp-render")["image"] == "ghcr.io/lsp-render/lsp-render:0.1.0"


def test_component_configmaps_are_hashed_and_referenced(
    component_output: list[dict[str, Any]],
) -> None:
    names = {
        d["metadata"]["name"]
        for d in component_output
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("lsp-render-")
    }
    assert len(names) == 2
    assert all(
        name.rsplit("-", 1)[0] in {"lsp-render-plugin", "lsp-render-policy"} for name in names
    )
    assert all(d["metadata"].get("namespace") == "argocd" for d in component_output)


def test_component_excludes_git_from_the_tarball(component_output: list[dict[str, Any]]) -> None:
    params = _one(component_output, "ConfigMap", "argocd-cmd-params-cm")
    assert params["data"]["reposerver.plugin.tar.exclusions"] == ".git/*"


def test_component_builds_without_cmd_params(tmp_path: Path) -> None:
    docs = _kustomize(_install_with_component(tmp_path, with_cmd_params=False))
    assert not [d for d in docs if d["metadata"]["name"] == "argocd-cmd-params-cm"]
    _check_sidecar(docs, "plugin.yaml")


def test_changed_plugin_yaml_changes_the_configmap_name(tmp_path: Path) -> None:
    before = _kustomize(_install_with_component(tmp_path / "a"))
    install = _install_with_component(tmp_path / "b")
    plugin = install.parent / "sidecar" / "plugin.yaml"
    plugin.write_text(plugin.read_text() + "# changed\n")
    after = _kustomize(install)

    def plugin_volume(docs: list[dict[str, Any]]) -> str:
        pod = _one(docs, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
        name: str = _volume(pod, "lsp-render-plugin")["configMap"]["name"]
        return name

    assert plugin_volume(before) != plugin_volume(after), "a new config must roll the pods"


def test_operator_settings_win_over_the_component(tmp_path: Path) -> None:
    # What docs/argocd.md tells operators to write next to `components:`.
    install = _install_with_component(tmp_path)
    with (install / "kustomization.yaml").open("a") as kustomization:
        kustomization.write(
            "images:\n"
            "  - name: ghcr.io/lsp-render/lsp-render\n"
            "    newName: registry.example.org/lsp-render\n"
            "    newTag: 0.1.1\n"
            "patches:\n"
            "  - patch: |\n"
            "      apiVersion: apps/v1\n"
            "      kind: Deployment\n"
            "      metadata:\n"
            "        name: argocd-repo-server\n"
            "      spec:\n"
            "        template:\n"
            "          spec:\n"
            "            containers:\n"
            "              - name: lsp-render\n"
            "                env:\n"
            "                  - name: VAULT_ADDR\n"
            "                    value: https://vault.example.org:8200\n"
        )
    docs = _kustomize(install)
    pod = _one(docs, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
    sidecar = _container(pod, "lsp-render")
    assert sidecar["image"] == "registry.example.org/lsp-render:0.1.1"
    env = _env(sidecar)
    assert env["VAULT_ADDR"] == "https://vault.example.org:8200"
    assert env["LSP_RENDER_VAULT_AUTH"] == "kubernetes"
    _check_sidecar(docs, "plugin.yaml")


def test_helm_values_add_the_same_sidecar(helm_output: list[dict[str, Any]]) -> None:
    data = _check_sidecar(helm_output, "lsp-render.yaml", repo_server="repo-server")
    assert set(data) == {"lsp-render.yaml"}
    assert yaml.safe_load(data["lsp-render.yaml"]) == yaml.safe_load(PLUGIN_YAML.read_text())


def test_helm_values_set_tarball_exclusions_and_timeouts(
    helm_output: list[dict[str, Any]],
) -> None:
    params = _one(helm_output, "ConfigMap", "argocd-cmd-params-cm")["data"]
    assert params["reposerver.plugin.tar.exclusions"] == ".git/*"
    controller = int(params["controller.repo.server.timeout.seconds"])
    server = int(params["server.repo.server.timeout.seconds"])
    pod = _one(helm_output, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
    env = _env(_container(pod, "lsp-render"))
    # ARGOCD_EXEC_TIMEOUT does not apply to plugin commands (argo-cd cmpserver/plugin/plugin.go).
    assert "ARGOCD_EXEC_TIMEOUT" not in env
    assert float(env["LSP_RENDER_DEADLINE"]) < min(controller, server)


def test_helm_and_component_containers_match(
    component_output: list[dict[str, Any]], helm_output: list[dict[str, Any]]
) -> None:
    def sidecar(docs: list[dict[str, Any]]) -> dict[str, Any]:
        pod = _one(docs, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
        container = _container(pod, "lsp-render")
        for mount in container["volumeMounts"]:
            if mount["mountPath"] == CONFIG_PATH:
                mount["name"] = mount["subPath"] = "<plugin config>"
        return container

    assert sidecar(component_output) == sidecar(helm_output)


def test_helm_values_carry_plugin_yaml_spec() -> None:
    values = yaml.safe_load(VALUES_YAML.read_text())
    plugin = yaml.safe_load(PLUGIN_YAML.read_text())
    assert values["configs"]["cmp"]["create"] is True
    assert values["configs"]["cmp"]["plugins"] == {plugin["metadata"]["name"]: plugin["spec"]}


def test_docs_application_uses_the_plugin_and_announced_parameters(tmp_path: Path) -> None:
    from lsp_render.argocd.parameters import announcements

    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    announced = {item["name"] for item in announcements(tmp_path, {})}
    docs_text = (ROOT / "docs" / "argocd.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", docs_text, flags=re.DOTALL)
    applications = [
        doc
        for block in blocks
        for doc in yaml.safe_load_all(block)
        if isinstance(doc, dict) and doc.get("kind") == "Application"
    ]
    assert applications, "docs/argocd.md shows an Application"
    for application in applications:
        plugin = application["spec"]["source"]["plugin"]
        assert plugin["name"] == yaml.safe_load(PLUGIN_YAML.read_text())["metadata"]["name"]
        assert {p["name"] for p in plugin.get("parameters", [])} <= announced


def test_no_pod_service_account_token_in_the_sidecar(
    component_output: list[dict[str, Any]],
) -> None:
    """The argo-cd chart mounts the pod's token in every container unless told not to."""
    values = yaml.safe_load(VALUES_YAML.read_text())
    assert values["repoServer"]["automountServiceAccountToken"] is False
    pod = _one(component_output, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False


def test_shipped_policy_allows_placeholders_only_in_secrets() -> None:
    from lsp_render.secrets.policy import load_policy

    policy = load_policy(POLICY_YAML)
    assert policy.streamed == "fail"
    widened = {name for name, entry in policy.projects.items() if entry.kinds != ("Secret",)}
    assert widened == {"payments"}  # the example project, documented in policy.yaml
    assert policy.projects["*"].kinds == ("Secret",)
