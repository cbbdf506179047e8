"""The architecture is checked, not only drawn: cli -> workflows -> pipeline -> sources/secrets.

An inner layer never imports an outer one (lazy imports inside functions included), so
the Helm and Kustomize sources and the secret resolution stay usable without the CLI, and
data flows one way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "plugin" / "lsp_render"

# Outermost first. A module may import from its own layer and any layer after it.
# Entries name a room (``cli``) or one module of a room (``argocd.request``).
LAYERS: list[set[str]] = [
    {"cli", "__main__"},
    {"workflows"},
    {"argocd.parameters", "argocd.request"},
    {"pipeline"},
    {"sources", "secrets"},
]


def _layer_of(module: str) -> int | None:
    for index, layer in enumerate(LAYERS):
        if any(module == entry or module.startswith(entry + ".") for entry in layer):
            return index
    return None  # core/, config/, argocd.env, detect: imported by anyone


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("lsp_render."):
                found.add(node.module.removeprefix("lsp_render."))
            elif node.module == "lsp_render":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("lsp_render.")
                for alias in node.names
                if alias.name.startswith("lsp_render.")
            )
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_an_outer_layer(path: Path) -> None:
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = _layer_of(module)
    for imported in _imports(path):
        target = _layer_of(imported)
        if target is None:
            continue
        if own is None:
            pytest.fail(f"core module {module} imports {imported} (layer {target})")
        assert target >= own, f"{module} (layer {own}) imports outer {imported} (layer {target})"


def test_sources_and_secrets_do_not_import_each_other() -> None:
    for path in (PACKAGE / "sources").rglob("*.py"):
        assert not any(i.startswith("secrets") for i in _imports(path)), path
    for path in (PACKAGE / "secrets").rglob("*.py"):
        assert not any(i.startswith("sources") for i in _imports(path)), path
