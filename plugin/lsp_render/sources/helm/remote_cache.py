"""The chart archive cache shared by every process of the user (both transports).

``$XDG_CACHE_HOME/lsp-render/charts`` (else ``~/.cache/lsp-render/charts``): a 0700
directory of 0600 ``<sha256 of repo, name, version>.tgz`` files written by atomic rename.
A directory that is not ours (another owner, a link) disables the cache; a file that is
not ours, not regular, or too large is ignored. Only exact versions are cached, so an
archive never goes stale.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lsp_render.sources.helm.remote_archive import MAX_ARCHIVE
from lsp_render.sources.helm.remote_ref import RemoteChart

__all__ = ["cache_dir", "drop", "read_cached", "store", "usable_cache"]


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Return the chart cache directory (not created), or ``None`` without a home.

    ``$XDG_CACHE_HOME/lsp-render/charts``, else ``$HOME/.cache/lsp-render/charts``.
    """
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "lsp-render" / "charts"
    home = environ.get("HOME", "")
    if home and Path(home).is_absolute():
        return Path(home) / ".cache" / "lsp-render" / "charts"
    return None


def usable_cache(directory: Path | None) -> Path | None:
    """Create the cache directory 0700; ``None`` when it cannot be ours.

    Parameters
    ----------
    directory
        What :func:`cache_dir` returned.

    Returns
    -------
    Path or None
        The directory, owned by this user and 0700, or ``None``: no cache.
    """
    if directory is None:
        return None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        if stat.S_IMODE(info.st_mode) != 0o700:
            directory.chmod(0o700)
        if not os.access(directory, os.W_OK | os.X_OK):
            return None
    except OSError:
        return None
    return directory


def read_cached(cache: Path | None, chart: RemoteChart) -> bytes | None:
    """Return the cached archive of ``chart``, or ``None`` (no cache, absent, not ours, too big).

    Parameters
    ----------
    cache
        What :func:`usable_cache` returned.
    chart
        The chart.

    Returns
    -------
    bytes or None
        The archive as stored (not yet checked: :func:`.remote_archive.extract_chart` does).
    """
    if cache is None:
        return None
    try:
        fd = os.open(cache / f"{chart.key}.tgz", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return None
        if info.st_size > MAX_ARCHIVE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def store(cache: Path | None, chart: RemoteChart, data: bytes) -> None:
    """Keep a pulled archive (0600, atomic rename); a failure only skips the cache.

    Parameters
    ----------
    cache
        What :func:`usable_cache` returned.
    chart
        The chart.
    data
        Its archive, already unpacked once without complaint.
    """
    if cache is None:
        return
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".pull-", suffix=".tgz")  # 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(cache / f"{chart.key}.tgz")
    except OSError:
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def drop(cache: Path | None, chart: RemoteChart) -> None:
    """Forget a cached archive that did not unpack.

    Parameters
    ----------
    cache
        What :func:`usable_cache` returned.
    chart
        The chart.
    """
    if cache is not None:
        (cache / f"{chart.key}.tgz").unlink(missing_ok=True)
