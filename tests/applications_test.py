"""``render-all --from-applications`` and ``render --application``: Argo CD's own renders.

The miniature repository (``tests/data/applications/repo``) holds an app-of-apps
chart (``environments/``) whose Applications use a native Helm source (value
files, a missing one ignored, an absolute one, ``valuesObject``, parameters with
``forceString`` and a comma, ``$ARGOCD_APP_NAME``, ``releaseName``, ``skipCrds``,
``kubeVersion``), a Kustomize source with ``kustomize edit`` options, the
lsp-render plugin with ``env`` and ``parameters`` under an operator policy, a
multi-source app with a ``$values`` ref, and three that must be skipped.
The oracles are Helm's engine (``helm_python``) and ``kubectl kustomize``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import assert_failure, base_env, run
from tests.workflow_fixtures import git

DATA = Path(__file__).resolve().parent / "data" / "applications"
SECRETS = DATA / "secrets.yaml"
POLICY = DATA / "policy.yaml"
URL = "https://git.example.org/deploy.git"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git copy of the miniature repository whose origin is the Applications' repoURL."""
    target = tmp_path / "repo"
    shutil.copytree(DATA / "repo", target)
    git(target, "init", "-q", "-b", "main")
    git(target, "remote", "add", "origin", URL)
    return target


def _objects(path: Path) -> dict[tuple[str, str], Any]:
    out = {}
    for obj in yaml.safe_load_all(path.read_text()):
        if obj is not None:
            out[(obj["kind"], obj["metadata"]["name"])] = obj
    return out


def _render_all(repo: Path, out: Path, *args: str) -> Any:
    env = base_env()
    env["LSP_RENDER_POLICY"] = str(POLICY)
    return run(
        [
            "render-all",
            str(repo / "apps"),
            "--from-applications",
            str(repo / "environments"),
            "--output-dir",
            str(out),
            "--secrets-file",
            str(SECRETS),
            "-j",
            "1",
            *args,
        ],
        env=env,
    )


def test_render_all_from_app_of_apps(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _render_all(repo, out)
    assert result.code == 0, result.stdout + result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == [
        "dev/kust.yaml",
        "dev/multi.yaml",
        "dev/plug.yaml",
        "dev/web.yaml",
        "prod/web.yaml",
    ]
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped == [
        "SKIPPED dev/foreign: repoURL https://git.example.org/someone-else.git is another "
        "repository",
        f"SKIPPED dev/outside: source path outside/other is not under {repo / 'apps'}",
        "SKIPPED dev/remote: repoURL https://charts.example.org is another repository",
    ]
    assert "FAILED" not in result.stdout
    # A chart source is skipped as one of another repository even when it is this one's URL.
    assert "unknown" not in result.stderr  # the git remote named this repository


def _oracle_web(repo: Path, env: str, fqdn: str) -> dict[str, Any]:
    """Render apps/web with Helm's engine from the Application's spec, by hand."""
    import helm_python

    chart_dir = repo / "apps" / "web"
    values: dict[str, Any] = {}

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            if isinstance(merged.get(key), dict) and isinstance(value, dict):
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = value
        return merged

    for path in (
        chart_dir / "values.yaml",
        chart_dir / f"values-{env}.yaml",
        repo / "shared" / "values-common.yaml",
    ):
        values = merge(values, helm_python.values_from_yaml(path.read_text()))
    values = merge(values, {"greeting": "from-valuesObject", "replicas": 1})
    for expression in (f"global.host={fqdn}", r"list=a\,b", "replicas=3", "appName=web-x"):
        values = merge(values, helm_python.parse_set_string(expression))
    values = merge(values, helm_python.parse_set_string_values("image.tag=1234"))
    chart = helm_python.Chart.load(str(chart_dir))
    rendered = chart.render(values, name="web-release", namespace="web-ns")
    cm = yaml.safe_load(rendered["web/templates/configmap.yaml"])
    assert isinstance(cm, dict)
    return cm


@pytest.mark.parametrize(
    ("env", "fqdn"), [("dev", "dev.example.org"), ("prod", "prod.example.org")]
)
def test_helm_source_equals_helm_engine_driven_by_the_spec(
    repo: Path, tmp_path: Path, env: str, fqdn: str
) -> None:
    out = tmp_path / "out"
    assert _render_all(repo, out, "--env", env).code == 0
    ours = _objects(out / env / "web.yaml")
    assert list(ours) == [("ConfigMap", "web-release")]  # skipCrds: no CRD
    theirs = _oracle_web(repo, env, fqdn)
    data = ours[("ConfigMap", "web-release")]["data"]
    assert data.pop("kube") == "v1.30.0"  # helm.kubeVersion
    theirs["data"].pop("kube")
    assert ours[("ConfigMap", "web-release")] == theirs
    assert data["tag"] == '"1234"'  # forceString
    assert data["list"] == '"a,b"'  # the comma escaped as Argo CD does
    assert data["appName"] == "web-x"  # $ARGOCD_APP_NAME


def test_kustomize_source_edits_equal_kubectl_kustomize(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render_all(repo, out, "--env", "dev").code == 0
    ours = _objects(out / "dev" / "kust.yaml")
    # The oracle: the edits kustomize edit would make, written by hand, built by kubectl.
    oracle = tmp_path / "oracle"
    shutil.copytree(repo / "apps" / "kust", oracle)
    (oracle / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\nnamePrefix: dev-\nnameSuffix: -v1\n"
        "images:\n- name: nginx\n  newName: registry.example.org/nginx\n  newTag: '1.27'\n"
        "replicas:\n- name: api\n  count: 4\ncommonLabels:\n  team: backend\n"
        "commonAnnotations:\n  owner: ops\nnamespace: kust-ns\n"
    )
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(oracle)], capture_output=True, text=True, check=True
    ).stdout
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(built) if o}
    assert ours == theirs
    assert (repo / "apps" / "kust" / "kustomization.yaml").read_text() == (
        "resources:\n  - deployment.yaml\n"
    )  # the repository's file is untouched


def test_plugin_source_gets_env_parameters_and_project(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render_all(repo, out, "--env", "dev").code == 0
    ours = _objects(out / "dev" / "plug.yaml")
    cm = ours[("ConfigMap", "plug")]["data"]
    assert cm == {"env": "dev", "a": "<1>", "b": "2"}  # ARGOCD_ENV_ENV, helm-parameters
    assert ours[("Secret", "plug")]["stringData"]["password"] == "s3cret-Plug-9"


def test_plugin_source_policy_follows_spec_project(repo: Path, tmp_path: Path) -> None:
    """spec.project becomes ARGOCD_APP_PROJECT_NAME: another project may not read team-a."""
    template = repo / "environments" / "templates" / "others.yaml"
    template.write_text(template.read_text().replace("project: team-a", "project: team-b"))
    out = tmp_path / "out"
    result = _render_all(repo, out, "--env", "dev")
    assert result.code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert failed[0].startswith("FAILED dev/plug:")
    assert "secret/data/team-a/app" in failed[0]
    assert "s3cret" not in result.stdout + result.stderr
    assert not (out / "dev" / "plug.yaml").exists()


def test_plugin_env_cannot_read_the_sidecar_environment(repo: Path, tmp_path: Path) -> None:
    """plugin.env expands Argo CD's build variables only, as Argo CD does, never the sidecar's."""
    template = repo / "environments" / "templates" / "others.yaml"
    text = template.read_text().replace("value: {{ .Values.name | quote }}", 'value: "$LEAKY"')
    template.write_text(text)
    out = tmp_path / "out"
    env = base_env()
    env["LSP_RENDER_POLICY"] = str(POLICY)
    env["LEAKY"] = "dev"
    args = ["render-all", str(repo / "apps"), "--from-applications", str(repo / "environments")]
    args += ["--output-dir", str(out), "--secrets-file", str(SECRETS), "--env", "dev", "-j", "1"]
    assert run(args, env=env).code == 0
    assert _objects(out / "dev" / "plug.yaml")[("ConfigMap", "plug")]["data"]["env"] == "none"


def test_multi_source_values_ref(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render_all(repo, out, "--env", "dev").code == 0
    assert _objects(out / "dev" / "multi.yaml")[("ConfigMap", "multi")]["data"] == {
        "common": "shared-value"
    }


def test_directory_of_manifests_and_render_application(repo: Path, tmp_path: Path) -> None:
    manifests = repo / "argocd"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web2}\n"
        "spec:\n  project: default\n  destination: {namespace: w2}\n"
        f"  source:\n    repoURL: {URL}\n    path: apps/web\n"
        "    helm:\n      valueFiles: [values.yaml]\n      parameters:\n"
        "      - {name: global.host, value: h.example.org}\n"
    )
    out = tmp_path / "out"
    result = run(
        ["render-all", str(repo), "--from-applications", str(manifests), "--output-dir", str(out)]
    )
    assert result.code == 0, result.stdout + result.stderr
    assert [p.name for p in out.iterdir()] == ["web2.yaml"]
    single = run(["render", "--application", str(manifests / "web.yaml")])
    assert single.code == 0, single.stderr
    assert single.stdout == (out / "web2.yaml").read_text()
    objs = _objects(out / "web2.yaml")
    assert set(objs) == {("ConfigMap", "web2"), ("CustomResourceDefinition", "widgets.example.org")}
    assert objs[("ConfigMap", "web2")]["metadata"]["namespace"] == "w2"


def test_render_application_bad_inputs(repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: evil}\n"
        f"spec:\n  source:\n    repoURL: {URL}\n    path: apps/web\n"
        "    helm:\n      valueFiles: [../../../../etc/passwd]\n"
    )
    inside = repo / "evil.yaml"
    inside.write_text(bad.read_text())
    assert_failure(
        run(["render", "--application", str(inside)]), 2, "evil", "leaves the repository"
    )
    none = repo / "none.yaml"
    none.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert_failure(run(["render", "--application", str(none)]), 2, "not exactly one")
    outside = repo / "out.yaml"
    outside.write_text(bad.read_text().replace("apps/web", "../../.."))
    assert_failure(run(["render", "--application", str(outside)]), 2, "leaves the repository")


def _manifest(repo: Path, name: str, body: str) -> Path:
    path = repo / "argocd" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    return path


def test_hostile_application_names_and_environments(repo: Path, tmp_path: Path) -> None:
    """An Application name or an environment names an output path: no '/', no '..'."""
    evil = _manifest(
        repo,
        "evil",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: ../../evil}\n"
        f"spec:\n  source: {{repoURL: '{URL}', path: apps/web}}\n",
    )
    out = tmp_path / "out"
    args = ["render-all", str(repo), "--from-applications", str(evil), "--output-dir", str(out)]
    assert_failure(run(args), 2, "'../../evil' is not a Kubernetes object name")
    assert not out.exists()
    (repo / "environments" / "values-...yaml").write_text("name: x\n")
    args = ["render-all", str(repo / "apps"), "--from-applications", str(repo / "environments")]
    assert_failure(run([*args, "--output-dir", str(out)]), 2, "environment name '..'")
    assert_failure(run([*args, "--env", "../x"]), 2, "environment name '../x'")


def test_hostile_application_paths(repo: Path, tmp_path: Path) -> None:
    (repo / "apps" / "web" / "linked.yaml").symlink_to("/etc/hostname")
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec:\n"
    source = f"  source:\n    repoURL: {URL}\n"
    cases = {
        "link": (source + "    path: apps/web\n    helm: {valueFiles: [linked.yaml]}\n", 2),
        "url": (
            source + "    path: apps/web\n    helm: {valueFiles: ['https://example.org/v.yaml']}\n",
            2,
        ),
        "ref": (
            "  sources:\n"
            f"    - {{repoURL: '{URL}', ref: v}}\n"
            f"    - {{repoURL: '{URL}', path: apps/web, helm: {{valueFiles: [$v/../../x]}}}}\n",
            2,
        ),
        "component": (source + "    path: apps/kust\n    kustomize: {components: [../../..]}\n", 2),
        "remote": (
            source + "    path: apps/kust\n    kustomize: {components: ['https://e.org/c']}\n",
            2,
        ),
    }
    for name, (spec, code) in cases.items():
        manifest = _manifest(repo, name, head + spec)
        result = run(["render", "--application", str(manifest)])
        assert_failure(result, code, "Application x")
        assert "localhost" not in result.stdout


def test_alias_bomb_in_application_manifests(repo: Path) -> None:
    """valuesObject would be expanded into Helm's values: refused before parsing."""
    lines = ["        a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"        a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec:\n"
    head += f"  source:\n    repoURL: {URL}\n    path: apps/web\n    helm:\n      valuesObject:\n"
    bomb = _manifest(repo, "bomb", head + "\n".join(lines) + "\n")
    result = run(["render", "--application", str(bomb)])
    assert_failure(result, 2, "bomb.yaml", "aliases expand")


def test_argocd_source_override_files(repo: Path, tmp_path: Path) -> None:
    """.argocd-source.yaml then .argocd-source-<app>.yaml patch the source (JSON merge patch)."""
    web = repo / "apps" / "web"
    (web / ".argocd-source.yaml").write_text("helm:\n  releaseName: overridden\n")
    (web / ".argocd-source-web.yaml").write_text(
        "path: apps/kust\n"  # ignored, as Argo CD ignores it
        "helm:\n  valuesObject: {greeting: from-override}\n"
        "  parameters: [{name: global.host, value: o.example.org}]\n"
    )
    out = tmp_path / "out"
    assert _render_all(repo, out, "--env", "prod").code == 0
    objs = _objects(out / "prod" / "web.yaml")
    data = objs[("ConfigMap", "overridden")]["data"]
    assert (data["greeting"], data["host"], data["tag"]) == (
        "from-override",
        "o.example.org",
        '"latest"',
    )
    assert (
        data["replicas"] == "1"
    )  # valuesObject kept its other keys; the parameters list was replaced
    (web / ".argocd-source-web.yaml").write_text("- not a mapping\n")
    result = _render_all(repo, out, "--env", "prod")
    assert result.code == 1
    assert "apps/web/.argocd-source-web.yaml: must be a mapping" in result.stdout


def test_directory_source_recurse(repo: Path) -> None:
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: d}\nspec:\n"
    spec = f"  source:\n    repoURL: {URL}\n    path: outside\n    directory: {{recurse: true}}\n"
    manifest = _manifest(repo, "d", head + spec)
    result = run(["render", "--application", str(manifest)])
    assert result.code == 0, result.stderr
    assert [o["metadata"]["name"] for o in result.objects()] == ["outside"]
    manifest.write_text(head + spec.replace("recurse: true", "recurse: false"))
    assert run(["render", "--application", str(manifest)]).objects() == []


def test_kustomize_patches_labels_without_selector_and_missing_components(
    repo: Path, tmp_path: Path
) -> None:
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: k}\nspec:\n"
    spec = (
        f"  source:\n    repoURL: {URL}\n    path: apps/kust\n    kustomize:\n"
        "      commonLabels: {tier: web}\n      labelWithoutSelector: true\n"
        "      components: [missing]\n      ignoreMissingComponents: true\n"
        "      patches:\n        - target: {kind: Deployment, name: api}\n"
        "          patch: |\n            - op: replace\n              path: /spec/replicas\n"
        "              value: 7\n"
    )
    manifest = _manifest(repo, "k", head + spec)
    result = run(["render", "--application", str(manifest)])
    assert result.code == 0, result.stderr
    oracle = tmp_path / "oracle"
    shutil.copytree(repo / "apps" / "kust", oracle)
    (oracle / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\nlabels:\n- pairs: {tier: web}\n"
        "patches:\n- target: {kind: Deployment, name: api}\n"
        "  patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 7\n"
    )
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(oracle)], capture_output=True, text=True, check=True
    ).stdout
    assert result.objects() == [o for o in yaml.safe_load_all(built) if o]
    deployment = result.objects()[0]
    assert deployment["metadata"]["labels"] == {"tier": "web"}
    assert "tier" not in deployment["spec"]["selector"]["matchLabels"]  # without selector
    manifest.write_text(head + spec.replace("ignoreMissingComponents: true", "{}"))
    assert run(["render", "--application", str(manifest)]).code != 0  # the missing component
    manifest.write_text(
        head + spec.replace("target: {kind: Deployment, name: api}", "path: ../../../x.yaml")
    )
    assert_failure(run(["render", "--application", str(manifest)]), 2, "patch '../../../x.yaml'")


def test_helm_file_parameters_are_refused(repo: Path) -> None:
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: f}\nspec:\n"
    spec = f"  source:\n    repoURL: {URL}\n    path: apps/web\n"
    spec += "    helm: {fileParameters: [{name: a, path: values.yaml}]}\n"
    manifest = _manifest(repo, "f", head + spec)
    assert_failure(run(["render", "--application", str(manifest)]), 2, "fileParameters")


def test_render_application_from_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    """A manifest saved outside any repository renders against the current directory's."""
    manifest = tmp_path / "elsewhere" / "web.yaml"
    manifest.parent.mkdir()
    manifest.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\n"
        f"spec:\n  destination: {{namespace: w}}\n  source:\n    repoURL: {URL}\n"
        "    path: apps/web\n    helm: {parameters: [{name: global.host, value: h}]}\n"
    )
    result = run(["render", "--application", str(manifest)], cwd=repo / "apps")
    assert result.code == 0, result.stderr
    assert {o["kind"] for o in result.objects()} == {"ConfigMap", "CustomResourceDefinition"}
    assert_failure(run(["render", "--application", str(manifest)], cwd=tmp_path), 2, "apps/web")
