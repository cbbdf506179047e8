"""docs/architecture.md maps every room: a folder added without a line there fails here.

The rooms are read from the folders (every package directory under
``plugin/lsp_render``, nested ones included); the doc's rooms are the first cells of
its "Rooms" table. Modules are not listed one by one: the doc describes rooms.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "plugin" / "lsp_render"
DOC = ROOT / "docs" / "architecture.md"


def rooms_on_disk(package: Path = PACKAGE) -> set[str]:
    """Every subpackage of ``package``, as ``room/`` or ``room/sub/``."""
    return {
        path.parent.relative_to(package).as_posix() + "/"
        for path in package.rglob("__init__.py")
        if path.parent != package and "__pycache__" not in path.parts
    }


def rooms_in_doc(text: str) -> set[str]:
    """The rooms the doc's table names: rows that start with a backquoted ``folder/``."""
    return set(re.findall(r"^\|\s*`([a-z0-9_]+(?:/[a-z0-9_]+)*/)`\s*\|", text, re.MULTILINE))


def test_every_room_has_a_line_and_every_line_a_room() -> None:
    on_disk = rooms_on_disk()
    in_doc = rooms_in_doc(DOC.read_text())
    missing = sorted(on_disk - in_doc)
    assert not missing, f"rooms without a row in docs/architecture.md: {missing}"
    gone = sorted(in_doc - on_disk)
    assert not gone, f"docs/architecture.md names rooms that do not exist: {gone}"


def test_a_new_folder_without_a_line_is_noticed(tmp_path: Path) -> None:
    package = tmp_path / "lsp_render"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text("")
    (package / "kernel" / "deep").mkdir(parents=True)
    (package / "kernel" / "__init__.py").write_text("")
    (package / "kernel" / "deep" / "__init__.py").write_text("")
    assert rooms_on_disk(package) == {"cli/", "kernel/", "kernel/deep/"}
    doc = "| Room | Owns |\n|---|---|\n| `cli/` | the CLI |\n| `kernel/` | x |\nsee `docs/`\n"
    assert rooms_on_disk(package) - rooms_in_doc(doc) == {"kernel/deep/"}
