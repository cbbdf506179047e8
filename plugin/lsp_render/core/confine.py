"""Confinement: every path an engine reads stays inside the repository, and nothing is remote.

Kustomize and Helm are Go programs. They join a reference onto the directory
that names it and clean the result *textually* (``filepath.Join`` calls
``filepath.Clean``), and only then ask the kernel to open it, which follows
symbolic links. So ``link/../../X``, where ``link`` is a symlink to a deep
directory, is read by Go as ``../X`` from the kustomization, while a Python
``Path.resolve()`` would follow ``link`` first and land somewhere else. A path
is therefore judged twice here: the Go-cleaned text must stay inside the
repository, and so must that text with every symlink resolved.

References that name the network (``https://``, ``git@host:``,
``github.com/org/repo``, ``file://``...) are recognised by
:func:`remote_host`; the caller refuses them unless the operator's policy
names the host.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "HostCheck",
    "confined_path",
    "go_clean",
    "is_inside",
    "remote_host",
]

HostCheck = Callable[[str], bool]
"""Tells whether the operator's policy lets engines reach a host (``network.allowHosts``)."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# git@github.com:org/repo, user@host:path (scp-like git addresses).
_SCP = re.compile(r"^(?:[\w.+-]+@)?([\w-]+(?:\.[\w-]+)+):(?!//)")
_USER_AT = re.compile(r"^[\w.+-]+@([\w-]+(?:\.[\w-]+)*):")
# github.com/org/repo, gitlab.example.org/x: a first segment shaped like a host name.
_HOST_FIRST = re.compile(r"^([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?::\d+)?/")
# Go-getter and kustomize shorthands.
_SHORTHANDS = {"gh:": "github.com", "github:": "github.com", "gitlab:": "gitlab.com"}


def go_clean(path: str) -> str:
    """Clean ``path`` exactly as Go's ``filepath.Clean`` does on Unix.

    ``..`` removes the previous element textually (not following symlinks),
    ``.`` and empty elements go, ``..`` at the root stays at the root, and
    an empty result is ``.``. Unlike ``posixpath.normpath``, a leading ``//``
    becomes ``/``.
    """
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def is_inside(root: str, path: str) -> bool:
    """Tell whether the absolute, cleaned ``path`` is ``root`` or below it (text only)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def confined_path(root: Path, base: Path, entry: str) -> tuple[Path, str | None]:
    """Join ``entry`` onto ``base`` as Go does and judge the result against ``root``.

    Parameters
    ----------
    root
        The repository root (absolute, symlinks resolved).
    base
        The directory the reference is relative to (absolute; Kustomize and Helm
        use its symlink-free form, so pass it resolved).
    entry
        The reference as written.

    Returns
    -------
    tuple of (Path, str or None)
        The Go-cleaned path, and why it is refused (``None`` when it stays
        inside ``root`` both textually and with symlinks resolved).
    """
    text = go_clean(posixpath.join(str(base), entry))
    rootstr = str(root)
    if not is_inside(rootstr, text):
        return Path(text), "leaves the repository"
    try:
        real = os.path.realpath(text, strict=False)
    except (OSError, RuntimeError, ValueError):
        return Path(text), "cannot be resolved"
    if not is_inside(rootstr, real):
        return Path(text), "leaves the repository (symlink)"
    return Path(text), None


def remote_host(entry: str) -> str | None:
    """Return the host a reference would reach over the network, or None for a local path.

    Recognised: any ``scheme://`` URL (``http``, ``https``, ``ssh``, ``git``,
    ``file``: the host of ``file://`` is ``""`` and no policy allows it),
    scp-like git addresses (``git@github.com:org/repo``), ``git::`` and
    ``gh:`` shorthands, and paths whose first segment is a host name
    (``github.com/org/repo``), which Kustomize clones when no such local
    directory exists (the caller checks that first).
    """
    text = entry.strip()
    if text.startswith("git::"):
        text = text[len("git::") :]
    for prefix, host in _SHORTHANDS.items():
        if text.startswith(prefix) and not text.startswith(prefix + "//"):
            return host
    scheme = _SCHEME.match(text)
    if scheme is not None:
        if scheme.group(1).lower() == "file":
            return ""
        try:
            return (urlsplit(text).hostname or "").lower()
        except ValueError:
            return ""
    for pattern in (_USER_AT, _SCP, _HOST_FIRST):
        match = pattern.match(text)
        if match is not None:
            return match.group(1).lower()
    return None
