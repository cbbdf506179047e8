"""lsp-render-repo.yaml: discovery, validation with file:line, envdata, --set injection."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.argocd.request import build_request
from lsp_render.config.repo import (
    find_repo_config,
    format_set,
    glob_matches,
    helm_set_args,
    load_envdata,
)
from lsp_render.core.errors import InputError
from lsp_render.pipeline import helm_inputs, plan, template_context
from tests.workflow_fixtures import repo

__all__ = ["repo"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _context(env: str | None, app: str = "web") -> dict[str, object]:
    return {"app": {"name": app}, "env": env or "", "params": {}, "envdata": {}}


def test_found_walking_up_from_a_nested_app(tmp_path: Path) -> None:
    _write(tmp_path / "lsp-render-repo.yaml", 'applications: ["apps/**"]\n')
    app = tmp_path / "apps" / "team" / "web"
    app.mkdir(parents=True)
    config = find_repo_config(app, tmp_path)
    assert config is not None
    assert config.directory == tmp_path
    assert config.label == "lsp-render-repo.yaml"
    assert config.covers(app)


def test_not_looked_for_outside_the_repository(tmp_path: Path) -> None:
    _write(tmp_path / "lsp-render-repo.yaml", "applications: []\n")
    root = tmp_path / "repo"
    elsewhere = tmp_path / "elsewhere" / "app"
    elsewhere.mkdir(parents=True)
    root.mkdir()
    assert find_repo_config(elsewhere, root) is None
    assert find_repo_config(root, root) is None  # the parent's file is outside root


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'applications: ["a/*"]\nhelm:\n  sett:\n    x: 1\n',
            "lsp-render-repo.yaml:3: helm.sett: unknown key",
        ),
        (
            "applications: a/*\n",
            "lsp-render-repo.yaml:1: applications: Input should be a valid list",
        ),
        (
            "environments:\n  dataFile: 3\n",
            "lsp-render-repo.yaml:2: environments.dataFile: ",
        ),
        (
            "helm:\n  set:\n    a: [1, 2]\n",
            "lsp-render-repo.yaml:3: helm.set.a: ",
        ),
        (
            "overrides:\n  - helm: {set: {a: 1}}\n",
            "lsp-render-repo.yaml:2: overrides[0].applications: Field required",
        ),
        ("- a\n- b\n", "lsp-render-repo.yaml: must be a mapping"),
        ("applications: [a\n", "lsp-render-repo.yaml:2: "),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    _write(tmp_path / "lsp-render-repo.yaml", text)
    with pytest.raises(InputError) as info:
        find_repo_config(tmp_path, tmp_path)
    assert str(info.value).startswith(expected), str(info.value)
    assert ".str" not in str(info.value)  # union member names stay out of the key path


def test_missing_data_file_names_the_environment(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml",
        'environments:\n  dataFile: "envs/{{ env }}.yaml"\n',
    )
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    with pytest.raises(InputError, match=r"data file 'envs/qa.yaml' for environment 'qa'"):
        load_envdata(config, "qa", _context("qa"), tmp_path)
    assert load_envdata(config, None, _context(None), tmp_path) == {}


def test_data_file_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _write(tmp_path / "outside.yaml", "fqdn: x\n")
    _write(root / "lsp-render-repo.yaml", 'environments:\n  dataFile: "../outside.yaml"\n')
    config = find_repo_config(root, root)
    assert config is not None
    with pytest.raises(InputError, match="leaves the repository"):
        load_envdata(config, "dev", _context("dev"), root)


def test_data_files_are_deep_merged_in_order(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml",
        'environments:\n  dataFile: ["envs/defaults.yaml", "envs/{{ env }}.yaml"]\n',
    )
    _write(tmp_path / "envs" / "defaults.yaml", "cs: {topic: sal, site: ''}\nname: ''\n")
    _write(tmp_path / "envs" / "base.yaml", "cs: {site: base}\nname: base\n")
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    data = load_envdata(config, "base", _context("base"), tmp_path)
    assert data == {"cs": {"topic": "sal", "site": "base"}, "name": "base"}


def test_template_error_names_the_key(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml", 'helm:\n  set:\n    global.host: "{{ envdata.fqdn }}"\n'
    )
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    with pytest.raises(InputError) as info:
        helm_set_args(config, tmp_path / "web", _context("dev"))
    assert str(info.value).startswith("lsp-render-repo.yaml: helm.set.global.host: template error")


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml",
        'helm:\n  set:\n    x: "{{ env.__class__.__mro__ }}"\n',
    )
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    with pytest.raises(InputError, match=r"helm\.set\.x"):
        helm_set_args(config, tmp_path / "web", _context("dev"))


def test_overrides_apply_to_matching_apps_only(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml",
        'applications: ["apps/*"]\n'
        'helm:\n  set:\n    global.env: "{{ env }}"\n'
        "overrides:\n"
        '  - applications: ["apps/tel-*"]\n'
        '    helm: {set: {global.ns: "{{ app.name }}", global.count: 3, global.on: true}}\n',
    )
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    tel = helm_set_args(config, tmp_path / "apps" / "tel-aux", _context("base", "tel-aux"))
    assert tel == ("global.env=base", "global.ns=tel-aux", "global.count=3", "global.on=true")
    web = helm_set_args(config, tmp_path / "apps" / "web", _context("base"))
    assert web == ("global.env=base",)
    # Not an application of the repository: nothing injected.
    assert helm_set_args(config, tmp_path / "other" / "web", _context("base")) == ()
    # "*" stays within one path segment.
    assert helm_set_args(config, tmp_path / "apps" / "x" / "tel-y", _context("base")) == ()


def test_glob_semantics() -> None:
    assert glob_matches("applications/hips", ["applications/*"])
    assert not glob_matches("applications/a/b", ["applications/*"])
    assert glob_matches("applications/a/b", ["applications/**"])
    assert glob_matches("b", ["**/b"])
    assert glob_matches("x/y/b", ["**/b"])
    assert glob_matches("app1", ["app[0-9]"])
    assert not glob_matches("appx", ["app[0-9]"])
    assert glob_matches("appx", ["app[!0-9]"])
    assert glob_matches("a.b", ["a.b"])
    assert not glob_matches("axb", ["a.b"])


def test_format_set_escapes_commas_and_types_scalars() -> None:
    assert format_set("a", "x,y") == "a=x\\,y"
    assert format_set("a", None) == "a=null"
    assert format_set("a", False) == "a=false"
    assert format_set("a", 1.5) == "a=1.5"


def test_pipeline_injects_the_environment_parameters(repo: Path) -> None:
    request = build_request(repo / "applications" / "api", environ={}, env="prod")
    the_plan = plan(request)
    assert the_plan.context["envdata"]["fqdn"] == "www.example.org"
    inputs = helm_inputs(request, the_plan)
    assert inputs.set_values[:3] == (
        "global.host=www.example.org",
        "global.environmentName=prod",
        "global.vaultPathPrefix=secret/data/prod",
    )
    web = build_request(repo / "applications" / "web", environ={}, env="dev")
    assert "global.vaultPathPrefix=secret/data/dev" not in helm_inputs(web, plan(web)).set_values
    # Without environment nothing is injected.
    bare = build_request(repo / "applications" / "web", environ={})
    assert helm_inputs(bare, plan(bare)).set_values == ()
    assert template_context(bare)["envdata"] == {}


def test_repo_release_name_and_namespace_rank_below_the_app_and_argocd(tmp_path: Path) -> None:
    _write(
        tmp_path / "lsp-render-repo.yaml",
        'applications: ["apps/*"]\n'
        'helm:\n  releaseName: "{{ app.name }}-rel"\n  namespace: "ns-{{ app.name }}"\n',
    )
    (tmp_path / ".git").mkdir()
    app = tmp_path / "apps" / "web"
    _write(app / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    request = build_request(app, environ={})
    inputs = helm_inputs(request, plan(request))
    assert (inputs.release_name, inputs.namespace) == ("web-rel", "ns-web")
    argocd = build_request(app, environ={"ARGOCD_APP_NAMESPACE": "dest", "ARGOCD_APP_NAME": "x"})
    inputs = helm_inputs(argocd, plan(argocd))
    assert (inputs.release_name, inputs.namespace) == ("x-rel", "dest")
    _write(app / "lsp-render.yaml", "helm:\n  releaseName: own\n  namespace: own-ns\n")
    own = build_request(app, environ={"ARGOCD_APP_NAMESPACE": "dest"})
    inputs = helm_inputs(own, plan(own))
    assert (inputs.release_name, inputs.namespace) == ("own", "own-ns")
    flags = build_request(app, environ={}, release_name="f", namespace="fns")
    inputs = helm_inputs(flags, plan(flags))
    assert (inputs.release_name, inputs.namespace) == ("f", "fns")
    # An app the globs do not cover gets neither.
    other = tmp_path / "other"
    _write(other / "Chart.yaml", "apiVersion: v2\nname: o\nversion: 0.1.0\n")
    bare = build_request(other, environ={})
    inputs = helm_inputs(bare, plan(bare))
    assert (inputs.release_name, inputs.namespace) == ("other", "default")


def test_a_data_file_every_environment_shares_is_parsed_once(tmp_path: Path) -> None:
    """Phalanx's environments/values.yaml was parsed again for each of its 25 environments."""
    from lsp_render.config import repo as repo_module

    _write(
        tmp_path / "lsp-render-repo.yaml",
        'environments:\n  dataFile: ["envs/defaults.yaml", "envs/{{ env }}.yaml"]\n',
    )
    _write(tmp_path / "envs" / "defaults.yaml", "cs: {topic: sal}\n")
    _write(tmp_path / "envs" / "a.yaml", "name: a\n")
    _write(tmp_path / "envs" / "b.yaml", "name: b\n")
    config = find_repo_config(tmp_path, tmp_path)
    assert config is not None
    assert load_envdata(config, "a", _context("a"), tmp_path)["name"] == "a"
    parsed = {
        stamp[0]: loaded
        for (stamp, _), loaded in repo_module._FILE_CACHE.items()
        if stamp[0].startswith(str(tmp_path))
    }
    assert load_envdata(config, "b", _context("b"), tmp_path) == {
        "cs": {"topic": "sal"},
        "name": "b",
    }
    again = {
        stamp[0]: loaded
        for (stamp, _), loaded in repo_module._FILE_CACHE.items()
        if stamp[0].startswith(str(tmp_path))
    }
    shared = str(tmp_path / "envs" / "defaults.yaml")
    assert again[shared] is parsed[shared]
    assert len(again) == 3
