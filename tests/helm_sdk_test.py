"""helm-python-sdk is reached through one adapter (sources/helm/sdk.py) that holds its pin.

The embedded engine calls the SDK's private native render with options only the pinned
version is known to read, so: the pin in pyproject.toml, the adapter's
``PINNED_VERSION`` and the installed version must agree; no other module imports
``helm_python``; and a render on another installed version fails with a message that
says what to install (a real render in a subprocess whose ``sys.path`` finds another
version's metadata first).
"""

from __future__ import annotations

import ast
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from lsp_render.sources.helm import sdk
from tests.cli_helpers import REPO, assert_failure, base_env, run


def _pyproject_pin() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == sdk.DISTRIBUTION:
            specs = list(requirement.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", (
                f"pyproject.toml must pin {sdk.DISTRIBUTION} exactly (==), not {line!r}"
            )
            return specs[0].version
    raise AssertionError(f"{sdk.DISTRIBUTION} is not a dependency in pyproject.toml")


def test_pin_adapter_and_installed_version_agree() -> None:
    pinned = _pyproject_pin()
    assert pinned == sdk.PINNED_VERSION, (
        f"pyproject.toml pins {sdk.DISTRIBUTION}=={pinned} but sources/helm/sdk.py is built "
        f"for {sdk.PINNED_VERSION}: re-check sdk.render's native call against the new SDK, "
        "then change PINNED_VERSION"
    )
    installed = version(sdk.DISTRIBUTION)
    assert installed == pinned, (
        f"{sdk.DISTRIBUTION} {installed} is installed but {pinned} is pinned: "
        f"run pip install '{sdk.DISTRIBUTION}=={pinned}' (or -r requirements.lock)"
    )
    assert sdk.installed_version() == installed  # the adapter's cheap read agrees
    assert sdk.pin_problem(installed) is None


def test_only_the_adapter_imports_helm_python() -> None:
    package = REPO / "plugin" / "lsp_render"
    importers = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "helm_python" for name in names):
                importers.append(str(path.relative_to(package)))
    assert sorted(set(importers)) == ["sources/helm/sdk.py"]


def test_a_render_on_another_sdk_version_says_what_to_install(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "app"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    (app / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
    )
    # Another version's metadata, found before the installed one on sys.path.
    other = tmp_path / "other-sdk"
    dist_info = other / "helm_python_sdk-9.9.9.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: helm-python-sdk\nVersion: 9.9.9\n"
    )
    no_helm = tmp_path / "bin"  # no helm binary: the embedded engine renders
    no_helm.mkdir()
    env = base_env(tmp_path / "home")
    env["PATH"] = str(no_helm)

    good = run(["render", "apps/app"], cwd=repo, env=env)
    assert good.code == 0, good.stderr
    assert "name: cm" in good.stdout

    env["PYTHONPATH"] = f"{other}:{env['PYTHONPATH']}"
    result = run(["render", "apps/app"], cwd=repo, env=env)
    assert_failure(
        result, 1, "helm-python-sdk 9.9.9 is installed", f"=={sdk.PINNED_VERSION}", "helm binary"
    )
