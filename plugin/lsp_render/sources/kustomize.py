"""Kustomize: ``kustomize build`` or ``kubectl kustomize``, and the hybrid last mile."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lsp_render.detect import kustomization_file
from lsp_render.engines import engine_timeout, run_engine
from lsp_render.errors import InputError, RenderError
from lsp_render.manifests import Document, join_stream, split_stream
from lsp_render.paths import inside
from lsp_render.scratch import mirror, scratch_dir

__all__ = ["HELM_OUTPUT_FILE", "build", "build_hybrid", "check_references", "kustomize_argv"]

# Fields whose entries may name another kustomization directory. Kustomize's default
# load restrictor keeps files under each kustomization's root, but lets these reach any
# directory at all; files reached through them are then kept under that directory.
_DIRECTORY_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
# The C loader and dumper (the pure-Python ones cost a hybrid render about 4 ms).
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

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


def build(
    directory: Path,
    *,
    label: str,
    environ: Mapping[str, str],
    repo_root: Path | None = None,
) -> list[Document]:
    """Build the kustomization in ``directory`` and split its output into documents.

    With ``repo_root``, the kustomization tree is first checked to stay inside
    it (:func:`check_references`).
    """
    if repo_root is not None:
        check_references(directory, repo_root, label=label)
    argv = [*kustomize_argv(environ), str(directory)]
    out = run_engine(argv, what=f"kustomize build {label}", timeout=engine_timeout(environ))
    return split_stream(out, f"kustomize:{label}")


def check_references(directory: Path, repo_root: Path, *, label: str) -> None:
    """Refuse a kustomization tree that reaches a directory or file outside the repository.

    Follows every local entry of ``resources``, ``bases``, ``components``,
    ``generators``, ``transformers`` and ``validators`` (symlinks resolved) from
    ``directory``; an entry that does not exist locally (a remote base, a typo)
    is left to Kustomize.

    Raises
    ------
    InputError
        Naming the kustomization file, the field and the entry.
    """
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
        shown = _shown(path, repo_root, label)
        if not inside(repo_root, path):
            msg = f"{shown}: symlink leaves the repository"
            raise InputError(msg)
        data = _read_kustomization(path)
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


def _read_kustomization(path: Path) -> dict[str, Any]:
    """Parse a kustomization file; anything malformed is left to Kustomize to report."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _shown(path: Path, repo_root: Path, label: str) -> str:
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        return f"{label}/{path.name}"


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
    check_references(kustomize_dir, repo_root, label=label)
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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506
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
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False), encoding="utf-8")
