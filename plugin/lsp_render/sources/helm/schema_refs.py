"""A chart's ``values.schema.json`` files may not make Helm fetch anything.

Helm validates values against ``values.schema.json`` of the chart and of
every subchart, and its JSON Schema library loads whatever a ``$ref`` (or a
``$schema`` it does not know) names: ``http://`` URLs with Helm's
User-Agent, ``file:///etc/...``, or a relative name, resolved against
``file:///values.schema.json``. Its error then quotes part of what it read.
So before any engine runs, every schema of the chart (subcharts in
``charts/``, as directories or archives, at any depth, and ``file://``
dependencies' sources) is read here, and a reference that is not a fragment
of the same document (``#/...``) is refused, unless it is an ``http(s)``
URL whose host the operator's policy allows.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lsp_render.core.confine import HostCheck, remote_host
from lsp_render.core.errors import InputError

__all__ = ["check_schemas"]

SCHEMA_FILE = "values.schema.json"
_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
# Meta-schemas the library embeds (never fetched); anything else in $schema would be.
_KNOWN_META = frozenset(
    f"{scheme}://json-schema.org/{draft}"
    for scheme in ("http", "https")
    for draft in (
        "schema",
        "draft-04/schema",
        "draft-06/schema",
        "draft-07/schema",
        "draft/2019-09/schema",
        "draft/2020-12/schema",
    )
)
_MAX_ARCHIVE_DEPTH = 8


def check_schemas(
    chart_dir: Path,
    *,
    chart: str,
    extra_dirs: tuple[Path, ...] = (),
    allow_host: HostCheck | None = None,
) -> None:
    """Refuse a chart whose schemas reference anything but their own fragments.

    Parameters
    ----------
    chart_dir
        The chart directory.
    chart
        The chart's name, for messages.
    extra_dirs
        Sources of ``file://`` dependencies (built into the chart before rendering).
    allow_host
        Tells whether the operator's policy allows an ``http(s)`` host.

    Raises
    ------
    InputError
        Naming the chart, the schema file and the reference.
    """
    for root in (chart_dir, *extra_dirs):
        for shown, text in _schemas_in_dir(root):
            _check_text(text, chart=chart, shown=shown, allow_host=allow_host)


def _schemas_in_dir(root: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (shown name, content) of every schema under ``root``, archives included."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        in_charts = directory.rsplit(os.sep, 1)[-1] == "charts"
        for name in sorted(files):  # a Path only for the few files that matter
            is_archive = in_charts and name.endswith((".tgz", ".tar.gz"))
            if name != SCHEMA_FILE and not is_archive:
                continue
            path = Path(directory) / name
            rel = path.relative_to(root.parent).as_posix()
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if is_archive:
                yield from _schemas_in_archive(data, rel, 0)
            else:
                yield rel, data


def _schemas_in_archive(data: bytes, shown: str, depth: int) -> Iterator[tuple[str, bytes]]:
    if depth > _MAX_ARCHIVE_DEPTH:
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = member.name.split("/")
                is_schema = parts[-1] == SCHEMA_FILE
                is_archive = (
                    len(parts) >= 2
                    and parts[-2] == "charts"
                    and parts[-1].endswith((".tgz", ".tar.gz"))
                )
                if not (is_schema or is_archive):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                content = handle.read()
                name = f"{shown}:{member.name}"
                if is_schema:
                    yield name, content
                else:
                    yield from _schemas_in_archive(content, name, depth + 1)
    except (tarfile.TarError, OSError, EOFError):
        return  # an unreadable archive: Helm reports it


def _check_text(text: bytes, *, chart: str, shown: str, allow_host: HostCheck | None) -> None:
    try:
        schema = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: Helm refuses it without loading anything
    for key, ref in _references(schema):
        if key == "$schema":
            if ref.rstrip("#") in _KNOWN_META:
                continue
        elif ref.startswith("#"):
            continue
        host = remote_host(ref)
        scheme = ref.split(":", 1)[0].lower() if "://" in ref else ""
        if host and scheme in ("http", "https") and allow_host is not None and allow_host(host):
            continue
        msg = (
            f"chart {chart}: {shown}: {key} '{_short(ref)}' is not a local fragment (#/...); "
            "refused: Helm would fetch it (an operator may allow a host with "
            "network.allowHosts in the policy)"
        )
        raise InputError(msg)


def _references(node: Any) -> Iterator[tuple[str, str]]:
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if (key in _REF_KEYS or key == "$schema") and isinstance(value, str):
                    yield key, value
                elif isinstance(value, dict | list):
                    pending.append(value)
        elif isinstance(item, list):
            pending.extend(value for value in item if isinstance(value, dict | list))


def _short(ref: str) -> str:
    one = " ".join(ref.split())
    return one if len(one) <= 120 else one[:117] + "..."
