"""JSON Schemas of ``lsp-render.yaml`` and ``lsp-render-repo.yaml``, generated from the models.

Editors validate the YAML users write against them (for example with a
``# yaml-language-server: $schema=...`` comment). The committed copies in
``docs/schemas/`` are checked against the models by the tests; regenerate them with
``python -m lsp_render.config.schemas docs/schemas``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["SCHEMA_FILES", "schemas", "write_schemas"]

SCHEMA_FILES = {
    "lsp-render.schema.json": "lsp-render.yaml: per-application configuration",
    "lsp-render-repo.schema.json": "lsp-render-repo.yaml: repository-level configuration",
}


def schemas() -> dict[str, dict[str, Any]]:
    """Return each schema file's name and content (JSON Schema draft 2020-12)."""
    from lsp_render.config.app import AppConfig
    from lsp_render.config.repo import RepoConfigModel

    models: tuple[type[BaseModel], ...] = (AppConfig, RepoConfigModel)
    out: dict[str, dict[str, Any]] = {}
    for (name, title), model in zip(SCHEMA_FILES.items(), models, strict=True):
        schema = model.model_json_schema(by_alias=True)
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            **{k: v for k, v in schema.items() if k != "title"},
        }
    return out


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (sorted keys, two-space indent)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        sys.stdout.write(f"{written_path}\n")
