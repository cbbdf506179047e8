"""Kustomize: ``kustomize build`` or ``kubectl kustomize``, and the hybrid last mile."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from lsp_render.detect import kustomization_file
from lsp_render.engines import engine_timeout, run_engine
from lsp_render.errors import InputError, RenderError
from lsp_render.manifests import Document, join_stream, split_stream
from lsp_render.scratch import mirror, scratch_dir

__all__ = ["HELM_OUTPUT_FILE", "build", "build_hybrid", "kustomize_argv"]

# The file the hybrid writes Helm's output to, inside the scratch copy.
HELM_OUTPUT_FILE = "lsp-render-helm-output.yaml"


def kustomize_argv(environ: Mapping[str, str]) -> list[str]:
    """Return the argv prefix that builds a kustomization (the directory follows).

    ``LSP_RENDER_KUSTOMIZE`` names the binary (``kubectl`` means ``kubectl
    kustomize``); else ``kustomize`` on PATH; else ``kubectl kustomize``.

    Raises
    ------
    RenderError
        When no engine is installed, saying what to install.
    """
    configured = environ.get("LSP_RENDER_KUSTOMIZE", "")
    if configured:
        return _argv_for(configured)
    path = environ.get("PATH")
    for name in ("kustomize", "kubectl"):
        found = shutil.which(name, path=path)
        if found:
            return _argv_for(found)
    msg = "no Kustomize engine: install kustomize or kubectl, or set LSP_RENDER_KUSTOMIZE"
    raise RenderError(msg)


def _argv_for(binary: str) -> list[str]:
    if Path(binary).name.startswith("kubectl"):
        return [binary, "kustomize"]
    return [binary, "build"]


def build(directory: Path, *, label: str, environ: Mapping[str, str]) -> list[Document]:
    """Build the kustomization in ``directory`` and split its output into documents."""
    argv = [*kustomize_argv(environ), str(directory)]
    out = run_engine(argv, what=f"kustomize build {label}", timeout=engine_timeout(environ))
    return split_stream(out, f"kustomize:{label}")


def build_hybrid(
    helm_docs: Sequence[Document],
    kustomize_dir: Path,
    repo_root: Path,
    *,
    label: str,
    environ: Mapping[str, str],
) -> list[Document]:
    """Build the last-mile kustomization with Helm's output added as a resource.

    The kustomization directory is mirrored into a private scratch space (the
    repository is never written), Helm's stream is written next to it, and the
    copied kustomization lists it first among its resources.
    """
    with scratch_dir() as scratch:
        copy = mirror(repo_root, kustomize_dir, scratch)
        target = copy / HELM_OUTPUT_FILE
        if target.exists() or target.is_symlink():
            msg = f"{label}: the kustomization directory already holds {HELM_OUTPUT_FILE}"
            raise InputError(msg)
        target.write_text(join_stream(helm_docs), encoding="utf-8")
        _add_resource(copy, HELM_OUTPUT_FILE, label=label)
        return build(copy, label=label, environ=environ)


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
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
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
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
