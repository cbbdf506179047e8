"""A rendered chart's CRD files, read from its directory the way Helm's loader read them.

``helm template --include-crds`` prints ``Chart.CRDObjects()``: the files under
``crds/`` with a ``.yaml``, ``.yml`` or ``.json`` name (any case) of the chart,
then of each dependency the render kept, in the order the render left them. The
embedded engine lists them as JSON: for kube-prometheus-stack, 4.6 MB that Go
encodes and Python decodes after the render (~50 ms, and the child's peak
memory, +35-45 MB). The same bytes are on disk.

:func:`read_crds` reads them for a chart Helm loaded from its directory, following
its loader (``pkg/chart/v2/loader``): the walk in byte order of names, the root
``.helmignore`` applied to every path (with the default ``templates/.?*``), a
leading UTF-8 byte order mark dropped, subcharts in ``charts/`` other than those
named with a leading ``.`` or ``_``, each named by its ``Chart.yaml``, and
``<chart>/charts/<name>/crds/...`` as the name printed. Wherever it could be
less than sure it returns None and the caller asks Helm: a ``.helmignore`` rule
it does not read as Go does (negation, a class ``[``, an escape), a symbolic link or
anything else than a directory or regular file on the way, a subchart archive
(``.tgz``), a subchart with subcharts of its own, a dependency with an
``alias``, a subchart that is not found exactly once by name, a file that is
not UTF-8.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["read_crd_text", "read_crds"]

_BOM = b"\xef\xbb\xbf"
_MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
_DEFAULT_RULE = "templates/.?*"
_UNSURE_RULE = re.compile(r"[\[\\]|^!|\*\*|[\x1c-\x1f]")


class _UnsureError(Exception):
    """Raised where this reading might differ from Helm's: ask Helm."""


class _Rule:
    """One ``.helmignore`` pattern (no negation), as Helm's ``ignore.Rules`` applies it."""

    __slots__ = ("must_dir", "pattern", "whole_path")

    def __init__(self, rule: str) -> None:
        self.must_dir = rule.endswith("/")
        rule = rule.removesuffix("/")
        self.whole_path = "/" in rule
        rule = rule.removeprefix("/")
        # Go's filepath.Match without classes or escapes: * and ? stop at a slash.
        parts = ("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in rule)
        self.pattern = re.compile("".join(parts), re.DOTALL)

    def matches(self, path: str, is_dir: bool) -> bool:
        """Tell whether the rule ignores ``path`` (relative, slash-separated)."""
        if self.must_dir and not is_dir:
            return False
        name = path if self.whole_path else path.rpartition("/")[2]
        return self.pattern.fullmatch(name) is not None


def _rules(chart_dir: Path) -> list[_Rule]:
    """Parse the chart's ``.helmignore`` and Helm's default rule (:class:`_UnsureError`: unsure)."""
    lines = [_DEFAULT_RULE]
    path = chart_dir / ".helmignore"
    kind = _kind(path)
    if kind == "dir":
        raise _UnsureError
    if kind == "file":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _UnsureError from exc
        lines = [line.removesuffix("\r") for line in text.split("\n")] + lines
    rules: list[_Rule] = []
    for line in lines:
        rule = line.strip(" \t\n\v\f\r\x85\xa0")
        if not rule or rule.startswith("#"):
            continue
        if _UNSURE_RULE.search(rule) is not None or not rule.isascii():
            raise _UnsureError
        rules.append(_Rule(rule))
    return rules


def _ignored(rules: Sequence[_Rule], path: str, is_dir: bool) -> bool:
    return any(rule.matches(path, is_dir) for rule in rules)


def _kind(path: Path) -> str:
    """``"dir"``, ``"file"`` or ``"none"``; :class:`_UnsureError` for anything else (links too)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "none"
    except OSError as exc:
        raise _UnsureError from exc
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    raise _UnsureError


def _is_manifest(name: str) -> bool:
    """Helm's ``hasManifestExtension``: Go's ``filepath.Ext`` of the name, compared without case."""
    base = name.rpartition("/")[2]
    dot = base.rfind(".")
    if dot < 0:
        return False
    extension = base[dot:]
    if not extension.isascii():
        raise _UnsureError  # Go folds case by Unicode rules
    return extension.lower() in _MANIFEST_EXTENSIONS


def _names(directory: Path) -> list[str]:
    """List the names in ``directory`` in Go's byte order of their UTF-8 (str order)."""
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except OSError as exc:
        raise _UnsureError from exc


def _walk(rules: Sequence[_Rule], top: Path, relative: str) -> list[str]:
    """Helm's walk below ``top`` (named ``relative`` from the chart): files kept, in its order."""
    found: list[str] = []
    for name in _names(top):
        path = f"{relative}/{name}"
        kind = _kind(top / name)
        if _ignored(rules, path, kind == "dir"):
            continue
        if kind == "dir":
            found += _walk(rules, top / name, path)
        elif kind == "file":
            found.append(path)
    return found


def _chart_crds(rules: Sequence[_Rule], chart_dir: Path, prefix: str) -> list[tuple[str, Path]]:
    """List the manifests in ``chart_dir/crds`` (``prefix``: the walk's name of ``chart_dir``)."""
    crds_dir = f"{prefix}/crds" if prefix else "crds"
    kind = _kind(chart_dir / "crds")
    if kind != "dir" or _ignored(rules, crds_dir, True):
        return []
    start = len(prefix) + 1 if prefix else 0
    return [
        (path[start:], chart_dir / path[start:])
        for path in _walk(rules, chart_dir / "crds", crds_dir)
        if _is_manifest(path)
    ]


def _subcharts(rules: Sequence[_Rule], chart_dir: Path) -> dict[str, Path]:
    """Map the subchart directories Helm loaded from ``charts/`` by their ``Chart.yaml`` name."""
    from lsp_render.core.errors import InputError
    from lsp_render.sources.helm.dependencies import chart_yaml_name

    charts = chart_dir / "charts"
    if _kind(charts) != "dir" or _ignored(rules, "charts", True):
        return {}
    found: dict[str, Path] = {}
    for name in _names(charts):
        if name.startswith((".", "_")):
            continue
        kind = _kind(charts / name)
        if kind == "file" and name.endswith(".prov"):
            continue  # a provenance file: the chart's own file, not a subchart
        if kind != "dir":
            raise _UnsureError  # an archive, or what made Helm's load fail
        if _ignored(rules, f"charts/{name}", True):
            continue
        try:
            chart_name = chart_yaml_name(charts / name)
        except InputError as exc:
            raise _UnsureError from exc
        if chart_name is None or chart_name in found:
            raise _UnsureError
        found[chart_name] = charts / name
    return found


def _has_subcharts(rules: Sequence[_Rule], chart_dir: Path, prefix: str) -> bool:
    charts = chart_dir / "charts"
    if _kind(charts) != "dir" or _ignored(rules, f"{prefix}/charts", True):
        return False
    return any(not name.startswith((".", "_")) for name in _names(charts))


def read_crd_text(path: Path) -> str:
    """Return a CRD file's text as Helm prints it: a leading byte order mark dropped.

    Raises
    ------
    OSError
        It cannot be read.
    UnicodeDecodeError
        It is not UTF-8 (Helm's listing would show U+FFFD where it is not).
    """
    return path.read_bytes().removeprefix(_BOM).decode("utf-8")


def _text(path: Path) -> str:
    try:
        return read_crd_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise _UnsureError from exc


def read_crds(
    chart_dir: Path, name: str, metadata: dict[str, Any], dependencies: Sequence[str] | None
) -> list[tuple[str, str, str]] | None:
    """Return Helm's ``CRDObjects()`` of a chart loaded from ``chart_dir`` and rendered.

    Parameters
    ----------
    chart_dir
        The directory Helm loaded the chart from.
    name
        The chart's name (``Chart.yaml``'s, as Helm read it).
    metadata
        Helm's metadata of the chart (its ``dependencies`` say whether any has an alias).
    dependencies
        The names of the subcharts the render kept, in Helm's order; None for
        every subchart ``charts/`` holds (what a render may print, before it).

    Returns
    -------
    list of (str, str, str) or None
        The name printed (``chart/crds/x.yaml``, ``chart/charts/sub/crds/y.yaml``),
        the file's path relative to ``chart_dir`` and its text (:func:`read_crd_text`),
        in Helm's order; None when Helm must be asked (see the module's docstring).
    """
    declared = metadata.get("dependencies") or []
    if metadata.get("apiVersion") not in ("v1", "v2"):
        return None  # Helm 4 loads apiVersion v3 charts with another loader
    if any(not isinstance(dep, dict) or dep.get("alias") for dep in declared):
        return None
    if dependencies is not None and len(set(dependencies)) != len(dependencies):
        return None
    try:
        rules = _rules(chart_dir)
        files = [(f"{name}/{rel}", path) for rel, path in _chart_crds(rules, chart_dir, "")]
        wanted = dependencies is None or len(dependencies) > 0
        subcharts = _subcharts(rules, chart_dir) if wanted else {}
        for dependency in subcharts if dependencies is None else dependencies:
            sub_dir = subcharts.get(dependency)
            prefix = f"charts/{sub_dir.name}" if sub_dir is not None else ""
            if sub_dir is None or _has_subcharts(rules, sub_dir, prefix):
                return None
            files += [
                (f"{name}/charts/{dependency}/{rel}", path)
                for rel, path in _chart_crds(rules, sub_dir, prefix)
            ]
        return [
            (filename, path.relative_to(chart_dir).as_posix(), _text(path))
            for filename, path in files
        ]
    except _UnsureError:
        return None
