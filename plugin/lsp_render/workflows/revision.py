"""Check a git revision of the repository out into a private scratch directory.

``git archive`` streams the revision's tree, which is unpacked with tarfile's
``data`` filter (no links out, no devices, no absolute paths). The working
tree, the index and the repository's refs are never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.scratch import scratch_dir

__all__ = ["checkout_revision", "git_toplevel"]

_GIT_TIMEOUT = 120


def _git_binary() -> str:
    git = shutil.which("git")
    if git is None:
        msg = "git is not installed (needed for --against-revision)"
        raise InputError(msg)
    return git


def _git(args: list[str], cwd: Path, environ: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(
            [_git_binary(), *args],
            cwd=cwd,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        msg = f"git {args[0]} did not finish within {_GIT_TIMEOUT}s"
        raise RenderError(msg) from None
    if done.returncode != 0:
        raise _GitFailedError(done.stderr.strip().splitlines()[-1:] or [""])
    return done.stdout.strip()


class _GitFailedError(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "")


def git_toplevel(path: Path, environ: Mapping[str, str]) -> Path:
    """Return the top directory of the git work tree holding ``path``.

    Raises
    ------
    InputError
        When ``path`` is not inside a git work tree.
    """
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], path, environ)).resolve()
    except _GitFailedError:
        msg = f"{path}: not inside a git repository (needed for --against-revision)"
        raise InputError(msg) from None


def _resolve_commit(top: Path, revision: str, environ: Mapping[str, str]) -> str:
    if not revision or revision.startswith("-"):
        msg = f"--against-revision: '{revision}' is not a revision"
        raise InputError(msg)
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], top, environ)
    except _GitFailedError:
        msg = f"--against-revision: unknown revision '{revision}'"
        raise InputError(msg) from None


def _extract(top: Path, commit: str, dest: Path, environ: Mapping[str, str]) -> None:
    with subprocess.Popen(
        [_git_binary(), "archive", "--format=tar", commit],
        cwd=top,
        env=dict(environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                archive.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as exc:
            proc.kill()
            msg = f"git archive {commit[:12]}: cannot unpack ({type(exc).__name__})"
            raise RenderError(msg) from None
        _, stderr = proc.communicate(timeout=_GIT_TIMEOUT)
    if proc.returncode != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        msg = f"git archive {commit[:12]} failed: {last[0]}"
        raise RenderError(msg)


@contextmanager
def checkout_revision(
    top: Path, revision: str, environ: Mapping[str, str]
) -> Iterator[tuple[Path, str]]:
    """Unpack ``revision`` of the repository at ``top`` into a scratch directory.

    Parameters
    ----------
    top
        The git work tree's top directory (see :func:`git_toplevel`).
    revision
        Anything ``git rev-parse`` understands (branch, tag, sha, ``HEAD~2``).
    environ
        The environment git runs with.

    Yields
    ------
    tuple
        The unpacked tree (removed on exit) and the full commit id.

    Raises
    ------
    InputError
        When the revision does not exist.
    RenderError
        When ``git archive`` fails.
    """
    commit = _resolve_commit(top, revision, environ)
    with scratch_dir(prefix="lsp-render-rev-") as scratch:
        tree = scratch / "tree"
        tree.mkdir()
        _extract(top, commit, tree, environ)
        yield tree, commit
