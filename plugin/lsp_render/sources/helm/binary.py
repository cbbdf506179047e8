"""The ``helm`` binary engine: ``helm template`` as a subprocess, without a shell.

Chosen when ``LSP_RENDER_HELM`` names a helm binary or ``helm`` is on ``PATH``.
Every input reaches Helm as its own argument; inline values go in on stdin
(``-f -``, as JSON, which is YAML). The subprocess has a timeout
(``LSP_RENDER_ENGINE_TIMEOUT`` seconds, default 45, below Argo CD's 60 s).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_render.core.engines import run_process
from lsp_render.core.errors import InputError, RenderError
from lsp_render.sources.helm.capabilities import normalize_kube_version
from lsp_render.sources.helm.dependencies import built_chart, fingerprint, inspect_dependencies
from lsp_render.sources.helm.values import values_error, values_to_json

if TYPE_CHECKING:
    from lsp_render.sources.helm import HelmInputs

__all__ = [
    "DEFAULT_TIMEOUT",
    "build_in_place",
    "engine_timeout",
    "find_helm_binary",
    "render_stream",
    "template_argv",
]

DEFAULT_TIMEOUT = 45.0
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def find_helm_binary() -> Path | None:
    """Find the helm binary: ``LSP_RENDER_HELM``, else ``helm`` on ``PATH``, else ``None``.

    Raises
    ------
    InputError
        When ``LSP_RENDER_HELM`` is set but names no executable.
    """
    configured = os.environ.get("LSP_RENDER_HELM")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise InputError(f"LSP_RENDER_HELM={configured!r} is not an executable helm binary")
        return Path(found)
    found = shutil.which("helm")
    return Path(found) if found else None


def engine_timeout() -> float:
    """Seconds an engine subprocess may run (``LSP_RENDER_ENGINE_TIMEOUT``, default 45).

    Raises
    ------
    InputError
        When the variable is not a positive number.
    """
    raw = os.environ.get("LSP_RENDER_ENGINE_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise InputError(f"LSP_RENDER_ENGINE_TIMEOUT={raw!r} is not a positive number of seconds")
    return value


def template_argv(helm: Path, inputs: HelmInputs, chart_path: Path) -> list[str]:
    """Build the ``helm template`` argv for ``inputs`` (``chart_path`` may be a scratch copy)."""
    argv = [
        str(helm),
        "template",
        inputs.release_name,
        str(chart_path),
        "--namespace",
        inputs.namespace,
    ]
    if inputs.include_crds:
        argv.append("--include-crds")
    if inputs.skip_tests:
        argv.append("--skip-tests")
    if inputs.skip_hooks:
        argv.append("--no-hooks")
    if inputs.kube_version:
        argv += ["--kube-version", inputs.kube_version]
    for api in inputs.api_versions:
        argv += ["--api-versions", api]
    for path in inputs.value_files:
        argv += ["-f", str(path)]
    if inputs.values:
        argv += ["-f", "-"]
    for expression in inputs.set_values:
        argv += ["--set", expression]
    for expression in inputs.set_string_values:
        argv += ["--set-string", expression]
    return argv


def _error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Error:"):
            return line[len("Error:") :].strip()
    return lines[-1] if lines else "no error message"


def _run(
    argv: Sequence[str],
    *,
    chart: str,
    what: str,
    stdin: str | None = None,
    value_files: Mapping[str, str] | None = None,
) -> str:
    timeout = engine_timeout()
    try:
        # In its own process group, killed whole on a timeout or SIGTERM (lsp_render.core.engines),
        # without network where the platform allows (local charts need none).
        result = run_process(argv, stdin=stdin, timeout=timeout, isolate=True)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"chart {chart}: {what} timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise RenderError(f"chart {chart}: cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise RenderError(f"chart {chart}: {what} was killed by {name}")
    if result.returncode != 0:
        message = _error_line(result.stderr)
        for path, label in (value_files or {}).items():
            prefix = f"failed to parse {path}: "
            if message.startswith(prefix):  # Helm could not read a value file: bad input
                raise values_error(message[len(prefix) :], label)
        raise RenderError(f"chart {chart}: {what} failed: {message}")
    return result.stdout


def _check_inputs(inputs: HelmInputs) -> None:
    """Fail on bad input before Helm does, with lsp-render's messages.

    Value files are not read here: Helm reads them (a file it cannot parse is
    reported as bad input by :func:`_run`).
    """
    if len(inputs.release_name) > 53 or not _RELEASE_NAME.match(inputs.release_name):
        raise InputError(
            f"invalid release name {inputs.release_name!r}: at most 53 lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    if inputs.kube_version:
        normalize_kube_version(inputs.kube_version)


def _labels(inputs: HelmInputs) -> dict[str, str]:
    """Each value file's path as on helm's command line -> its name in messages."""
    return {
        str(path): (
            str(path.relative_to(inputs.repo_root))
            if path.is_relative_to(inputs.repo_root)
            else str(path)
        )
        for path in inputs.value_files
    }


def _inline_values(values: Mapping[str, Any], chart: str) -> str | None:
    if not values:
        return None
    try:
        return values_to_json(values)
    except ValueError as exc:
        raise RenderError(f"chart {chart}: {exc}") from exc


def render_stream(helm: Path, inputs: HelmInputs) -> str:
    """Run ``helm template`` and return its stdout.

    Missing ``file://`` dependencies are built first with
    ``helm dependency build --skip-refresh`` in a scratch copy of the chart.

    Raises
    ------
    InputError
        Bad release name, kube version or value file; a dependency outside
        the repository.
    RenderError
        Helm failed (its message, one line), timed out, or a dependency is missing.
    """
    _check_inputs(inputs)
    deps = inspect_dependencies(inputs.chart_dir, inputs.repo_root)
    fingerprint(inputs.chart_dir, inputs.repo_root, deps.local_dirs)  # refuses links that leave
    stdin = _inline_values(inputs.values, deps.name)

    def build(path: Path) -> None:
        _run(
            [str(helm), "dependency", "build", "--skip-refresh", str(path)],
            chart=deps.name,
            what="helm dependency build",
        )

    with built_chart(inputs.chart_dir, inputs.repo_root, deps, build) as path:
        return _run(
            template_argv(helm, inputs, path),
            chart=deps.name,
            what="helm template",
            stdin=stdin,
            value_files=_labels(inputs),
        )


def build_in_place(helm: Path, chart_dir: Path) -> None:
    """Run ``helm dependency build --skip-refresh`` in ``chart_dir`` (``lsp-render init``)."""
    _run(
        [str(helm), "dependency", "build", "--skip-refresh", str(chart_dir)],
        chart=chart_dir.name,
        what="helm dependency build",
    )
