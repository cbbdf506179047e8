"""secrets.resolveInValues: placeholders in Helm values are resolved before rendering.

AVP #332 (a values schema rejects the placeholder), #367 (``toJson`` escapes ``<`` and ``>``)
and #178 (secrets in values files): the chart sees the real value, so both work.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.cli_helpers import assert_failure, run

DATA = Path(__file__).resolve().parent / "data" / "resolve-values"
SECRET = 's3cr<et>&"quoted"'


def _app(tmp_path: Path, *, resolve: bool = True) -> Path:
    app = tmp_path / "app"
    shutil.copytree(DATA / "app", app)
    (tmp_path / ".git").mkdir()
    if not resolve:
        (app / "lsp-render.yaml").write_text("helm:\n  valueFiles: [values.yaml]\n")
    return app


def test_values_schema_and_to_json_see_the_secret(tmp_path: Path) -> None:
    app = _app(tmp_path)
    result = run(["render", str(app), "--secrets-file", str(DATA / "secrets.yaml")])
    assert result.code == 0, result.stderr
    (secret,) = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    config = json.loads(secret["stringData"]["config.json"])
    assert config == {"host": "db.internal", "port": 5432, "password": SECRET}
    assert secret["stringData"]["password"] == SECRET
    assert SECRET not in result.stderr


def test_without_resolve_in_values_the_schema_rejects_the_placeholder(tmp_path: Path) -> None:
    app = _app(tmp_path, resolve=False)
    result = run(["render", str(app), "--secrets-file", str(DATA / "secrets.yaml")])
    assert_failure(result, 1, "password")


def test_missing_secret_in_values_fails_naming_the_placeholder(tmp_path: Path) -> None:
    app = _app(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text("secret/data/api/other:\n  x: y\n")
    result = run(["render", str(app), "--secrets-file", str(other)])
    assert_failure(result, 1, "secret/data/api/db")


def test_masked_values_still_render(tmp_path: Path) -> None:
    app = _app(tmp_path)
    result = run(
        ["render", str(app), "--secrets-file", str(DATA / "secrets.yaml"), "--mask-secrets"]
    )
    assert result.code == 0, result.stderr
    assert SECRET not in result.stdout
    assert "********" in result.stdout
