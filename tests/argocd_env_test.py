from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.argocd.env import (
    app_info,
    env_name,
    kube_api_versions,
    plugin_params,
    release_name_from_app,
    repo_root_from_source_path,
)
from lsp_render.core.errors import InputError


def test_parameters_null_absent_and_full() -> None:
    assert plugin_params({}).values_files == ()
    assert plugin_params({"ARGOCD_APP_PARAMETERS": "null"}).env is None
    params = plugin_params(
        {
            "ARGOCD_APP_PARAMETERS": '[{"array":["values-dev.yaml"],"name":"values-files"},'
            '{"map":{"image.tag":"v1.2.3","b":"x,y"},"name":"helm-parameters"},'
            '{"name":"env","string":"dev"},{"name":"release-name","string":"r"},'
            '{"name":"namespace","string":"ns"}]'
        }
    )
    assert params.values_files == ("values-dev.yaml",)
    assert params.helm_parameters == (("image.tag", "v1.2.3"), ("b", "x,y"))
    assert (params.env, params.release_name, params.namespace) == ("dev", "r", "ns")
    assert params.raw["env"] == "dev"


@pytest.mark.parametrize(
    "raw",
    ["{", '{"name": "env"}', '[{"string": "x"}]', '[{"name": "env", "string": 3}]'],
)
def test_malformed_parameters_are_input_errors(raw: str) -> None:
    with pytest.raises(InputError, match="ARGOCD_APP_PARAMETERS"):
        plugin_params({"ARGOCD_APP_PARAMETERS": raw})


def test_kube_api_versions_both_entry_forms() -> None:
    environ = {"KUBE_API_VERSIONS": "apps/v1,apps/v1/Deployment, v1,,monitoring.coreos.com/v1"}
    assert kube_api_versions(environ) == (
        "apps/v1",
        "apps/v1/Deployment",
        "v1",
        "monitoring.coreos.com/v1",
    )


def test_release_name_strips_the_app_namespace_prefix() -> None:
    assert release_name_from_app("team-a_web") == "web"
    assert release_name_from_app("web") == "web"
    info = app_info({"ARGOCD_APP_NAME": "apps_web", "ARGOCD_APP_PROJECT_NAME": "p"}, Path("/x/y"))
    assert (info.name, info.project, info.namespace) == ("web", "p", "")
    assert app_info({}, Path("/x/shop")).name == "shop"


def test_env_precedence() -> None:
    params = plugin_params({"ARGOCD_APP_PARAMETERS": '[{"name":"env","string":"int"}]'})
    environ = {"ARGOCD_ENV_ENV": "dev"}
    assert env_name(environ, params, "prod") == "prod"
    assert env_name(environ, params, None) == "int"
    assert env_name(environ, plugin_params({}), None) == "dev"
    assert env_name({}, plugin_params({}), None) is None


def test_repo_root_from_source_path() -> None:
    app = Path("/w/_cmp_server/abc/apps/web")
    assert repo_root_from_source_path(app, {"ARGOCD_APP_SOURCE_PATH": "apps/web"}) == Path(
        "/w/_cmp_server/abc"
    )
    # With manifest-generate-paths the copy's root may lie below the repository root.
    assert repo_root_from_source_path(app, {"ARGOCD_APP_SOURCE_PATH": "other/web"}) == Path(
        "/w/_cmp_server/abc/apps"
    )
    assert repo_root_from_source_path(app, {"ARGOCD_APP_SOURCE_PATH": "other/api"}) is None
    assert repo_root_from_source_path(app, {"ARGOCD_APP_SOURCE_PATH": "../web"}) is None
    assert repo_root_from_source_path(app, {}) is None
