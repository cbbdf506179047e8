"""A chart's dependencies: which are declared, which are vendored, where ``file://`` ones live.

Helm's CLI refuses to render a chart whose ``Chart.yaml`` declares a
dependency that ``charts/`` does not hold (``CheckDependencies``); the embedded
engine would silently render without it, so lsp-render checks first. Local
(``file://``) dependencies are built offline into a scratch copy of the chart
(:func:`lsp_render.core.scratch.mirror`); anything else must be vendored.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import yaml

from lsp_render.core.confine import confined_path
from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.memo import TextMemo
from lsp_render.core.scratch import mirror, scratch_dir
from lsp_render.core.yamlfile import yaml_error_line
from lsp_render.sources.helm.values import load_yaml_first_document

__all__ = [
    "ChartDependencies",
    "Dependency",
    "built_chart",
    "chart_yaml_name",
    "fingerprint",
    "inspect_dependencies",
    "missing_dependency_error",
    "read_chart_yaml",
]

_FILE_SCHEME = "file://"


@dataclass(frozen=True, slots=True)
class Dependency:
    """One entry of ``Chart.yaml``'s ``dependencies``.

    Attributes
    ----------
    name
        The chart's name (what ``charts/`` must hold).
    repository
        As written (``file://../x``, ``https://...``, ``oci://...`` or ``""``).
    local_path
        For ``file://`` dependencies, the resolved directory (inside the repository).
    problem
        Why a ``file://`` source cannot be used (outside the repository, not a
        chart); an error only if the dependency has to be built from it.
    """

    name: str
    repository: str
    local_path: Path | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ChartDependencies:
    """What a chart declares and what it is missing.

    Attributes
    ----------
    name
        The chart's name, from ``Chart.yaml``.
    declared
        Every declared dependency, in order.
    missing
        The declared dependencies that ``charts/`` does not hold.
    """

    name: str
    declared: tuple[Dependency, ...]
    missing: tuple[Dependency, ...]

    @property
    def local_dirs(self) -> tuple[Path, ...]:
        """Directories of every ``file://`` dependency."""
        return tuple(dep.local_path for dep in self.declared if dep.local_path is not None)


_PARSED: TextMemo[str, Any] = TextMemo(1 << 20)  # characters of Chart.yaml held


def _read_yaml(path: Path, label: str) -> Any:
    """Parse a chart's ``Chart.yaml`` (or ``requirements.yaml``); None when there is none.

    What a text parses to is kept per process, keyed by the text itself (never
    stale): a render reads its chart's and subcharts' ``Chart.yaml`` several
    times, and render-all renders each chart for every environment. The result
    is shared: callers only read it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{label}: cannot read: {exc}") from exc
    known = _PARSED.get(text)
    if known is not None:
        return known
    try:
        data = load_yaml_first_document(text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f" at line {line}" if line is not None else ""
        raise InputError(f"{label}: invalid YAML{where}") from exc
    _PARSED.put(text, data)
    return data


def read_chart_yaml(chart_dir: Path) -> dict[str, Any] | None:
    """Return ``chart_dir/Chart.yaml`` parsed (shared: read it only), or None if not a mapping.

    Raises
    ------
    InputError
        An unreadable or malformed ``Chart.yaml``.
    """
    data = _read_yaml(chart_dir / "Chart.yaml", f"{chart_dir.name}/Chart.yaml")
    return data if isinstance(data, dict) else None


def chart_yaml_name(chart_dir: Path) -> str | None:
    """Return the ``name`` in ``chart_dir/Chart.yaml``; None when there is no such string.

    Raises
    ------
    InputError
        An unreadable or malformed ``Chart.yaml``.
    """
    data = read_chart_yaml(chart_dir)
    name = data.get("name") if data is not None else None
    return name if isinstance(name, str) else None


def _chart_metadata(chart_dir: Path) -> dict[str, Any]:
    data = _read_yaml(chart_dir / "Chart.yaml", f"{chart_dir.name}/Chart.yaml")
    if not isinstance(data, dict):
        raise InputError(f"{chart_dir.name}/Chart.yaml: not a chart (no mapping with a name)")
    return data


def _declared(chart_dir: Path, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    deps = metadata.get("dependencies")
    if deps is None and str(metadata.get("apiVersion", "")) == "v1":
        requirements = _read_yaml(
            chart_dir / "requirements.yaml", f"{chart_dir.name}/requirements.yaml"
        )
        deps = requirements.get("dependencies") if isinstance(requirements, dict) else None
    if deps is None:
        return []
    if not isinstance(deps, list) or not all(isinstance(d, dict) for d in deps):
        raise InputError(f"{chart_dir.name}/Chart.yaml: dependencies must be a list of mappings")
    return deps


def _vendored_names(chart_dir: Path) -> set[str]:
    """Names of the charts ``charts/`` holds, as directories or ``.tgz`` archives."""
    names: set[str] = set()
    charts = chart_dir / "charts"
    if not charts.is_dir():
        return names
    for entry in sorted(charts.iterdir()):
        if entry.is_dir():
            data = _read_yaml(entry / "Chart.yaml", f"charts/{entry.name}/Chart.yaml")
            if isinstance(data, dict) and data.get("name"):
                names.add(str(data["name"]))
        elif entry.suffix == ".tgz" or entry.name.endswith(".tar.gz"):
            name = _archive_chart_name(entry)
            if name:
                names.add(name)
    return names


def _archive_chart_name(archive: Path) -> str | None:
    import tarfile  # only charts that vendor archives need it

    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is None:
                        return None
                    data = load_yaml_first_document(handle.read().decode("utf-8"))
                    return str(data["name"]) if isinstance(data, dict) and "name" in data else None
    except (OSError, tarfile.TarError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RenderError(f"charts/{archive.name}: not a readable chart archive: {exc}") from exc
    return None


def _resolve_local(chart_dir: Path, real: tuple[Path, Path], name: str, repository: str) -> Path:
    """Find a ``file://`` dependency as Helm does (joined, cleaned textually, then opened).

    ``real`` is the repository root and the chart directory, symlinks resolved
    (once for all the chart's dependencies).
    """
    raw = repository[len(_FILE_SCHEME) :]
    root, chart = real
    target, problem = confined_path(root, chart, raw)
    if problem is not None:
        raise InputError(
            f"{chart_dir.name}/Chart.yaml: dependency {name} ({repository}) "
            "is outside the repository"
        )
    resolved = Path(os.path.realpath(target))
    if not (resolved / "Chart.yaml").is_file():
        raise InputError(
            f"{chart_dir.name}/Chart.yaml: dependency {name} ({repository}) "
            "is not a chart directory"
        )
    return resolved


def inspect_dependencies(
    chart_dir: Path,
    repo_root: Path,
    *,
    vendored: Collection[str] | None = None,
    check: bool = True,
) -> ChartDependencies:
    """Read a chart's declared dependencies and find the ones ``charts/`` lacks.

    Parameters
    ----------
    chart_dir
        The chart (absolute, inside ``repo_root``).
    repo_root
        The repository root; ``file://`` dependencies must resolve inside it.
    vendored
        The names of the charts ``charts/`` holds, when the caller knows them
        already (Helm's loader lists them); read from ``charts/`` otherwise.
    check
        Raise for a missing ``file://`` dependency whose source is unusable
        (False: only list the dependencies and their problems).

    Returns
    -------
    ChartDependencies
        Declared and missing dependencies.

    Raises
    ------
    InputError
        When ``Chart.yaml`` is malformed or a missing ``file://`` dependency
        leaves the repository or is not a chart.
    """
    metadata = _chart_metadata(chart_dir)
    declared: list[Dependency] = []
    real: tuple[Path, Path] | None = None
    for entry in _declared(chart_dir, metadata):
        name = str(entry.get("name") or "")
        repository = str(entry.get("repository") or "")
        local, problem = None, None
        if repository.startswith(_FILE_SCHEME):
            if real is None:
                real = (Path(os.path.realpath(repo_root)), Path(os.path.realpath(chart_dir)))
            try:
                local = _resolve_local(chart_dir, real, name, repository)
            except InputError as exc:
                problem = exc.message
        declared.append(Dependency(name, repository, local, problem))
    if vendored is None:
        vendored = _vendored_names(chart_dir) if declared else set()
    missing = tuple(dep for dep in declared if dep.name not in vendored)
    if check:
        # A dependency charts/ already holds is never read from its source (a packaged
        # remote chart keeps its file:// lines): only a missing one must be usable.
        for dep in missing:
            if dep.problem is not None:
                raise InputError(dep.problem)
    return ChartDependencies(str(metadata.get("name") or chart_dir.name), tuple(declared), missing)


def missing_dependency_error(deps: ChartDependencies) -> RenderError | None:
    """Return the error for missing dependencies that cannot be built offline, if any."""
    remote = [dep for dep in deps.missing if dep.local_path is None]
    if not remote:
        return None
    names = ", ".join(f"{dep.name} ({dep.repository or 'no repository'})" for dep in remote)
    return RenderError(
        f"chart {deps.name}: dependencies found in Chart.yaml but missing in charts/: {names}; "
        "lsp-render never downloads charts (`lsp-render init` builds only file:// "
        "dependencies): vendor each one into charts/ as its chart archive "
        "(<name>-<version>.tgz) or unpacked directory, and commit it"
    )


def _walk_files(root: Path, repo_root: Path) -> Iterator[tuple[str, int, int]]:
    """Yield (path, size, mtime) of every file under ``root``, links followed but checked."""
    real_root = str(repo_root.resolve())
    seen: set[str] = set()
    pending = [str(root)]
    while pending:
        directory = pending.pop()
        real = os.path.realpath(directory)
        if real in seen:  # a link back to a directory already walked
            continue
        seen.add(real)
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name == ".git":
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([target, real_root]) != real_root:
                        shown = os.path.relpath(entry.path, root.parent)
                        raise InputError(f"{shown}: symbolic link leaves the repository")
                if entry.is_dir():
                    pending.append(entry.path)
                elif entry.is_file():
                    stat = entry.stat()
                    yield (entry.path, stat.st_size, stat.st_mtime_ns)


def fingerprint(chart_dir: Path, repo_root: Path, extra_dirs: tuple[Path, ...] = ()) -> str:
    """Identify a chart's files and its local dependencies' cheaply (names, sizes, times).

    The result is the listing itself rather than a digest of it: a key compared
    within one process needs no hash function (hashlib alone costs a render
    several milliseconds of start-up), and equal keys mean equal listings.

    Raises
    ------
    InputError
        When a symbolic link in them points outside the repository.
    """
    lines: list[str] = []
    for root in (chart_dir, *extra_dirs):
        lines.append(f"\0root {root}")
        lines.extend(repr(entry) for entry in _walk_files(root, repo_root))
    return "\n".join(lines)


def _reach(root: Path, chart: Path, deps: ChartDependencies) -> set[PurePath]:
    """Return what a dependency build of ``chart`` reads outside it: each ``file://`` source.

    Helm joins the ``file://`` path onto the chart's directory as text; the
    resolved directory is named too (they differ when the repository holds
    symlinks). Relative to ``root``.
    """
    reach: set[PurePath] = set()
    for dep in deps.missing:
        if dep.local_path is None:
            continue
        text, _ = confined_path(root, chart, dep.repository[len(_FILE_SCHEME) :])
        for path in (text, dep.local_path):
            with contextlib.suppress(ValueError):
                reach.add(PurePath(path).relative_to(root))
    return reach


@contextmanager
def built_chart(
    chart_dir: Path,
    repo_root: Path,
    deps: ChartDependencies,
    build: Callable[[Path], None],
) -> Iterator[Path]:
    """Yield a chart directory that holds every declared dependency.

    With nothing missing this is ``chart_dir`` itself. Otherwise the chart is
    mirrored into a private scratch directory (so relative ``file://`` paths
    still resolve), ``build`` (an offline ``helm dependency build``) runs on
    the copy, and the copy is yielded; the repository is never written.

    Raises
    ------
    RenderError
        When a missing dependency is not ``file://``, or the build fails or
        leaves a dependency missing.
    """
    error = missing_dependency_error(deps)
    if error is not None:
        raise error
    if not deps.missing:
        yield chart_dir
        return
    with scratch_dir(prefix="lsp-render-helm-") as scratch:
        root, chart = repo_root.resolve(), chart_dir.resolve()
        copy = mirror(root, chart, scratch, reach=_reach(root, chart, deps))
        charts = copy / "charts"
        if charts.is_symlink():
            target = charts.resolve()
            charts.unlink()
            shutil.copytree(target, charts, symlinks=True)
        build(copy)
        vendored = _vendored_names(copy)
        still_missing = [dep.name for dep in deps.declared if dep.name not in vendored]
        if still_missing:
            raise RenderError(
                f"chart {deps.name}: helm dependency build left dependencies missing: "
                + ", ".join(still_missing)
            )
        yield copy
