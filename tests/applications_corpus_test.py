"""The Phalanx corpus rendered from its real app-of-apps (``environments/``), no repo config.

Runs only where the corpus is (``../shared/corpus/phalanx`` of the checkout, or
``LSP_RENDER_CORPUS``): the project's tests pass on a clean clone without it.
A sample of Applications is compared with Helm's engine (``helm_python``)
driven by each Application's own spec, read here independently of lsp-render.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import REPO, run

SAMPLE_EVERY = 23


def _corpus() -> Path | None:
    configured = os.environ.get("LSP_RENDER_CORPUS")
    candidates = [Path(configured)] if configured else []
    candidates += [REPO.parent / "shared" / "corpus" / "phalanx"]
    candidates += [REPO.parent.parent / "shared" / "corpus" / "phalanx"]
    for candidate in candidates:
        if (candidate / "environments" / "Chart.yaml").is_file():
            return candidate
    return None


CORPUS = _corpus()
pytestmark = pytest.mark.skipif(CORPUS is None, reason="the Phalanx corpus is not here")


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy (Helm's dependency build writes into charts/)."""
    assert CORPUS is not None
    target = tmp_path_factory.mktemp("corpus") / "phalanx"
    shutil.copytree(CORPUS, target)
    assert not (target / "lsp-render-repo.yaml").exists()
    return target


@pytest.fixture(scope="module")
def rendered(corpus_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = run(
        [
            "render-all",
            str(corpus_copy),
            "--from-applications",
            str(corpus_copy / "environments"),
            "--output-dir",
            str(out),
            "--no-secrets",
            "--jobs",
            "2",
        ],
        timeout=900,
    )
    assert result.code == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "FAILED" not in result.stdout
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _applications(root: Path, env: str) -> list[dict[str, Any]]:
    import helm_python

    chart_dir = root / "environments"
    values: dict[str, Any] = {}
    for name in ("values.yaml", f"values-{env}.yaml"):
        values = _merge(values, helm_python.values_from_yaml((chart_dir / name).read_text()))
    files = helm_python.Chart.load(str(chart_dir)).render(values, name="aoa", namespace="argocd")
    apps = []
    for path, text in sorted(files.items()):
        if path.endswith((".tpl", "NOTES.txt")):
            continue
        apps.extend(
            obj for obj in yaml.safe_load_all(text) if obj and obj.get("kind") == "Application"
        )
    return apps


def _helm_objects(root: Path, app: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """Render one Application with helm_python from its spec.source.helm."""
    import helm_python

    source = app["spec"]["source"]
    helm = source.get("helm") or {}
    chart_dir = root / source["path"]
    if "file://" in (chart_dir / "Chart.yaml").read_text():
        helm_python.dependency_build(str(chart_dir))
    values: dict[str, Any] = {}
    for name in helm.get("valueFiles", []):
        path = chart_dir / name
        if path.is_file():
            values = _merge(values, helm_python.values_from_yaml(path.read_text()))
        else:
            assert helm.get("ignoreMissingValueFiles"), path
    if helm.get("valuesObject"):
        values = _merge(values, helm["valuesObject"])
    for param in helm.get("parameters", []):
        expression = f"{param['name']}={str(param['value']).replace(',', chr(92) + ',')}"
        parse = (
            helm_python.parse_set_string_values
            if param.get("forceString")
            else helm_python.parse_set_string
        )
        values = _merge(values, parse(expression))
    name = helm.get("releaseName") or app["metadata"]["name"]
    namespace = app["spec"]["destination"]["namespace"]
    chart = helm_python.Chart.load(str(chart_dir))
    files = chart.render(values, name=name, namespace=namespace)
    objects: list[Any] = []
    if not helm.get("skipCrds"):
        for crd in chart.crds:
            objects.extend(yaml.safe_load_all(crd["data"]))
    for path, text in sorted(files.items()):
        base = path.rsplit("/", 1)[-1]
        if base == "NOTES.txt" or base.startswith("_"):
            continue
        objects.extend(yaml.safe_load_all(text))
    return _keyed(objects)


def _keyed(objects: list[Any]) -> dict[tuple[str, str, str], Any]:
    out: dict[tuple[str, str, str], Any] = {}
    for obj in objects:
        if isinstance(obj, dict):
            meta = obj.get("metadata") or {}
            key = (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta.get("name")))
            assert key not in out, key
            out[key] = obj
    return out


def test_every_environment_renders_from_its_applications(rendered: Path) -> None:
    assert CORPUS is not None
    envs = sorted(p.name[7:-5] for p in (CORPUS / "environments").glob("values-*.yaml"))
    assert sorted(p.name for p in rendered.iterdir()) == envs
    assert len(list(rendered.rglob("*.yaml"))) > 250


def test_sample_equals_helm_engine_driven_by_each_application(
    rendered: Path, corpus_copy: Path
) -> None:
    compared = 0
    for index, path in enumerate(sorted(rendered.rglob("*.yaml"))):
        if index % SAMPLE_EVERY:
            continue
        env, name = path.parent.name, path.stem
        [app] = [a for a in _applications(corpus_copy, env) if a["metadata"]["name"] == name]
        ours = _keyed(list(yaml.safe_load_all(path.read_text())))
        theirs = _helm_objects(corpus_copy, app)
        assert set(ours) == set(theirs), (env, name, set(ours) ^ set(theirs))
        for key, obj in ours.items():
            assert obj == theirs[key], (env, name, key)
        compared += 1
    assert compared >= 10
