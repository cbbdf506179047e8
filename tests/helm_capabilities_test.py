"""Kube version and API versions reach the templates as with helm template's flags."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lsp_render.core.errors import InputError, RenderError
from lsp_render.sources.helm import render_chart
from lsp_render.sources.helm.capabilities import normalize_kube_version
from tests.helm_fixtures import embedded_only, inputs, objects

__all__ = ["embedded_only"]

pytestmark = pytest.mark.usefixtures("embedded_only")


def _capabilities(**overrides: Any) -> dict[str, str]:
    for obj in objects(render_chart(inputs("lsp-order", **overrides))):
        if isinstance(obj, dict) and obj["metadata"]["name"] == "capabilities":
            data: dict[str, str] = obj["data"]
            return data
    raise AssertionError("no capabilities ConfigMap")


def test_release_is_an_install_by_helm() -> None:
    data = _capabilities(release_name="web", namespace="apps")
    assert data["isInstall"] == "true"
    assert data["isUpgrade"] == "false"
    assert data["service"] == "Helm"
    assert data["revision"] == "1"
    assert (data["release"], data["namespace"]) == ("web", "apps")


@pytest.mark.parametrize(
    ("given", "seen"),
    [("1.29", "v1.29.0"), ("1.29.3", "v1.29.3"), ("v1.31.2", "v1.31.2")],
)
def test_kube_version_reaches_the_templates(given: str, seen: str) -> None:
    data = _capabilities(kube_version=given)
    assert data["kubeVersion"] == seen
    assert data["kubeMinor"] == seen.split(".")[1]


def test_default_kube_version_is_helms_and_differs_from_the_flag() -> None:
    assert _capabilities()["kubeVersion"] != "v1.29.0"
    assert _capabilities(kube_version="1.29")["kubeVersion"] == "v1.29.0"


def test_api_versions_are_added_to_the_default_set() -> None:
    before = _capabilities()
    assert (before["hasWidgets"], before["hasWidgetKind"], before["hasApps"]) == (
        "false",
        "false",
        "true",
    )
    after = _capabilities(api_versions=("example.org/v1", "example.org/v1/Widget"))
    assert (after["hasWidgets"], after["hasWidgetKind"], after["hasApps"]) == (
        "true",
        "true",
        "true",
    )


def test_invalid_kube_version_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^invalid kube version 'one\.x'"):
        render_chart(inputs("lsp-order", kube_version="one.x"))
    assert normalize_kube_version("v1.30.1-rc.1") == "v1.30.1-rc.1"


def test_chart_kube_version_constraint_is_enforced() -> None:
    with pytest.raises(RenderError) as caught:
        render_chart(inputs("lsp-kube-constraint", kube_version="1.29.3"))
    assert str(caught.value) == (
        "chart lsp-kube-constraint: chart requires kubeVersion: >=1.30.0-0 which is "
        "incompatible with Kubernetes v1.29.3"
    )
    docs = render_chart(inputs("lsp-kube-constraint", kube_version="1.30"))
    assert [o["kind"] for o in objects(docs)] == ["ConfigMap"]


def test_constraint_is_checked_against_helms_default_version_too(tmp_path: Path) -> None:
    from lsp_render.sources.helm.embedded import _default_kube_version

    default = _default_kube_version()
    assert default.startswith("v1.")
    major_minor = ".".join(default.lstrip("v").split(".")[:2])
    chart = tmp_path / "repo" / "old-only"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: old-only\nversion: 0.1.0\nkubeVersion: '<{major_minor}.0-0'\n"
    )
    (chart / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    request = inputs("old-only", chart_dir=chart, repo_root=tmp_path / "repo")
    with pytest.raises(RenderError, match=rf"incompatible with Kubernetes {default}$"):
        render_chart(request)
    assert len(render_chart(replace(request, kube_version="1.20"))) == 1
