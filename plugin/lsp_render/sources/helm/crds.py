"""A render's CRDs, as ``helm template --include-crds`` lists them.

Helm lists the CRDs of the chart it rendered: the render drops the subcharts
the values disable, and with them their ``crds/``. Go serialises the files to
JSON for each listing, about 50 ms for kube-prometheus-stack's 5 MB, which
came after the render and before anything could be printed.

:class:`DuringRender` lists them from a second copy of the chart, loaded and
listed on a thread while the first one renders (Go runs both without the GIL;
``lsp-render render`` has the other core idle then). That copy still holds
every subchart, so :meth:`DuringRender.select` keeps what ``CRDObjects`` of the
rendered chart gives: the chart's own ``crds/`` first, then each subchart the
render kept, in the rendered chart's order. It answers only where that is
certain -- every CRD in the chart or in a direct subchart, no alias in
``Chart.yaml`` (an alias renames a subchart's path) -- and None elsewhere, when
the caller lists them after the render (:class:`AfterRender`) as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lsp_render.core.errors import RenderError
from lsp_render.sources.helm import sdk
from lsp_render.sources.helm.output import CrdFile

__all__ = ["AfterRender", "DuringRender"]


class AfterRender:
    """The rendered chart's CRDs, listed by Helm on a thread while the manifests are sorted.

    Go's serialisation holds no GIL, so it overlaps the Python work of
    :func:`.output.assemble_stream`, which iterates this object only at its end.
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


class DuringRender:
    """Every CRD of a second copy of the chart, listed on a thread while the first renders."""

    def __init__(self, open_copy: Callable[[], sdk.Chart], name: str) -> None:
        self._name = name
        self._all: list[tuple[str, str]] | None = None
        self._aliased = True
        self._thread = threading.Thread(
            target=self._run, args=(open_copy,), name="lsp-render-crds-copy", daemon=True
        )
        self._thread.start()

    def _run(self, open_copy: Callable[[], sdk.Chart]) -> None:
        try:
            chart = open_copy()
        except Exception:
            return
        try:
            self._aliased = _aliased(sdk.chart_metadata(chart))
            self._all = sdk.chart_crds(chart)
        except sdk.SdkError:
            self._all = None
        finally:
            chart.close()

    def wait(self) -> None:
        """Wait for the listing (the copy is closed when it ends)."""
        self._thread.join()

    def select(self, rendered: sdk.Chart) -> list[CrdFile] | None:
        """Return what Helm would list for ``rendered`` (already rendered), or None if unsure."""
        self.wait()
        if self._all is None or self._aliased:
            return None
        by_owner: dict[str, list[CrdFile]] = {}
        for filename, data in self._all:
            owner = _owner(filename, self._name)
            if owner is None:
                return None
            by_owner.setdefault(owner, []).append(CrdFile(filename, data))
        selected = list(by_owner.get("", ()))
        for name in sdk.dependency_order(rendered):
            selected += by_owner.get(name, ())
        return selected


def _aliased(metadata: Mapping[str, Any]) -> bool:
    """Tell whether ``Chart.yaml`` gives any dependency an alias."""
    dependencies = metadata.get("dependencies") or ()
    return any(isinstance(dep, Mapping) and dep.get("alias") for dep in dependencies)


def _owner(filename: str, top: str) -> str | None:
    """Name the chart a CRD file belongs to: ``""`` the chart, a direct subchart's name, or None.

    Helm names each ``<chart path>/crds/<file>``, a subchart's path being
    ``<parent path>/charts/<name>``.
    """
    prefix = f"{top}/"
    if not filename.startswith(prefix):
        return None
    rest = filename[len(prefix) :]
    if rest.startswith("crds/"):
        return ""
    parts = rest.split("/", 3)
    if len(parts) == 4 and parts[0] == "charts" and parts[2] == "crds" and parts[1]:
        return parts[1]
    return None
