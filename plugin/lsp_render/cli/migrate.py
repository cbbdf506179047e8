"""The ``migrate`` command (registered by ``commands.py``): AVP Applications to lsp-render.

Thin: read each file, call :mod:`lsp_render.argocd.migrate`, print a unified diff
(or write the files with ``--write``), exit.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import click

from lsp_render.core.errors import InputError, RenderError

__all__ = ["migrate"]


def _read(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        msg = f"{path}: not a regular file (symbolic links are not rewritten)"
        raise InputError(msg)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read it ({type(exc).__name__})"
        raise InputError(msg) from None


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, keeping its mode."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(path.stat().st_mode & 0o7777)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@click.command("migrate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="Edit the files in place instead of printing a diff.")
@click.option(
    "--plugin-name",
    "plugin_names",
    multiple=True,
    help="Also migrate sources using this plugin name (an AVP sidecar under its own name).",
)
def migrate(*, files: tuple[Path, ...], write: bool, plugin_names: tuple[str, ...]) -> None:
    """Rewrite Argo CD Applications that use argocd-vault-plugin to use lsp-render.

    Prints a unified diff (nothing when there is nothing to migrate); with --write,
    edits the files in place. Comments, key order and quoting are kept. Whatever
    has no faithful lsp-render equivalent is reported (exit 1) and nothing is
    written or printed.
    """
    from lsp_render.argocd.migrate import migrate_text

    results = []
    problems: list[str] = []
    for path in files:
        original = _read(path)
        result = migrate_text(original, label=str(path), extra_names=plugin_names)
        problems.extend(result.problems)
        results.append((path, original, result))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RenderError(f"cannot migrate: {problems[0]}{more}", detail="; ".join(problems))
    for path, original, result in results:
        for note in result.notes:
            sys.stderr.write(f"lsp-render: note: {note}\n")
        if result.text == original:
            continue
        if write:
            _write(path, result.text)
            sys.stderr.write(f"lsp-render: migrated {path} ({', '.join(result.changed)})\n")
        else:
            sys.stdout.writelines(
                difflib.unified_diff(
                    original.splitlines(keepends=True),
                    result.text.splitlines(keepends=True),
                    f"a/{path}",
                    f"b/{path}",
                )
            )
    sys.stdout.flush()
