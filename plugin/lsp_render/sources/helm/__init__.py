"""The Helm source: render a local chart exactly as ``helm template`` prints it.

Two engines behind one interface: the ``helm`` binary when ``LSP_RENDER_HELM``
names one or ``helm`` is on ``PATH`` (:mod:`.binary`), otherwise Helm's Go SDK
embedded through ``helm-python-sdk`` (:mod:`.embedded`). Both yield the same
documents (:func:`.output.stream_documents`).

Importing this package costs nothing but :class:`HelmInputs`: the engines,
PyYAML and the dependency checks load when a chart is rendered, so the CLI can
start the engine child (:mod:`.engine_child`) before it imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsp_render.core.confine import HostCheck
    from lsp_render.core.manifests import Document

__all__ = ["HelmInputs", "build_dependencies", "render_chart"]


@dataclass(frozen=True, slots=True)
class HelmInputs:
    """Everything one ``helm template`` needs.

    Attributes
    ----------
    chart_dir
        The local chart directory (absolute, inside ``repo_root``, already checked).
    repo_root
        The repository root (absolute); nothing outside it is read, ``file://``
        dependencies included.
    release_name
        The release name.
    namespace
        The release namespace.
    value_files
        Value files (absolute), in ``-f`` order.
    values
        Inline values, applied after the files.
    set_values
        ``--set`` arguments (``"a.b=1,c=x"``), in order, parsed by Helm.
    set_string_values
        ``--set-string`` arguments, applied after ``set_values`` as Helm does.
    include_crds
        Print the charts' ``crds/`` first.
    skip_tests
        Leave out test hooks.
    skip_hooks
        Leave out every hook (``helm template --no-hooks``).
    kube_version
        ``.Capabilities.KubeVersion`` (``1.29``, ``1.29.3`` or ``v1.29.3``).
    api_versions
        Extra ``.Capabilities.APIVersions`` (``group/version`` or ``group/version/Kind``).
    """

    chart_dir: Path
    repo_root: Path
    release_name: str
    namespace: str
    value_files: tuple[Path, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    set_values: tuple[str, ...] = ()
    set_string_values: tuple[str, ...] = ()
    include_crds: bool = True
    skip_tests: bool = False
    skip_hooks: bool = False
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()


def render_chart(
    inputs: HelmInputs,
    *,
    allow_host: HostCheck | None = None,
    check_document: Callable[[str], object] | None = None,
) -> list[Document]:
    """Render a chart; one document per manifest, as ``helm template`` prints them.

    Each document's text is ``# Source: <chart>/templates/<file>`` followed by
    the manifest. Order: CRDs (with ``include_crds``), resources in Helm's
    install order, then hooks.

    Parameters
    ----------
    inputs
        The chart, release and values.
    allow_host
        Tells whether the operator's policy allows a host a schema ``$ref`` names.
    check_document
        Called with the text of each CRD document read while the engine renders,
        on that thread (the caller's own check of every document, done ahead).

    Returns
    -------
    list of Document
        The manifests, named by their template.

    Raises
    ------
    InputError
        Unreadable or malformed value files, bad release name or kube version,
        a dependency outside the repository.
    RenderError
        A Helm error (template, values, schema, load), a missing dependency,
        or a manifest that is not valid YAML.
    """
    from lsp_render.sources.helm import binary, embedded
    from lsp_render.sources.helm.dependencies import inspect_dependencies
    from lsp_render.sources.helm.engine_child import prestart_engine_child
    from lsp_render.sources.helm.output import stream_documents
    from lsp_render.sources.helm.schema_refs import check_schemas

    helm = binary.find_helm_binary()
    if helm is None:
        prestart_engine_child()  # it loads Helm while the schemas are checked
    deps = inspect_dependencies(inputs.chart_dir, inputs.repo_root, check=False)
    check_schemas(
        inputs.chart_dir, chart=deps.name, extra_dirs=deps.local_dirs, allow_host=allow_host
    )
    if helm is not None:
        return stream_documents(binary.render_stream(helm, inputs))
    return embedded.render_documents(inputs, check_document=check_document)


def build_dependencies(chart_dir: Path, repo_root: Path) -> None:
    """Build a chart's missing ``file://`` dependencies into its ``charts/``, offline, in place.

    This is ``lsp-render init`` (Argo CD runs it in its own copy of the
    repository). Nothing happens when ``charts/`` already holds every
    declared dependency.

    Parameters
    ----------
    chart_dir
        The chart directory (absolute, inside ``repo_root``).
    repo_root
        The repository root; ``file://`` dependencies must resolve inside it.

    Raises
    ------
    InputError
        When a ``file://`` dependency leaves the repository.
    RenderError
        When a missing dependency is not ``file://`` or the build fails.
    """
    from lsp_render.core.errors import RenderError
    from lsp_render.core.safewrite import refuse_symlinks_out
    from lsp_render.sources.helm import binary, embedded
    from lsp_render.sources.helm.dependencies import inspect_dependencies, missing_dependency_error

    deps = inspect_dependencies(chart_dir, repo_root)
    error = missing_dependency_error(deps)
    if error is not None:
        raise error
    if not deps.missing:
        return
    refuse_symlinks_out(chart_dir, "charts", what=f"chart {deps.name}")
    helm = binary.find_helm_binary()
    if helm is not None:
        binary.build_in_place(helm, chart_dir)
    else:
        embedded.build_in_place(chart_dir)
    still = inspect_dependencies(chart_dir, repo_root).missing
    if still:
        names = ", ".join(dep.name for dep in still)
        raise RenderError(f"chart {deps.name}: helm dependency build left missing: {names}")
