"""The embedded engine: Helm's Go SDK in-process, through ``helm-python-sdk``.

``helm_python`` is imported inside the functions that need it, so a render that
does not use this engine never loads the 85 MB library. What a chart needs is
kept for the life of the process (render-all renders one chart for many
environments), keyed on the chart directory and a fingerprint of its files and
its ``file://`` dependencies': its name and ``kubeVersion``, and, for a chart
whose dependencies had to be built into a scratch copy, the chart as an
archive in memory. A chart whose ``charts/`` already holds every dependency
(the usual case after ``lsp-render init``) is loaded straight from its
directory, which costs the same as loading an archive and spares the
save-then-reload round trip. Every render loads its own chart: Helm's render
removes the subcharts its values disable from the loaded chart, exactly as
``helm template`` does before listing CRDs, so a loaded chart serves one
render only.

``Chart.render()`` has no parameter for the Kubernetes version or extra API
versions, but the native call behind it reads them from its options JSON
(``kube_version``, ``api_versions``, measured with helm-python-sdk 0.2.2,
which pyproject pins). :func:`render_stream` calls it directly.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.scratch import scratch_dir
from lsp_render.sources.helm.binary import engine_timeout
from lsp_render.sources.helm.capabilities import (
    check_kube_version_constraint,
    normalize_kube_version,
)
from lsp_render.sources.helm.dependencies import (
    ChartDependencies,
    built_chart,
    fingerprint,
    inspect_dependencies,
    missing_dependency_error,
)
from lsp_render.sources.helm.engine_child import call_engine, stop_engine_child
from lsp_render.sources.helm.output import CrdFile, assemble_stream
from lsp_render.sources.helm.values import (
    apply_set_values,
    ensure_json_values,
    load_values_file,
    merge_values,
    plain_values,
)

if TYPE_CHECKING:
    from lsp_render.sources.helm import HelmInputs

__all__ = [
    "build_in_place",
    "build_in_place_here",
    "clear_cache",
    "render_stream",
    "render_stream_here",
    "sdk_version",
]

_CACHE_SIZE = 64
_cache: OrderedDict[tuple[str, str], _LoadedChart] = OrderedDict()
_cache_lock = threading.Lock()


class _LoadedChart:
    """What a render needs to know of a chart, and where to load it from.

    ``archive`` is the chart as ``helm package`` would write it, dependencies
    included. A chart whose dependencies were built into a scratch copy is
    kept that way; one whose directory holds every dependency is loaded from
    the directory by each render and packed only if someone asks for it.
    """

    __slots__ = ("_archive", "chart_dir", "dependency_key", "kube_version_constraint", "name")

    def __init__(
        self,
        archive: bytes | None,
        chart_dir: Path,
        name: str,
        kube_version_constraint: str | None,
        dependency_key: str | None = None,
    ) -> None:
        self._archive = archive
        self.chart_dir = chart_dir
        self.name = name
        self.kube_version_constraint = kube_version_constraint
        # For a chart built with its file:// dependencies: their fingerprint too.
        self.dependency_key = dependency_key

    @property
    def archive(self) -> bytes:
        """The chart as a ``.tgz`` archive (packed on first use when read from its directory)."""
        if self._archive is None:
            with self.open(_helm()) as chart, scratch_dir(prefix="lsp-render-chart-") as scratch:
                self._archive = Path(chart.save(str(scratch))).read_bytes()
        return self._archive

    def open(self, helm: Any) -> Any:
        """Load a fresh copy of the chart (the caller closes it)."""
        try:
            if self._archive is not None:
                return helm.Chart.load_archive(self._archive)
            return helm.Chart.load(str(self.chart_dir))
        except helm.HelmError as exc:
            raise RenderError(f"chart {self.name}: {_one_line(exc)}") from exc


def sdk_version() -> str:
    """Return the installed helm-python-sdk version, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helm-python-sdk")
    except PackageNotFoundError:
        return "not installed"


def _helm() -> Any:
    try:
        import helm_python
    except ImportError as exc:
        raise RenderError(
            "no Helm engine: install the helm binary (or set LSP_RENDER_HELM) "
            f"or the helm-python-sdk package ({exc})"
        ) from exc
    return helm_python


def _one_line(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "detail", None) or exc).split())


def _dependency_build(helm: Any, chart_dir: Path) -> None:
    try:
        helm.dependency_build(str(chart_dir), skip_refresh=True)
    except helm.HelmError as exc:
        raise RenderError(
            f"chart {chart_dir.name}: helm dependency build failed: {_one_line(exc)}"
        ) from exc


def _load(chart_dir: Path, repo_root: Path) -> _LoadedChart:
    """Return what is known of the chart, from the cache or freshly loaded."""
    loaded, chart = _load_and_open(chart_dir, repo_root)
    if chart is not None:
        chart.close()
    return loaded


def _load_and_open(chart_dir: Path, repo_root: Path) -> tuple[_LoadedChart, Any | None]:
    """Return what is known of the chart and, on a cache miss, the chart just loaded.

    A render uses that chart rather than loading it a second time; the caller
    owns (and must close) it. Which dependencies ``charts/`` holds is read from
    the chart Helm loaded, not by opening each vendored archive once more.
    """
    helm = _helm()
    declared = inspect_dependencies(chart_dir, repo_root, vendored=(), check=False)
    key = (str(chart_dir), fingerprint(chart_dir, repo_root))
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and (
            cached.dependency_key is None
            or cached.dependency_key == fingerprint(chart_dir, repo_root, declared.local_dirs)
        ):
            _cache.move_to_end(key)
            return cached, None
        chart = _load_vendored(helm, chart_dir, repo_root, declared)
        archive: bytes | None = None
        dependency_key: str | None = None
        if chart is None:  # dependencies to build first, into a scratch copy
            deps = inspect_dependencies(chart_dir, repo_root)
            dependency_key = fingerprint(chart_dir, repo_root, deps.local_dirs)
            with built_chart(
                chart_dir, repo_root, deps, lambda path: _dependency_build(helm, path)
            ) as path:
                try:
                    with (
                        helm.Chart.load(str(path)) as built,
                        scratch_dir(prefix="lsp-render-chart-") as scratch,
                    ):
                        archive = Path(built.save(str(scratch))).read_bytes()
                    chart = helm.Chart.load_archive(archive)
                except helm.HelmError as exc:
                    raise RenderError(f"chart {deps.name}: {_one_line(exc)}") from exc
        try:
            metadata = chart.metadata
        except BaseException:
            chart.close()
            raise
        constraint = metadata.get("kubeVersion")
        name = str(metadata.get("name") or declared.name)
        loaded = _LoadedChart(archive, chart_dir, name, constraint, dependency_key)
        _cache[key] = loaded
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return loaded, chart


def _load_vendored(
    helm: Any, chart_dir: Path, repo_root: Path, declared: ChartDependencies
) -> Any | None:
    """Load the chart from its directory, or return None if a dependency is missing there."""
    try:
        chart = helm.Chart.load(str(chart_dir))
    except helm.HelmError as exc:
        # Our own checks name a broken archive in charts/ or a missing dependency better.
        error = missing_dependency_error(inspect_dependencies(chart_dir, repo_root))
        if error is not None:
            raise error from exc
        raise RenderError(f"chart {declared.name}: {_one_line(exc)}") from exc
    if not declared.declared:
        return chart
    try:
        names = {str(dep.get("name")) for dep in chart.dependencies}
        if inspect_dependencies(chart_dir, repo_root, vendored=names).missing:
            chart.close()
            return None
    except BaseException:
        chart.close()
        raise
    return chart


_PROBE_TEMPLATE = b"{{ .Capabilities.KubeVersion.Version }}"


@functools.cache
def _default_kube_version() -> str:
    """Return the Kubernetes version Helm's engine assumes without ``--kube-version``."""
    import io
    import tarfile

    helm = _helm()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in (
            ("probe/Chart.yaml", b"apiVersion: v2\nname: probe\nversion: 0.0.0\n"),
            ("probe/templates/version.txt", _PROBE_TEMPLATE),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with helm.Chart.load_archive(archive.getvalue()) as chart:
        rendered: dict[str, str] = chart.render({}, name="probe", namespace="default")
    return rendered["probe/templates/version.txt"].strip()


def clear_cache() -> None:
    """Forget every loaded chart (tests, long-running processes); the engine child goes too."""
    with _cache_lock:
        _cache.clear()
    stop_engine_child()


def _label(path: Path, repo_root: Path) -> str:
    try:
        return str(path.relative_to(repo_root))
    except ValueError:
        return str(path)


def compose_values(inputs: HelmInputs, chart: str) -> dict[str, Any]:
    """Values as ``helm template -f ... --set ...`` would compose them."""
    values: dict[str, Any] = {}
    for path in inputs.value_files:
        values = merge_values(values, load_values_file(path, label=_label(path, inputs.repo_root)))
    if inputs.values:
        values = merge_values(values, plain_values(inputs.values))
    return apply_set_values(values, inputs.set_values, chart=chart)


def render_stream(inputs: HelmInputs) -> str:
    """Render a chart in the engine child and return what ``helm template`` would print.

    The child (:mod:`.engine_child`) is killed on ``LSP_RENDER_ENGINE_TIMEOUT``,
    on SIGTERM and on any error while waiting.

    Raises
    ------
    InputError, RenderError
        As :func:`render_stream_here`; a RenderError on a timeout.
    """
    stream: str = call_engine(
        __name__,
        "render_stream_here",
        (inputs,),
        timeout=engine_timeout(),
        what=f"chart {inputs.chart_dir.name}",
    )
    return stream


def render_stream_here(inputs: HelmInputs) -> str:
    """Render a chart in this process and return what ``helm template`` would print.

    Raises
    ------
    InputError
        Bad value files, release name or kube version; dependencies outside
        the repository.
    RenderError
        Helm's template, values or load errors, missing dependencies, and
        rendered manifests that are not valid YAML.
    """
    helm = _helm()
    loaded, chart = _load_and_open(inputs.chart_dir, inputs.repo_root)
    if chart is None:
        chart = loaded.open(helm)
    with contextlib.closing(chart):
        return _render_loaded(helm, chart, loaded, inputs)


def _render_loaded(helm: Any, chart: Any, loaded: _LoadedChart, inputs: HelmInputs) -> str:
    values_json = ensure_json_values(compose_values(inputs, loaded.name), chart=loaded.name)
    try:
        helm.validate_release_name(inputs.release_name)
    except helm.HelmError as exc:
        raise InputError(f"invalid release name {inputs.release_name!r}: {_one_line(exc)}") from exc

    options: dict[str, Any] = {
        "name": inputs.release_name,
        "namespace": inputs.namespace,
        "is_install": True,
        "is_upgrade": False,
    }
    if inputs.kube_version:
        options["kube_version"] = normalize_kube_version(inputs.kube_version)
    if loaded.kube_version_constraint:
        check_kube_version_constraint(
            loaded.name,
            loaded.kube_version_constraint,
            options.get("kube_version") or _default_kube_version(),
        )
    if inputs.api_versions:
        options["api_versions"] = list(inputs.api_versions)

    from helm_python import _native

    try:
        raw = _native.call_string("helm_render", chart._raw(), values_json, json.dumps(options))
        # Read after rendering: the render dropped the subcharts the values disable.
        crds = [CrdFile(crd["filename"], crd["data"]) for crd in chart.crds]
    except helm.HelmError as exc:
        raise RenderError(f"chart {loaded.name}: {_one_line(exc)}") from exc
    files: dict[str, str] = json.loads(raw)
    return assemble_stream(
        files, crds, include_crds=inputs.include_crds, skip_tests=inputs.skip_tests
    )


def build_in_place(chart_dir: Path) -> None:
    """Run an offline ``helm dependency build`` in ``chart_dir`` (for ``lsp-render init``).

    Runs in the engine child, killed on ``LSP_RENDER_ENGINE_TIMEOUT`` and SIGTERM.
    """
    call_engine(
        __name__,
        "build_in_place_here",
        (chart_dir,),
        timeout=engine_timeout(),
        what=f"chart {chart_dir.name}",
    )


def build_in_place_here(chart_dir: Path) -> None:
    """Run an offline ``helm dependency build`` in ``chart_dir`` in this process."""
    _dependency_build(_helm(), chart_dir)
