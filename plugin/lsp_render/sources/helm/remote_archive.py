"""Unpacking a pulled chart archive safely: no links, no absolute paths, no ``..``, bounded size.

The archive must hold exactly one chart directory whose ``Chart.yaml`` names the chart
and version that were asked for.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zlib
from pathlib import Path

import yaml

from lsp_render.core.errors import RenderError
from lsp_render.sources.helm.remote_ref import RemoteChart

__all__ = ["MAX_ARCHIVE", "extract_chart"]

MAX_ARCHIVE = 100 * 1024 * 1024
"""Bytes a chart may take once unpacked (Helm's own limit on a decompressed chart)."""
_MAX_MEMBERS = 20000


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Apply tarfile's ``data`` filter and refuse every link (Helm never packages any)."""
    if member.islnk() or member.issym():
        msg = f"archive member '{member.name}' is a link"
        raise tarfile.FilterError(msg)
    if member.name.startswith("/"):  # the data filter would only strip the slash
        msg = f"archive member '{member.name}' has an absolute path"
        raise tarfile.FilterError(msg)
    return tarfile.data_filter(member, dest)


def extract_chart(data: bytes, target: Path, chart: RemoteChart) -> Path:
    """Unpack a chart archive safely into ``target`` (created) and return the chart directory.

    Parameters
    ----------
    data
        The ``.tgz`` archive.
    target
        A directory that does not exist yet.
    chart
        What the archive must hold (its ``Chart.yaml`` must give this name and version).

    Returns
    -------
    Path
        ``target/<name>``.

    Raises
    ------
    RenderError
        When the archive is unreadable, too large, holds absolute paths,
        ``..``, links or devices, or is not a chart of that name and version;
        ``target`` is removed again.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, mode=0o700)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            _check_members(members)
            tar.extractall(target, filter=_safe_member)  # noqa: S202 - filtered
        return _chart_root(target, chart)
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        msg = f"{chart.describe()}: refusing the chart archive: {reason}"
        raise RenderError(msg) from None


def _check_members(members: list[tarfile.TarInfo]) -> None:
    if len(members) > _MAX_MEMBERS:
        msg = f"more than {_MAX_MEMBERS} members"
        raise ValueError(msg)
    if sum(m.size for m in members if m.isfile()) > MAX_ARCHIVE:
        msg = f"more than {MAX_ARCHIVE // (1024 * 1024)} MiB once unpacked"
        raise ValueError(msg)


def _chart_root(target: Path, chart: RemoteChart) -> Path:
    tops = sorted(target.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        msg = "not a chart archive (it must hold one top-level chart directory)"
        raise ValueError(msg)
    root = tops[0]
    try:
        metadata = yaml.safe_load((root / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        metadata = None
    if not isinstance(metadata, dict):
        msg = f"no readable {root.name}/Chart.yaml"
        raise ValueError(msg)
    name = str(metadata.get("name", ""))
    version = str(metadata.get("version", ""))
    if name != chart.name or version.removeprefix("v") != chart.version.removeprefix("v"):
        msg = f"its Chart.yaml is {name or '?'} version {version or '?'}"
        raise ValueError(msg)
    return root
