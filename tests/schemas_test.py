"""The committed JSON Schemas match the configuration models, and accept what the models accept."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lsp_render.config.schemas import SCHEMA_FILES, schemas

DOCS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def test_committed_schemas_are_generated_from_the_models() -> None:
    generated = schemas()
    assert set(generated) == set(SCHEMA_FILES)
    for name, schema in generated.items():
        committed = json.loads((DOCS / name).read_text())
        assert committed == schema, f"regenerate with python -m lsp_render.config.schemas ({name})"


def test_schema_names_every_documented_key() -> None:
    app = schemas()["lsp-render.schema.json"]
    assert set(app["properties"]) == {"kind", "helm", "kustomize", "plain", "secrets", "allowEmpty"}
    helm = app["$defs"]["HelmConfig"]
    assert {"chart", "releaseName", "valueFiles", "includeCRDs", "kubeVersion"} <= set(
        helm["properties"]
    )
    assert helm["additionalProperties"] is False
    repo = schemas()["lsp-render-repo.schema.json"]
    assert set(repo["properties"]) == {"applications", "environments", "helm", "overrides"}


def test_examples_use_only_schema_keys() -> None:
    app = schemas()["lsp-render.schema.json"]
    for config in (DOCS.parent.parent / "examples").glob("*/lsp-render.yaml"):
        data = yaml.safe_load(config.read_text())
        assert set(data) <= set(app["properties"]), config
