"""Kustomize: ``kustomize build`` or ``kubectl kustomize``, and the hybrid last mile."""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lsp_render.core import deadline
from lsp_render.core.confine import HostCheck
from lsp_render.core.engines import (
    DEFAULT_TIMEOUT,
    engine_timeout,
    run_engine,
    start_engine,
    stop_engine,
    wait_engine,
)
from lsp_render.core.errors import InputError, LspRenderError, RenderError
from lsp_render.core.manifests import Document, encode_stream, split_stream
from lsp_render.core.paths import inside
from lsp_render.core.scratch import mirror, scratch_dir
from lsp_render.core.yamlfile import yaml_error_line
from lsp_render.detect import kustomization_file
from lsp_render.sources.kustomize_refs import check_tree, read_kustomization, shown_path
from lsp_render.sources.kustomize_start import claim, kustomize_argv

__all__ = [
    "HELM_OUTPUT_FILE",
    "HelmCharts",
    "HybridBuild",
    "build",
    "check_references",
    "kustomize_argv",
]
# Kustomization fields naming directories, walked to find every helmCharts: entry.
_DIRECTORY_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")

# The C loader and dumper (the pure-Python ones cost a hybrid render about 4 ms).
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# The file the hybrid writes Helm's output to, inside the scratch copy.
HELM_OUTPUT_FILE = "lsp-render-helm-output.yaml"


@dataclass(frozen=True)
class HelmCharts:
    """Kustomize's ``helmCharts:`` for one build: ``--enable-helm``, as Argo CD passes it.

    Attributes
    ----------
    kube_version
        ``--helm-kube-version`` (the app's Kubernetes version).
    api_versions
        ``--helm-api-versions``, each.
    """

    kube_version: str
    api_versions: tuple[str, ...] = ()


# Runs `lsp-render helm --root ROOT... ARGS` with this very interpreter and package.
_SHIM = """#!/bin/sh
PYTHONPATH={path}${{PYTHONPATH:+:$PYTHONPATH}} exec {python} -m lsp_render helm {roots} "$@"
"""
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def _helm_args(helm: HelmCharts | None, roots: Sequence[Path], scratch: Path | None) -> list[str]:
    """Kustomize's helm flags: the helm binary, else a shim to ``lsp-render helm``."""
    if helm is None:
        return []
    from lsp_render.sources.helm.binary import find_helm_binary

    binary = find_helm_binary()
    if binary is not None:
        command = str(binary)
    else:
        if scratch is None:  # pragma: no cover - callers always give one
            raise RenderError("no scratch directory for the helm shim")
        shim = scratch / "lsp-render-helm"
        shim.write_text(
            _SHIM.format(
                path=shlex.quote(str(_PACKAGE_PARENT)),
                python=shlex.quote(sys.executable),
                roots=" ".join(f"--root {shlex.quote(str(root))}" for root in roots),
            )
        )
        shim.chmod(0o700)
        command = str(shim)
    args = ["--enable-helm", "--helm-command", command, "--helm-kube-version", helm.kube_version]
    for version in helm.api_versions:
        args += ["--helm-api-versions", version]
    return args


def build(
    directory: Path,
    *,
    label: str,
    environ: Mapping[str, str],
    repo_root: Path | None = None,
    helm: HelmCharts | None = None,
    allow_host: HostCheck | None = None,
) -> list[Document]:
    """Build the kustomization in ``directory`` and split its output into documents.

    With ``repo_root``, the kustomization tree is first checked to stay inside
    it (:func:`check_references`). With ``helm``, Kustomize inflates its
    ``helmCharts:`` (vendored charts only) with the helm binary, else with
    ``lsp-render helm`` (the embedded engine).
    """
    root = repo_root if repo_root is not None else directory
    network = True
    if repo_root is not None:
        network = check_references(
            directory, repo_root, label=label, allow_host=allow_host, helm_charts=helm is not None
        )
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(scratch_dir()) if helm is not None else None
        argv = [*kustomize_argv(environ), *_helm_args(helm, [root], scratch), str(directory)]
        what = f"kustomize build {label}"
        early = claim(argv, network=network)  # started before the checks (kustomize_start)
        if early is not None:
            try:
                deadline.check(what)  # as run_engine: nothing past the request's deadline
            except RenderError:
                stop_engine(early)
                raise
            out = wait_engine(early, what=what, timeout=engine_timeout(environ))
        else:
            out = run_engine(argv, what=what, timeout=engine_timeout(environ), isolate=not network)
    return split_stream(out, f"kustomize:{label}")


def check_references(
    directory: Path,
    repo_root: Path,
    *,
    label: str,
    allow_host: HostCheck | None = None,
    helm_charts: bool = False,
) -> bool:
    """Refuse a kustomization tree that reads outside the repository or from the network.

    Every reference field of every kustomization reached is checked
    (:func:`lsp_render.sources.kustomize_refs.check_tree`); a local entry that
    does not exist is left to Kustomize to report. With ``helm_charts``, every
    ``helmCharts:`` entry must name a chart vendored in its ``chartHome`` inside
    the repository (nothing is pulled), and its value files must be inside the
    repository too.

    Returns
    -------
    bool
        Whether Kustomize needs the network (a remote reference the policy allows).

    Raises
    ------
    InputError
        Naming the kustomization file, the field and the entry.
    """
    network = check_tree(directory, repo_root, label=label, allow_host=allow_host)
    if helm_charts:
        _check_helm_tree(directory, repo_root, label)
    return network


def _check_helm_tree(directory: Path, repo_root: Path, label: str) -> None:
    """Check the ``helmCharts:`` of every kustomization reached from ``directory``."""
    seen: set[Path] = set()
    todo = [directory]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = kustomization_file(current)
        if path is None:
            continue
        shown = shown_path(path, repo_root, label)
        if not inside(repo_root, path):
            msg = f"{shown}: symlink leaves the repository"
            raise InputError(msg)
        data = read_kustomization(path)
        _check_helm_charts(current, data, repo_root, shown)
        for field in _DIRECTORY_FIELDS:
            entries = data.get(field)
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, str) or not entry.strip():
                    continue
                target = current / entry.strip()
                if not os.path.lexists(target):
                    continue
                if not inside(repo_root, target):
                    msg = f"{shown}: {field} entry '{entry}' leaves the repository"
                    raise InputError(msg)
                if target.is_dir():
                    todo.append(target.resolve())


def _check_helm_charts(
    directory: Path, data: Mapping[str, Any], repo_root: Path, shown: str
) -> None:
    """Each ``helmCharts:`` chart vendored in its ``chartHome`` (as Kustomize looks for it)."""
    charts = data.get("helmCharts")
    if not isinstance(charts, list):
        return
    globals_ = data.get("helmGlobals")
    chart_home = globals_.get("chartHome") if isinstance(globals_, dict) else None
    home_text = str(chart_home or "charts")  # Kustomize's HelmDefaultHome
    for index, chart in enumerate(charts):
        if not isinstance(chart, dict) or not isinstance(chart.get("name"), str):
            continue  # Kustomize reports it
        where = f"{shown}: helmCharts[{index}]"
        home = directory / home_text  # inside the repository: check_tree saw to it
        name, version = chart["name"], chart.get("version")
        if chart.get("repo") and version:  # Kustomize's absChartHome
            home = home / f"{name}-{version}"
        if not (home / name / "Chart.yaml").is_file() or not inside(repo_root, home / name):
            msg = (
                f"{where}: chart '{name}' is not vendored in {home_text} (charts are never "
                "pulled: run helm pull --untar into it and commit it)"
            )
            raise InputError(msg)
        from lsp_render.sources.helm.dependencies import fingerprint

        fingerprint((home / name).resolve(), repo_root)  # refuses links that leave the repository


class HybridBuild:
    """The hybrid's last mile, started before Helm renders (a context manager).

    On entry the kustomization directory is mirrored into a private scratch
    space, its copy lists :data:`HELM_OUTPUT_FILE` first among its resources,
    that file is created as a named pipe, and Kustomize starts: it spends most
    of its time starting up (about 55 ms of kubectl's 85) before it opens the
    pipe, and that now overlaps Helm's render. :meth:`build` feeds Helm's
    stream through the pipe and puts the same bytes in a regular file in its
    place before closing it, so that whatever opens the path again reads the
    file. A failure on entry is kept and raised by :meth:`build`, so errors
    come in the same order as in a sequential render. On exit Kustomize is
    killed if it still runs and the scratch space is removed.
    """

    def __init__(
        self,
        kustomize_dir: Path,
        repo_root: Path,
        *,
        label: str,
        environ: Mapping[str, str],
        helm: HelmCharts | None = None,
        allow_host: HostCheck | None = None,
    ) -> None:
        self._dir = kustomize_dir
        self._helm = helm
        self._allow_host = allow_host
        self._network = True
        self._repo_root = repo_root
        self._label = label
        self._environ = environ
        self._stack = contextlib.ExitStack()
        self._error: LspRenderError | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pipe: Path | None = None
        self._copy: Path | None = None
        self._helm_args: list[str] = []
        self._timeout = DEFAULT_TIMEOUT

    def __enter__(self) -> HybridBuild:
        try:
            self._start()
        except LspRenderError as exc:
            self._error = exc
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._proc is not None:
                stop_engine(self._proc)
        finally:
            self._stack.close()

    def _start(self) -> None:
        self._network = check_references(
            self._dir,
            self._repo_root,
            label=self._label,
            allow_host=self._allow_host,
            helm_charts=self._helm is not None,
        )
        scratch = self._stack.enter_context(scratch_dir())
        copy = mirror(self._repo_root, self._dir, scratch)
        target = copy / HELM_OUTPUT_FILE
        if target.exists() or target.is_symlink():
            msg = f"{self._label}: the kustomization directory already holds {HELM_OUTPUT_FILE}"
            raise InputError(msg)
        _add_resource(copy, HELM_OUTPUT_FILE, label=self._label)
        self._copy = copy
        self._timeout = engine_timeout(self._environ)
        roots = [self._repo_root, scratch.resolve()]
        self._helm_args = _helm_args(self._helm, roots, scratch)
        argv = [*kustomize_argv(self._environ), *self._helm_args, str(copy)]
        if hasattr(os, "mkfifo"):
            os.mkfifo(target, 0o600)
            self._pipe = target
            self._proc = start_engine(argv, what=self._what, isolate=not self._network)

    @property
    def _what(self) -> str:
        return f"kustomize build {self._label}"

    def build(self, helm_docs: Sequence[Document]) -> list[Document]:
        """Hand Helm's documents to Kustomize and return what it builds.

        Raises
        ------
        InputError
            A kustomization that leaves the repository or is malformed.
        RenderError
            Kustomize's failure, or its timeout.
        """
        if self._error is not None:
            raise self._error
        if self._copy is None:
            msg = f"{self._label}: the last mile was not prepared (use HybridBuild in a with)"
            raise RenderError(msg)
        data = encode_stream(helm_docs)
        if self._proc is None or self._pipe is None:
            (self._copy / HELM_OUTPUT_FILE).write_bytes(data)
            argv = [*kustomize_argv(self._environ), *self._helm_args, str(self._copy)]
            out = run_engine(
                argv, what=self._what, timeout=self._timeout, isolate=not self._network
            )
            return split_stream(out, f"kustomize:{self._label}")
        feeder = threading.Thread(
            target=_feed, args=(self._pipe, data, self._proc), name="lsp-render-feed"
        )
        feeder.start()
        try:
            out = wait_engine(self._proc, what=self._what, timeout=self._timeout)
        finally:
            feeder.join()
        return split_stream(out, f"kustomize:{self._label}")


def _feed(pipe: Path, data: bytes, proc: subprocess.Popen[bytes]) -> None:
    """Write ``data`` through the named pipe once its reader opens it, then leave a file there.

    Gives up when the process ends without opening the pipe (Kustomize
    failed first) or breaks it (Kustomize died while reading).
    """
    regular = pipe.with_name(pipe.name + ".file")
    regular.write_bytes(data)
    fd = -1
    while fd < 0:
        try:
            fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or proc.poll() is not None:
                return
            time.sleep(0.0005)
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        # Replaced before the reader can see the end: a second open finds a file.
        regular.replace(pipe)
    except OSError:
        return
    finally:
        os.close(fd)


def _add_resource(directory: Path, resource: str, *, label: str) -> None:
    path = kustomization_file(directory)
    if path is None:
        msg = f"{label}: no kustomization file in the last-mile directory"
        raise InputError(msg)
    if path.is_symlink():
        # Write the copy as a regular file so the repository's file is never touched.
        content = path.read_text(encoding="utf-8")
        path.unlink()
        path.write_text(content, encoding="utf-8")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f":{line}" if line is not None else ""
        msg = f"{label}/{path.name}{where}: invalid YAML"
        raise InputError(msg) from None
    if not isinstance(data, dict):
        msg = f"{label}/{path.name}: must be a mapping"
        raise InputError(msg)
    resources = data.get("resources") or []
    if not isinstance(resources, list):
        msg = f"{label}/{path.name}: resources must be a list"
        raise InputError(msg)
    data["resources"] = [resource, *resources]
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False), encoding="utf-8")
