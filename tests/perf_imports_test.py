"""What a render imports: the cheap paths stay cheap (bench/ scenario 2, no timings here).

Each render runs in a fresh interpreter that reports ``sys.modules`` afterwards.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from lsp_render import pipeline
from lsp_render.config.app import HelmConfig
from tests.cli_helpers import EXAMPLES, base_env, modules_after

NETWORK_AND_ENGINES = {"hvac", "requests", "urllib3", "helm_python"}
CONFIG_LIBRARIES = {"pydantic", "jinja2", "ruamel", "ruamel.yaml"}


def _modules_after(args: list[str], home: Path) -> set[str]:
    code, modules = modules_after(args, home)
    assert code in (0, None), code
    return modules


def test_plain_render_imports_no_engine_network_or_config_library(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / ".git").mkdir()
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    modules = _modules_after(["render", str(app)], tmp_path)
    assert "lsp_render.sources.plain" in modules  # the probe did render
    assert not modules & (NETWORK_AND_ENGINES | CONFIG_LIBRARIES)
    assert "lsp_render.secrets.scan" in modules  # the stream was checked for placeholders
    assert "lsp_render.secrets.document" not in modules  # but nothing was parsed


def test_placeholders_from_a_secrets_file_need_no_policy_or_config_library(tmp_path: Path) -> None:
    """Without LSP_RENDER_POLICY the policy module (pydantic, Jinja2: ~60 ms) stays unloaded."""
    app = tmp_path / "app"
    app.mkdir()
    (app / ".git").mkdir()
    (app / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        "stringData:\n  p: <path:secret/data/a#p>\n"
    )
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("secret/data/a:\n  p: x\n")
    modules = _modules_after(["render", str(app), "--secrets-file", str(secrets)], tmp_path)
    assert "lsp_render.secrets.backends.file" in modules  # the probe did substitute
    assert not modules & (NETWORK_AND_ENGINES | CONFIG_LIBRARIES)
    assert "lsp_render.secrets.policy" not in modules


def test_helm_render_without_config_file_loads_no_config_models(tmp_path: Path) -> None:
    modules = _modules_after(["render", str(EXAMPLES / "helm"), "--env", "dev"], tmp_path)
    assert "lsp_render.sources.helm.engine_child" in modules  # the probe did render
    assert "helm_python" not in modules  # in the engine child only: never a forked Go runtime
    assert not modules & ({"hvac", "requests"} | CONFIG_LIBRARIES)


def test_render_with_config_file_still_loads_it(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / ".git").mkdir()
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    (app / "lsp-render.yaml").write_text("plain:\n  exclude: [cm.yaml]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lsp_render", "render", str(app)],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0  # every manifest excluded: the config was applied
    assert proc.stdout == ""


def test_helm_defaults_match_the_config_model() -> None:
    defaults = pipeline._HelmDefaults()
    model = HelmConfig()
    names = {f.name for f in dataclasses.fields(defaults)}
    assert names == set(HelmConfig.model_fields)
    for name in names:
        assert getattr(defaults, name) == getattr(model, name), name
