"""Write and delete below a directory without ever following a symbolic link out of it.

``render-all --output-dir rendered`` writes ``rendered/<env>/<app>.yaml``; a
repository (or an earlier run) may have left ``rendered/apps -> ../../victim``.
Every directory on the way is opened with ``O_NOFOLLOW`` relative to its
parent's descriptor, so a symlink anywhere below the root ends the write with
an :class:`~lsp_render.core.errors.InputError` instead of writing through it.
The file itself is created under a temporary name with ``O_EXCL`` and renamed
into place (a rename replaces a link, it never writes through it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePath

from lsp_render.core.errors import InputError

__all__ = ["check_no_links", "refuse_symlinks_out", "unlink_below", "write_below"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_dirs(root: Path, parts: tuple[str, ...], *, create: bool) -> int:
    """Open ``root/parts...`` one component at a time, never following a link; return its fd."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for i, part in enumerate(parts):
            if part in ("", ".", ".."):
                msg = f"{root}: refusing the path component '{part}'"
                raise InputError(msg)
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                shown = PurePath(root, *parts[: i + 1])
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    msg = f"{shown}: is a symbolic link or not a directory; refusing to write there"
                    raise InputError(msg) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_below(root: Path, rel: PurePath, data: bytes) -> None:
    """Write ``data`` to ``root/rel`` atomically, creating directories, following no link.

    Parameters
    ----------
    root
        The directory everything stays in (itself may be reached through links).
    rel
        The file's path relative to ``root``.
    data
        The content.

    Raises
    ------
    InputError
        When a directory on the way is a symbolic link (or not a directory).
    """
    *dirs, name = rel.parts
    root.mkdir(parents=True, exist_ok=True)
    fd = _open_dirs(root, tuple(dirs), create=True)
    tmp = f".{name}.{os.getpid()}.tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        out = os.open(tmp, flags, 0o644, dir_fd=fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        finally:
            os.close(out)
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=fd)
        os.close(fd)


def check_no_links(root: Path, rels: Sequence[PurePath], *, what: str) -> None:
    """Refuse, before anything is written, a directory on the way to a file that is a link.

    Parameters
    ----------
    root
        The output directory.
    rels
        The files that will be written, relative to ``root``.
    what
        Names the option for the message (``--output-dir``).

    Raises
    ------
    InputError
        Naming the first directory below ``root`` that is a symbolic link.
    """
    checked: set[PurePath] = set()
    for rel in rels:
        parent = PurePath()
        for part in rel.parts[:-1]:
            parent = parent / part
            if parent in checked:
                continue
            checked.add(parent)
            if (root / parent).is_symlink():
                shown = parent.as_posix()
                msg = f"{what} {root}: {shown} is a symbolic link; refusing to write there"
                raise InputError(msg)


def unlink_below(root: Path, rel: PurePath) -> None:
    """Remove ``root/rel`` if it is there; never through a link (then nothing is removed)."""
    *dirs, name = rel.parts
    try:
        fd = _open_dirs(root, tuple(dirs), create=False)
    except (InputError, OSError):
        return
    try:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def refuse_symlinks_out(directory: Path, sub: str, *, what: str) -> None:
    """Refuse ``directory/sub`` when it, or an entry in it, is a link that leaves ``directory``.

    ``helm dependency build`` writes archives into ``charts/`` and deletes the
    old ones there; through a link that would happen elsewhere.

    Raises
    ------
    InputError
        Naming ``what`` and the link.
    """
    base = os.path.realpath(directory)
    target = directory / sub
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    entries = [target]
    if stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(OSError):
            entries.extend(sorted(target.iterdir()))
    for entry in entries:
        if not entry.is_symlink():
            continue
        real = os.path.realpath(entry)
        if real != base and not real.startswith(base + os.sep):
            shown = f"{directory.name}/{entry.relative_to(directory).as_posix()}"
            msg = f"{what}: {shown} is a symbolic link out of the chart; refusing to write there"
            raise InputError(msg)
