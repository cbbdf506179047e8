"""The render command end to end, as a process: each kind, determinism, failures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import EXAMPLES, assert_failure, run


def _copy_examples(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo / "examples")
    (repo / ".git").mkdir()  # marks the repository root
    return repo


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_plain_documents_pass_through_byte_for_byte() -> None:
    result = run(["render", str(EXAMPLES / "plain")])
    assert result.code == 0, result.stderr
    quota = (EXAMPLES / "plain" / "quota.yaml").read_text()
    first_doc = quota.split("---\n")[0]
    assert f"---\n{first_doc}" in result.stdout
    namespace = (EXAMPLES / "plain" / "namespace.yaml").read_text()
    assert result.stdout.startswith(namespace)  # the first file as it is, no "---" added
    kinds = [o["kind"] for o in result.objects()]
    assert kinds == ["Namespace", "ResourceQuota", "LimitRange", "ServiceAccount"]
    assert "Application" not in kinds  # excluded by lsp-render.yaml
    assert result.stderr == ""


def test_plain_json_array_list_and_recursive(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    (app / "a.json").write_text(
        '[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, null]'
    )
    (app / "sub" / "b.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n")
    (app / "c.yml").write_text("---\n---\n# nothing\n")
    flat = run(["render", str(app)])
    assert [o["metadata"]["name"] for o in flat.objects()] == ["a"]
    (app / "lsp-render.yaml").write_text("plain:\n  recursive: true\n")
    deep = run(["render", str(app)])
    assert [o["metadata"]["name"] for o in deep.objects()] == ["a", "b"]


def test_kustomize_output_is_kustomize_build_output() -> None:
    result = run(["render", str(EXAMPLES / "kustomize")])
    assert result.code == 0, result.stderr
    expected = subprocess.run(
        ["kubectl", "kustomize", str(EXAMPLES / "kustomize")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert result.stdout == expected  # byte for byte: no leading "---" of our own
    deployment = next(o for o in result.objects() if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["namespace"] == "echo"


def test_helm_example_in_helm_template_order() -> None:
    result = run(["render", str(EXAMPLES / "helm"), "--env", "dev", "--namespace", "web"])
    assert result.code == 0, result.stderr
    objects = result.objects()
    kinds = [o["kind"] for o in objects]
    assert kinds == ["ConfigMap", "Service", "Deployment", "Ingress", "Pod", "Job"]  # hooks by kind
    assert "# Source: web/templates/configmap.yaml\n" in result.stdout
    config = objects[0]
    assert config["data"]["GREETING"] == "hello from dev"
    assert config["metadata"]["name"] == "helm-web"  # release name: the directory's name


def test_env_convention_and_flags(tmp_path: Path) -> None:
    result = run(
        [
            "render",
            str(EXAMPLES / "helm"),
            "--env",
            "prod",
            "--release-name",
            "shop",
            "--set",
            "replicaCount=5",
            "--kube-version",
            "1.31.2",
        ]
    )
    assert result.code == 0, result.stderr
    objects = {o["kind"]: o for o in result.objects()}
    assert objects["Deployment"]["spec"]["replicas"] == 5
    assert objects["Deployment"]["metadata"]["name"] == "shop-web"
    assert objects["Ingress"]["spec"]["rules"][0]["host"] == "web.example.org"
    assert objects["ConfigMap"]["data"]["KUBE_VERSION"] == "v1.31.2"


def test_argocd_environment_drives_the_render(tmp_path: Path) -> None:
    result = run(
        ["render"],
        cwd=EXAMPLES / "helm",
        extra_env={
            "ARGOCD_APP_NAME": "argocd_frontend",
            "ARGOCD_APP_NAMESPACE": "front",
            "KUBE_VERSION": "1.28.4",
            "ARGOCD_APP_PARAMETERS": (
                '[{"name":"env","string":"prod"},'
                '{"name":"helm-parameters","map":{"replicaCount":"7"}}]'
            ),
        },
    )
    assert result.code == 0, result.stderr
    deployment = next(o for o in result.objects() if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "frontend-web"
    assert deployment["spec"]["replicas"] == 7
    config = next(o for o in result.objects() if o["kind"] == "ConfigMap")
    assert config["data"]["KUBE_VERSION"] == "v1.28.4"


def test_hybrid_applies_last_mile_patches_without_touching_the_repo(tmp_path: Path) -> None:
    repo = _copy_examples(tmp_path)
    before = _snapshot(repo)
    result = run(["render", str(repo / "examples" / "hybrid"), "--env", "prod"])
    assert result.code == 0, result.stderr
    assert _snapshot(repo) == before
    objects = {(o["kind"], o["metadata"]["name"]): o for o in result.objects()}
    deployment = objects[("Deployment", "storefront-web")]
    spec = deployment["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "shop-critical"
    assert spec["containers"][0]["env"] == [{"name": "SHOP_MODE", "value": "live"}]
    assert spec["containers"][0]["image"].endswith(":1.27.3")
    assert deployment["spec"]["replicas"] == 3  # values-prod.yaml
    assert objects[("Service", "storefront-web")]["spec"]["ports"][0]["port"] == 8080
    assert ("PodDisruptionBudget", "storefront-web") in objects
    config = objects[("ConfigMap", "storefront-web")]
    assert config["data"]["GREETING"] == "welcome to the shop"
    assert config["data"]["KUBE_VERSION"] == "v1.29.0"
    assert ("Job", "storefront-web-migrate") not in objects


def test_output_is_identical_run_after_run() -> None:
    for app in ("helm", "hybrid", "kustomize", "plain"):
        first = run(["render", str(EXAMPLES / app)])
        second = run(["render", str(EXAMPLES / app)])
        assert first.code == 0, first.stderr
        assert first.stdout == second.stdout


def test_no_application_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing here")
    assert_failure(run(["render", str(tmp_path)]), 2, "no application found")


def test_missing_directory_is_exit_2(tmp_path: Path) -> None:
    assert_failure(run(["render", str(tmp_path / "nope")]), 2, "nope")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b: c\n")
    assert_failure(run(["render", str(tmp_path)]), 2, "bad.yaml:4", "mapping values")


def test_document_that_is_not_a_kubernetes_object(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n---\njust: data\n")
    assert_failure(run(["render", str(tmp_path)]), 2, "a.yaml", "not a Kubernetes object")


def test_bad_config_is_exit_2_with_file_line_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (tmp_path / "lsp-render.yaml").write_text("plain:\n  recursve: true\n")
    assert_failure(run(["render", str(tmp_path)]), 2, "lsp-render.yaml:2: plain.recursve")


def test_missing_value_file_for_env_is_exit_2() -> None:
    assert_failure(
        run(["render", str(EXAMPLES / "helm"), "--env", "staging"]), 2, "values-staging.yaml"
    )


def test_helm_template_error_keeps_helms_message(tmp_path: Path) -> None:
    result = run(
        [
            "render",
            str(EXAMPLES / "helm"),
            "--set",
            "ingress.enabled=true",
            "--set",
            "ingress.host=",
        ]
    )
    assert_failure(result, 1, "ingress.host is required")


def test_kustomize_error_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    assert_failure(run(["render", str(tmp_path)]), 1, "missing.yaml")


def test_missing_kustomize_engine_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    result = run(
        ["render", str(tmp_path)],
        extra_env={"LSP_RENDER_KUSTOMIZE": str(tmp_path / "no-such-kustomize")},
    )
    assert_failure(result, 1, "no-such-kustomize")
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    import sys

    env = {"PATH": str(empty_path), "HOME": str(tmp_path), "PYTHONPATH": ""}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "plugin")
    proc = subprocess.run(
        [sys.executable, "-m", "lsp_render", "render", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "install kustomize or kubectl" in proc.stderr


def test_usage_errors_are_exit_2_one_line() -> None:
    assert_failure(run(["render", "--bogus"]), 2, "--bogus")
    assert_failure(run(["render", "--no-secrets", "--mask-secrets", str(EXAMPLES / "plain")]), 2)


def test_version_and_help() -> None:
    version = run(["--version"])
    assert version.code == 0 and version.stdout.startswith("lsp-render ")
    for command in ("render", "parameters", "init", "discover"):
        helped = run([command, "--help"])
        assert helped.code == 0 and "Usage:" in helped.stdout


def test_discover(tmp_path: Path) -> None:
    found = run(["discover", str(EXAMPLES / "hybrid")])
    assert (found.code, found.stdout) == (0, "hybrid\n")
    missing = run(["discover", str(tmp_path)])
    assert (missing.code, missing.stdout, missing.stderr) == (1, "", "")


@pytest.mark.parametrize("app", ["kustomize", "plain"])
def test_init_is_a_no_op_for_other_kinds(app: str, tmp_path: Path) -> None:
    repo = _copy_examples(tmp_path)
    before = _snapshot(repo)
    result = run(["init", str(repo / "examples" / app)])
    assert (result.code, result.stdout) == (0, "")
    assert _snapshot(repo) == before


def test_rendered_objects_are_valid_yaml_streams() -> None:
    for app in ("helm", "hybrid", "kustomize", "plain"):
        result = run(["render", str(EXAMPLES / app)])
        assert all(isinstance(doc, dict) for doc in yaml.safe_load_all(result.stdout))


def test_an_empty_render_fails_unless_the_app_allows_it(tmp_path: Path) -> None:
    app = tmp_path / "namespace-only"
    app.mkdir()
    (tmp_path / ".git").mkdir()
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: namespace-only\nversion: 0.1.0\n")
    assert_failure(run(["render", str(app)]), 1, "no Kubernetes objects", "allowEmpty")
    (app / "lsp-render.yaml").write_text("allowEmpty: true\n")
    allowed = run(["render", str(app)])
    # What helm template prints for a chart without objects: one empty line.
    assert (allowed.code, allowed.stdout, allowed.stderr) == (0, "\n", "")
