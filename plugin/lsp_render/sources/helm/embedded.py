"""The embedded engine: Helm's Go SDK in-process, through ``helm-python-sdk``.

Every call into the SDK goes through :mod:`.sdk`, which imports ``helm_python`` on
first use, so a render that does not use this engine never loads the 85 MB
library. What a chart needs is
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

:func:`render_stream` passes the Kubernetes version and extra API versions
through :func:`.sdk.render`, which holds the SDK version pin.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import InputError, RenderError
from lsp_render.core.manifests import Document
from lsp_render.core.scratch import scratch_dir
from lsp_render.sources.helm import sdk
from lsp_render.sources.helm.binary import engine_timeout
from lsp_render.sources.helm.capabilities import (
    check_kube_version_constraint,
    normalize_kube_version,
)
from lsp_render.sources.helm.crd_files import read_crds
from lsp_render.sources.helm.crd_prep import CrdPreparation, crd_documents, crd_text
from lsp_render.sources.helm.dependencies import (
    ChartDependencies,
    built_chart,
    fingerprint,
    inspect_dependencies,
    missing_dependency_error,
)
from lsp_render.sources.helm.engine_child import (
    TextParts,
    call_engine,
    child_in_use,
    retire_one_shot,
    start_engine_child,
    stop_engine_child,
)
from lsp_render.sources.helm.output import CrdFile, Release, crd_section, stream_documents
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
    "render_documents",
    "render_parts_here",
    "render_stream",
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

    __slots__ = (
        "_archive",
        "chart_dir",
        "dependency_key",
        "has_crds",
        "kube_version_constraint",
        "metadata",
        "name",
    )

    def __init__(
        self,
        archive: bytes | None,
        chart_dir: Path,
        name: str,
        kube_version_constraint: str | None,
        *,
        dependency_key: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._archive = archive
        self.chart_dir = chart_dir
        self.name = name
        self.kube_version_constraint = kube_version_constraint
        # For a chart built with its file:// dependencies: their fingerprint too.
        self.dependency_key = dependency_key
        # Whether the whole chart (every subchart present) has a crds/ file, learnt when
        # the chart is rendered a second time (render-all): a render of a chart with
        # none need not ask Helm (about 1 ms of Go each). None: not known yet.
        self.has_crds: bool | None = None
        self.metadata = metadata or {}  # Helm's reading of Chart.yaml

    @property
    def from_directory(self) -> bool:
        """Whether :meth:`open` loads the chart from :attr:`chart_dir` (its files as they are)."""
        return self._archive is None

    @property
    def archive(self) -> bytes:
        """The chart as a ``.tgz`` archive (packed on first use when read from its directory)."""
        if self._archive is None:
            with (
                contextlib.closing(self.open()) as chart,
                scratch_dir(prefix="lsp-render-chart-") as scratch,
            ):
                try:
                    self._archive = sdk.save_chart(chart, scratch).read_bytes()
                except sdk.SdkError as exc:
                    raise RenderError(f"chart {self.name}: {exc.message}") from exc
        return self._archive

    def open(self) -> sdk.Chart:
        """Load a fresh copy of the chart (the caller closes it)."""
        try:
            if self._archive is not None:
                return sdk.load_archive(self._archive)
            return sdk.load_chart(self.chart_dir)
        except sdk.SdkError as exc:
            raise RenderError(f"chart {self.name}: {exc.message}") from exc


def _dependency_build(chart_dir: Path) -> None:
    try:
        sdk.dependency_build(chart_dir)
    except sdk.SdkError as exc:
        raise RenderError(
            f"chart {chart_dir.name}: helm dependency build failed: {exc.message}"
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
        chart = _load_vendored(chart_dir, repo_root, declared)
        archive: bytes | None = None
        dependency_key: str | None = None
        if chart is None:  # dependencies to build first, into a scratch copy
            deps = inspect_dependencies(chart_dir, repo_root)
            dependency_key = fingerprint(chart_dir, repo_root, deps.local_dirs)
            with built_chart(chart_dir, repo_root, deps, _dependency_build) as path:
                try:
                    with (
                        contextlib.closing(sdk.load_chart(path)) as built,
                        scratch_dir(prefix="lsp-render-chart-") as scratch,
                    ):
                        archive = sdk.save_chart(built, scratch).read_bytes()
                    chart = sdk.load_archive(archive)
                except sdk.SdkError as exc:
                    raise RenderError(f"chart {deps.name}: {exc.message}") from exc
        try:
            metadata = sdk.chart_metadata(chart)
        except BaseException:
            chart.close()
            raise
        constraint = metadata.get("kubeVersion")
        name = str(metadata.get("name") or declared.name)
        loaded = _LoadedChart(
            archive, chart_dir, name, constraint, dependency_key=dependency_key, metadata=metadata
        )
        _cache[key] = loaded
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return loaded, chart


def _has_crds(chart: sdk.Chart) -> bool:
    """Tell whether a chart just loaded (no subchart dropped yet) holds any CRD file.

    A render drops only the subcharts its values disable, so a chart with none
    here has none after any render. When Helm cannot list them, every render
    asks it again and reports what it says. Asked on a chart's second render
    only: ``lsp-render render`` renders once, and listing kube-prometheus-stack's
    5 MB of CRDs costs about 40 ms.
    """
    try:
        return bool(sdk.chart_crds(chart))
    except sdk.SdkError:
        return True


def _load_vendored(
    chart_dir: Path, repo_root: Path, declared: ChartDependencies
) -> sdk.Chart | None:
    """Load the chart from its directory, or return None if a dependency is missing there."""
    try:
        chart = sdk.load_chart(chart_dir)
    except sdk.SdkError as exc:
        # Our own checks name a broken archive in charts/ or a missing dependency better.
        error = missing_dependency_error(inspect_dependencies(chart_dir, repo_root))
        if error is not None:
            raise error from exc
        raise RenderError(f"chart {declared.name}: {exc.message}") from exc
    if not declared.declared:
        return chart
    try:
        names = sdk.dependency_names(chart)
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

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in (
            ("probe/Chart.yaml", b"apiVersion: v2\nname: probe\nversion: 0.0.0\n"),
            ("probe/templates/version.txt", _PROBE_TEMPLATE),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with contextlib.closing(sdk.load_archive(archive.getvalue())) as chart:
        rendered = sdk.render(chart, "{}", {"name": "probe", "namespace": "default"})
    return rendered["probe/templates/version.txt"].strip()


def clear_cache() -> None:
    """Forget every loaded chart.

    Kept for tests on purpose: the cache lives as long as the process and its key
    is a cheap listing of names, sizes and times, so a test that rewrites a chart
    file with the same size within one clock tick would otherwise be served the
    chart an earlier test loaded (tests/helm_fixtures.py clears it around each
    embedded-engine test). A render is one process and never needs it. The engine child goes too.
    """
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
    values = apply_set_values(values, inputs.set_values, chart=chart)
    return apply_set_values(values, inputs.set_string_values, chart=chart, as_string=True)


def render_stream(inputs: HelmInputs) -> str:
    """Render a chart in the engine child and return what ``helm template`` would print.

    The child (:mod:`.engine_child`) is killed on ``LSP_RENDER_ENGINE_TIMEOUT``,
    on SIGTERM and on any error while waiting.

    Raises
    ------
    InputError, RenderError
        As :func:`render_parts_here`; a RenderError on a timeout.
    """
    result = _render_in_child(inputs)
    crds = [
        crd_section(filename, crd_text(inputs.chart_dir, inputs.chart_dir.name, path))
        for filename, path in result.crd_files or ()
    ]
    return "".join(crds + result.parts)


def render_documents(
    inputs: HelmInputs, *, check_document: Callable[[str], object] | None = None
) -> list[Document]:
    """Render a chart in the engine child: ``helm template``'s stream as its documents.

    The documents :func:`.output.stream_documents` gives for :func:`render_stream`'s
    text. When the child sends the names of the CRD files instead of their text,
    they were read and split here while it rendered (:mod:`.crd_prep`).

    ``check_document`` is called with each CRD document's text as it is read
    (:class:`.crd_prep.CrdPreparation`).

    Raises
    ------
    InputError, RenderError
        As :func:`render_stream`.
    """
    preparation = None
    if inputs.include_crds and child_in_use():
        start_engine_child()  # forked before the thread starts, never after
        preparation = CrdPreparation(inputs.chart_dir, check_document=check_document)
    try:
        result = _render_in_child(inputs)
    finally:
        if preparation is not None:
            preparation.wait()
    rest = stream_documents("".join(result.parts))
    if result.crd_files is None:
        return rest
    chart = inputs.chart_dir.name
    if preparation is not None:
        return preparation.documents(chart, result.crd_files) + rest
    crds: list[Document] = []
    for filename, path in result.crd_files:
        crds += crd_documents(crd_text(inputs.chart_dir, chart, path), filename)
    return crds + rest


def _render_in_child(inputs: HelmInputs) -> TextParts:
    if inputs.values:  # any Mapping may come in; the pipe to the child takes plain data
        inputs = dataclasses.replace(inputs, values=plain_values(inputs.values))
    result = call_engine(
        __name__,
        "render_parts_here",
        (inputs,),
        timeout=engine_timeout(),
        what=f"chart {inputs.chart_dir.name}",
    )
    retire_one_shot()  # lsp-render render needs Helm no more
    if not isinstance(result, TextParts):
        msg = f"chart {inputs.chart_dir.name}: the embedded Helm engine answered {type(result)}"
        raise RenderError(msg)
    return result


def render_parts_here(inputs: HelmInputs) -> TextParts:
    """Render a chart in this process: what ``helm template`` would print, in pieces.

    What the engine child runs: it sends the pieces without joining them
    (``str()`` joins them).

    Raises
    ------
    InputError
        Bad value files, release name or kube version; dependencies outside
        the repository.
    RenderError
        Helm's template, values or load errors, missing dependencies, and
        rendered manifests that are not valid YAML.
    """
    loaded, chart = _load_and_open(inputs.chart_dir, inputs.repo_root)
    if chart is None:  # a chart rendered before in this process: it will be again
        chart = loaded.open()
        if loaded.has_crds is None and inputs.include_crds:
            loaded.has_crds = _has_crds(chart)
    with contextlib.closing(chart):
        return _render_loaded(chart, loaded, inputs)


def _render_loaded(chart: sdk.Chart, loaded: _LoadedChart, inputs: HelmInputs) -> TextParts:
    values_json = ensure_json_values(compose_values(inputs, loaded.name), chart=loaded.name)
    try:
        sdk.validate_release_name(inputs.release_name)
    except sdk.SdkError as exc:
        raise InputError(f"invalid release name {inputs.release_name!r}: {exc.message}") from exc

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

    try:
        files = sdk.render(chart, values_json, options)
    except sdk.SdkError as exc:
        raise RenderError(f"chart {loaded.name}: {exc.message}") from exc
    # Read after rendering: the render dropped the subcharts the values disable.
    listed = inputs.include_crds and loaded.has_crds is not False
    found = _crds_from_files(chart, loaded) if listed else []
    background = None
    crds: Iterable[CrdFile]
    if found is None:
        crds = background = _BackgroundCrds(chart, loaded.name)
    else:
        crds = [CrdFile(filename, text) for filename, _, text in found]
    try:
        release = Release(files, skip_hooks=inputs.skip_hooks)  # while Helm lists the CRDs
        if found and release.has_resources:  # the caller reads the CRD files itself
            listing = [(filename, path) for filename, path, _ in found]
            return TextParts(release.parts((), skip_tests=inputs.skip_tests), listing)
        return TextParts(release.parts(crds, skip_tests=inputs.skip_tests))
    finally:
        if background is not None:
            background.wait()  # never close the chart under a running Go call


def _crds_from_files(chart: sdk.Chart, loaded: _LoadedChart) -> list[tuple[str, str, str]] | None:
    """Read the rendered chart's CRDs from its directory; None when Helm must list them.

    Helm lists them as JSON (kube-prometheus-stack: 4.6 MB, ~50 ms and +35-45 MB
    of the child's peak); :func:`.crd_files.read_crds` reads the same files where
    it can be sure to find what Helm's loader found.
    """
    if not loaded.from_directory:
        return None
    try:
        order = sdk.dependency_order(chart)
    except sdk.SdkError:
        return None
    return read_crds(loaded.chart_dir, loaded.name, loaded.metadata, order)


class _BackgroundCrds:
    """The chart's CRDs, listed by Helm on a thread while the manifests are sorted.

    Go serialises 3-5 MB of CRDs of a big chart to JSON (kube-prometheus-stack:
    about 40 ms) without holding the GIL, so it overlaps the Python work of
    :meth:`.output.Release.parts`, which iterates this object only at its end.
    """

    def __init__(self, chart: sdk.Chart, name: str) -> None:
        self._name = name
        self._result: list[tuple[str, str]] | sdk.SdkError | None = None
        self._thread = threading.Thread(
            target=self._run, args=(chart,), name="lsp-render-crds", daemon=True
        )
        self._thread.start()

    def _run(self, chart: sdk.Chart) -> None:
        try:
            self._result = sdk.chart_crds(chart)
        except sdk.SdkError as exc:
            self._result = exc

    def wait(self) -> None:
        """Wait for Helm's answer."""
        self._thread.join()

    def __iter__(self) -> Iterator[CrdFile]:
        self.wait()
        result = self._result
        if isinstance(result, sdk.SdkError):
            raise RenderError(f"chart {self._name}: {result.message}") from result
        if result is None:  # the thread died of something other than an SDK error
            raise RenderError(f"chart {self._name}: the CRDs could not be listed")
        return (CrdFile(name, data) for name, data in result)


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
    _dependency_build(chart_dir)
