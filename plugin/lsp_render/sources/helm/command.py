"""``lsp-render helm``: what Kustomize's ``--helm-command`` asks of ``helm``, embedded.

Kustomize's ``helmCharts:`` (``kustomize build --enable-helm``) runs its helm
command three ways (api/internal/builtins/HelmChartInflationGenerator.go and
api/types/helmchartargs.go, kustomize v5.8.1):

- ``version --short``, to check that it is Helm 3 or 4;
- ``pull --untar --untardir DIR [--repo URL] NAME [--version V] [--devel]``,
  only when the chart is not in ``chartHome`` yet;
- ``template NAME|--generate-name CHART [--namespace NS] [--name-template T]
  -f VALUES [-f MORE...] [--api-versions V]... [--kube-version V]
  [--include-crds] [--skip-tests] [--no-hooks] [--debug] [--devel]``.

Where no helm binary exists, lsp-render hands Kustomize a shim that runs
``lsp-render helm --root ROOT ... ARGS`` and answers those calls with the embedded
engine: ``template`` prints exactly what ``helm template`` prints, ``version``
names the embedded Helm, and ``pull`` is refused (the embedded engine never
downloads: vendor the chart into ``chartHome``). Each ``--root`` names a
directory a chart may be in (the repository; for a hybrid also its scratch
mirror): a chart elsewhere is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lsp_render.core.errors import InputError, RenderError

__all__ = ["TemplateCall", "helm_command", "parse_template_args"]

_VALUE_FLAGS = {"--namespace", "-n", "--kube-version", "--api-versions", "-f", "--values"}
_BOOLEAN_FLAGS = {"--include-crds", "--skip-tests", "--no-hooks", "--debug", "--devel"}
GENERATED_NAME = "release-name"
"""The release name for ``--generate-name`` (Helm's would be random; this is ``helm template``'s
default name)."""


@dataclass
class TemplateCall:
    """One ``helm template`` call, as Kustomize makes it.

    Attributes
    ----------
    release_name, chart
        The release name and the chart directory.
    namespace, kube_version, api_versions, value_files
        ``--namespace``, ``--kube-version``, ``--api-versions``, ``-f`` in order.
    include_crds, skip_tests, no_hooks
        ``--include-crds``, ``--skip-tests``, ``--no-hooks``.
    """

    release_name: str = ""
    chart: str = ""
    namespace: str = "default"
    kube_version: str | None = None
    api_versions: list[str] = field(default_factory=list)
    value_files: list[str] = field(default_factory=list)
    include_crds: bool = False
    skip_tests: bool = False
    no_hooks: bool = False


def _flag(call: TemplateCall, name: str, value: str) -> None:
    if name in {"--namespace", "-n"}:
        call.namespace = value
    elif name == "--kube-version":
        call.kube_version = value
    elif name == "--api-versions":
        call.api_versions.extend(v for v in value.split(",") if v)
    else:
        call.value_files.append(value)


def parse_template_args(args: Sequence[str]) -> TemplateCall:
    """Parse the arguments of ``helm template`` that Kustomize passes.

    Raises
    ------
    InputError
        An argument Kustomize never passes (``--name-template`` included), a
        flag without its value, or not exactly a release name and a chart.
    """
    call = TemplateCall()
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, equals, inline = arg.partition("=")
        if name in _VALUE_FLAGS:
            if not equals:
                i += 1
                if i >= len(args):
                    raise InputError(f"helm template: {arg} needs a value")
                inline = args[i]
            _flag(call, name, inline)
        elif arg in _BOOLEAN_FLAGS:
            call.include_crds |= arg == "--include-crds"
            call.skip_tests |= arg == "--skip-tests"
            call.no_hooks |= arg == "--no-hooks"
        elif arg == "--generate-name":
            positional.insert(0, GENERATED_NAME)
        elif arg.startswith("-"):
            raise InputError(
                f"helm template: unsupported argument {name!r} "
                "(only what Kustomize's helmCharts passes)"
            )
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 2:
        raise InputError("helm template: expected a release name and a chart")
    call.release_name, call.chart = positional
    return call


def _version() -> str:
    from lsp_render.sources.helm import sdk

    return sdk.engine_version()


def _template(call: TemplateCall, roots: Sequence[Path]) -> str:
    from lsp_render.core.paths import inside
    from lsp_render.sources.helm import HelmInputs, embedded

    chart = Path(call.chart)
    root = next((r for r in roots if chart.is_absolute() and inside(r, chart)), None)
    if root is None:
        shown = ", ".join(str(r) for r in roots)
        raise InputError(f"helm template: chart {call.chart} is not inside {shown}")
    inputs = HelmInputs(
        chart_dir=chart.resolve(),
        repo_root=root,
        release_name=call.release_name,
        namespace=call.namespace,
        value_files=tuple(Path(path).resolve() for path in call.value_files),
        include_crds=call.include_crds,
        skip_tests=call.skip_tests,
        skip_hooks=call.no_hooks,
        kube_version=call.kube_version,
        api_versions=tuple(call.api_versions),
    )
    return embedded.render_stream(inputs)


def helm_command(args: Sequence[str], *, roots: Sequence[Path]) -> str:
    """Answer one call of Kustomize's helm command; return what helm would print.

    Parameters
    ----------
    args
        The arguments after ``helm``.
    roots
        The directories a chart must be inside (resolved): the repository and,
        for a hybrid, its scratch mirror.

    Returns
    -------
    str
        The standard output.

    Raises
    ------
    InputError
        A command or argument Kustomize never uses, or a chart outside ``roots``.
    RenderError
        ``pull`` (charts must be vendored), or Helm's render error.
    """
    if not args:
        raise InputError("helm: expected template, version or pull")
    command, rest = args[0], list(args[1:])
    if command == "version":
        version = _version()
        if "--short" in rest:
            return f"{version}\n"
        return f'version.BuildInfo{{Version:"{version}", GitCommit:"", GitTreeState:"embedded"}}\n'
    if command == "pull":
        names, skip = [], False
        for arg in rest:
            if not skip and not arg.startswith("-"):
                names.append(arg)
            skip = arg in {"--untardir", "--repo", "--version"}
        chart = names[-1] if names else "the chart"
        raise RenderError(
            f"helm: cannot pull {chart}: the embedded engine never downloads; "
            "vendor the chart into the kustomization's chartHome (helm pull --untar) "
            "or install the helm binary"
        )
    if command == "template":
        return _template(parse_template_args(rest), roots)
    raise InputError(
        f"helm: unsupported command {command!r} "
        "(only template, version and pull, what Kustomize's helmCharts calls)"
    )
