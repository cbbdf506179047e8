"""Make a writable copy of the Phalanx corpus with its ``lsp-render-repo.yaml``.

The corpus (``../shared/corpus/phalanx`` beside the repository) is read-only;
benchmarks and ``.ci/corpus-check`` work on a copy in a temporary directory.

Usage: ``python bench/corpus.py [DEST]`` prints the copy's path.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["CORPUS", "REPO_CONFIG", "copy_corpus", "main"]

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus" / "phalanx"
REPO_CONFIG = HERE / "phalanx" / "lsp-render-repo.yaml"


def copy_corpus(dest: Path | None = None, source: Path = CORPUS) -> Path:
    """Copy the corpus to ``dest`` (default: a new temporary directory) and add the repo config.

    Returns the root of the copy (``dest/phalanx``).
    """
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no corpus here")
    parent = dest if dest is not None else Path(tempfile.mkdtemp(prefix="lsp-render-corpus-"))
    root = parent / "phalanx"
    shutil.copytree(source, root, symlinks=True)
    for path in (root, *root.rglob("*")):  # the corpus is read-only; the copy must not be
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    shutil.copyfile(REPO_CONFIG, root / "lsp-render-repo.yaml")
    return root


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else None
    if dest is not None:
        dest.mkdir(parents=True, exist_ok=True)
    print(copy_corpus(dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
