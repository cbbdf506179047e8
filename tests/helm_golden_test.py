"""One Phalanx chart rendered by the embedded engine equals its reviewed golden output.

Regenerate it (then read the diff before committing) from the repository root, with no
helm binary on PATH: ``PYTHONPATH=plugin:. python -m tests.helm_golden_test``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lsp_render.core.manifests import join_stream
from lsp_render.sources.helm import HelmInputs, render_chart
from tests.helm_fixtures import REPO, embedded_only, inputs

__all__ = ["embedded_only"]

GOLDEN = Path(__file__).parent / "data" / "charts" / "golden" / "wobbly-idfdev.yaml"


def _wobbly() -> HelmInputs:
    chart = REPO / "applications" / "wobbly"
    # As Phalanx's app-of-apps renders it for idfdev, plus the schema-update hooks.
    return inputs(
        "wobbly",
        release_name="wobbly",
        namespace="wobbly",
        value_files=(chart / "values.yaml", chart / "values-idfdev.yaml"),
        set_values=(
            "global.host=data-dev.lsst.cloud",
            "global.baseUrl=https://data-dev.lsst.cloud",
            "global.environmentName=idfdev",
            "global.repertoireUrl=https://data-dev.lsst.cloud/repertoire",
            "global.vaultSecretsPath=secret/phalanx/idfdev",
            "config.updateSchema=true",
        ),
        kube_version="1.30.4",
    )


@pytest.mark.usefixtures("embedded_only")
def test_wobbly_matches_golden() -> None:
    docs = render_chart(_wobbly())
    golden_text = GOLDEN.read_text()
    assert list(yaml.safe_load_all(join_stream(docs))) == list(yaml.safe_load_all(golden_text))
    sources = [line for line in golden_text.splitlines() if line.startswith("# Source: ")]
    assert [f"# Source: {doc.source}" for doc in docs] == sources
    kinds = [doc["kind"] for doc in yaml.safe_load_all(golden_text)]
    # hooks after the rest, sorted by kind like the rest
    assert kinds[-4:] == ["ServiceAccount", "ConfigMap", "Job", "VaultSecret"]


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(join_stream(render_chart(_wobbly())))


@pytest.mark.usefixtures("embedded_only")
@pytest.mark.parametrize("app", ["wobbly", "lsp-order", "strimzi-access-operator"])
def test_resources_equal_helms_own_install_manifest(app: str) -> None:
    """Helm's install action (client dry run) sorts and prints the non-hook part itself."""
    import helm_python

    from lsp_render.sources.helm.embedded import _load, compose_values

    request = _wobbly() if app == "wobbly" else inputs(app)
    request = HelmInputs(**{**_fields(request), "kube_version": None, "include_crds": False})
    ours = [doc for doc in render_chart(request) if "helm.sh/hook:" not in doc.text]
    loaded = _load(request.chart_dir, request.repo_root)
    with (
        helm_python.Config(storage_driver="memory") as config,
        helm_python.Chart.load_archive(loaded.archive) as chart,
    ):
        release = config.install(
            chart,
            request.release_name,
            compose_values(request, loaded.name),
            dry_run="client",
            namespace=request.namespace,
        )
    theirs = [part.strip() for part in release["manifest"].split("\n---\n")]
    assert [doc.text.strip() for doc in ours] == [part.removeprefix("---\n") for part in theirs]


def _fields(request: HelmInputs) -> dict[str, object]:
    return {name: getattr(request, name) for name in HelmInputs.__dataclass_fields__}
