from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lsp_render.config.app import AppConfig, load_app_config
from lsp_render.core.errors import InputError
from lsp_render.detect import AppKind, detect_kind

CONTEXT: dict[str, Any] = {
    "app": {"name": "web", "namespace": "shop", "project": "team-a", "revision": "abc"},
    "env": "dev",
    "kube_version": "1.29.0",
    "params": {"tier": "gold"},
    "envdata": {"fqdn": "dev.example.org"},
}


def _load(tmp_path: Path, text: str) -> AppConfig | None:
    app = tmp_path / "repo" / "apps" / "web"
    app.mkdir(parents=True, exist_ok=True)
    (app / "lsp-render.yaml").write_text(text)
    return load_app_config(app, tmp_path / "repo", CONTEXT, label="apps/web/lsp-render.yaml")


def test_every_key_is_accepted_and_typed(tmp_path: Path) -> None:
    (tmp_path / "repo" / "charts" / "x").mkdir(parents=True)
    config = _load(
        tmp_path,
        """
kind: hybrid
helm:
  chart: ../../charts/x
  releaseName: rel
  namespace: ns
  valueFiles: [values.yaml, "values-{{ env }}.yaml"]
  ignoreMissingValueFiles: true
  values: {a: {b: 1}}
  set: {image.tag: "1.2.3", replicas: 2, flag: true}
  includeCRDs: false
  skipTests: true
  kubeVersion: "1.29"
  apiVersions: [monitoring.coreos.com/v1]
kustomize:
  path: .
plain:
  recursive: true
  exclude: ["*.json"]
secrets:
  resolveInValues: true
allowEmpty: true
""",
    )
    assert config is not None and config.helm is not None
    assert config.kind == "hybrid"
    assert config.helm.value_files == ["values.yaml", "values-dev.yaml"]
    assert config.helm.release_name == "rel"
    assert config.helm.set == {"image.tag": "1.2.3", "replicas": 2, "flag": True}
    assert (config.helm.include_crds, config.helm.skip_tests) == (False, True)
    assert config.helm.kube_version == "1.29"
    assert config.helm.api_versions == ["monitoring.coreos.com/v1"]
    assert config.helm.ignore_missing_value_files is True
    assert config.kustomize is not None and config.kustomize.path == "."
    assert config.plain is not None and config.plain.recursive
    assert config.secrets.resolve_in_values is True
    assert config.allow_empty is True


def test_templates_see_the_context(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "helm:\n  releaseName: '{{ app.name }}-{{ env }}'\n"
        "  namespace: '{{ app.namespace }}'\n"
        "  set: {host: '{{ envdata.fqdn }}', tier: '{{ params.tier }}', k: '{{ kube_version }}'}\n",
    )
    assert config is not None and config.helm is not None
    assert config.helm.release_name == "web-dev"
    assert config.helm.namespace == "shop"
    assert config.helm.set == {"host": "dev.example.org", "tier": "gold", "k": "1.29.0"}


def test_missing_file_is_none_and_empty_file_is_defaults(tmp_path: Path) -> None:
    app = tmp_path / "a"
    app.mkdir()
    assert load_app_config(app, tmp_path, CONTEXT, label="a/lsp-render.yaml") is None
    config = _load(tmp_path, "")
    assert config == AppConfig.model_validate({})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("helm:\n  chart: .\n  bogus: 1\n", "apps/web/lsp-render.yaml:3: helm.bogus: unknown key"),
        ("helm:\n  releseName: x\n", "apps/web/lsp-render.yaml:2: helm.releseName: unknown key"),
        ("helm:\n  includeCRDs: 'yes'\n", "apps/web/lsp-render.yaml:2: helm.includeCRDs"),
        ("helm:\n  kubeVersion: 1.30\n", "apps/web/lsp-render.yaml:2: helm.kubeVersion"),
        ("helm:\n  valueFiles: values.yaml\n", "apps/web/lsp-render.yaml:2: helm.valueFiles"),
        ("kind: jsonnet\n", "apps/web/lsp-render.yaml:1: kind"),
        ("- a\n- b\n", "must be a mapping"),
        ("helm: [\n", "apps/web/lsp-render.yaml:2"),
        ("secrets:\n  resolveInValues: 1\n", "apps/web/lsp-render.yaml:2: secrets.resolveInValues"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        _load(tmp_path, text)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("helm:\n  chart: ../../../outside\n", "helm.chart"),
        ("helm:\n  valueFiles: [ok.yaml, ../../../../etc/passwd]\n", "helm.valueFiles[1]"),
        ("kustomize:\n  path: /etc\n", "kustomize.path"),
    ],
)
def test_paths_leaving_the_repository_are_refused(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InputError, match=r"leaves the repository") as info:
        _load(tmp_path, text)
    assert key in str(info.value)


def test_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    app = tmp_path / "repo" / "apps" / "web"
    app.mkdir(parents=True)
    (app / "chart").symlink_to(outside)
    with pytest.raises(InputError, match="helm.chart: path 'chart' leaves the repository"):
        _load(tmp_path, "helm:\n  chart: chart\n")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ app.__class__ }}",
        "{% include '/etc/passwd' %}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_templates_cannot_reach_python_internals_or_files(tmp_path: Path, template: str) -> None:
    with pytest.raises(InputError, match=r"apps/web/lsp-render.yaml"):
        _load(tmp_path, f'helm:\n  releaseName: "{template}"\n')


def test_undefined_variables_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="helm.releaseName: template error"):
        _load(tmp_path, "helm:\n  releaseName: '{{ nope.x }}'\n")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError, match="aliases expand"):
        _load(tmp_path, "\n".join(lines) + "\n")


def _tree(tmp_path: Path, *files: str) -> Path:
    app = tmp_path / "app"
    app.mkdir(parents=True, exist_ok=True)
    for name in files:
        (app / name).write_text("apiVersion: v1\nkind: ConfigMap\n")
    return app


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        (("Chart.yaml",), AppKind.HELM),
        (("Chart.yaml", "kustomization.yaml"), AppKind.HYBRID),
        (("kustomization.yml",), AppKind.KUSTOMIZE),
        (("Kustomization",), AppKind.KUSTOMIZE),
        (("a.yaml", "b.json"), AppKind.PLAIN),
    ],
)
def test_detection_by_files(tmp_path: Path, files: tuple[str, ...], kind: AppKind) -> None:
    assert detect_kind(_tree(tmp_path, *files), None, label="app") is kind


def test_detection_by_config(tmp_path: Path) -> None:
    app = _tree(tmp_path, "kustomization.yaml")
    helm_only = AppConfig.model_validate({"helm": {"chart": "../c"}})
    assert detect_kind(app, helm_only, label="app") is AppKind.HYBRID
    forced = AppConfig.model_validate({"kind": "plain"})
    assert detect_kind(app, forced, label="app") is AppKind.PLAIN
    empty = _tree(tmp_path / "x")
    assert detect_kind(empty, AppConfig.model_validate({"helm": {}}), label="x") is AppKind.HELM
    with pytest.raises(InputError, match="holds no kustomization"):
        detect_kind(empty, AppConfig.model_validate({"kustomize": {"path": "."}}), label="x")


def test_nothing_renderable_is_exit_2(tmp_path: Path) -> None:
    app = _tree(tmp_path)
    (app / "README.md").write_text("hi")
    with pytest.raises(InputError, match="no application found") as info:
        detect_kind(app, None, label="app")
    assert info.value.exit_code == 2
