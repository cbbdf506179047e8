"""Per-render scratch space: a private temporary directory, removed afterwards.

Argo CD runs many renders at once, so nothing here uses a fixed path. A
*mirror* is a copy of one directory of the repository placed at the same
relative position inside the scratch space, with every other entry on the way
up linked to the real repository, so that relative references (``../base``,
``file://../../charts/x``) resolve exactly as they would in place while the
repository itself is never written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["mirror", "scratch_dir"]

_IGNORED = shutil.ignore_patterns(".git")


@contextmanager
def scratch_dir(prefix: str = "lsp-render-") -> Iterator[Path]:
    """Create a private (0700) temporary directory and remove it on exit.

    The parent is ``TMPDIR`` (``/tmp`` in the sidecar, its own emptyDir).
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def mirror(repo_root: Path, target: Path, scratch: Path) -> Path:
    """Copy ``target`` (a directory inside ``repo_root``) into ``scratch`` as a mirror.

    Parameters
    ----------
    repo_root
        The repository root (absolute, resolved).
    target
        The directory to copy; must be inside ``repo_root``.
    scratch
        An empty scratch directory; the mirror's root is ``scratch / "repo"``.

    Returns
    -------
    Path
        The copy of ``target`` inside the mirror.
    """
    rel = target.relative_to(repo_root)
    root = scratch / "repo"
    root.mkdir(exist_ok=True)
    real = repo_root
    fake = root
    for part in rel.parts:
        for entry in sorted(child.name for child in real.iterdir()):
            if entry in {part, ".git"}:
                continue
            link = fake / entry
            if not link.exists() and not link.is_symlink():
                link.symlink_to(real / entry)
        real = real / part
        fake = fake / part
        fake.mkdir(exist_ok=True)
    shutil.copytree(real, fake, ignore=_IGNORED, symlinks=True, dirs_exist_ok=True)
    return fake
