"""Which kind of application a directory holds (SPEC section 3)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from lsp_render.core.errors import InputError
from lsp_render.core.filenames import CONFIG_FILE, KUSTOMIZATION_FILES, REPO_CONFIG_FILE

if TYPE_CHECKING:
    from lsp_render.config.app import AppConfig

__all__ = [
    "KUSTOMIZATION_FILES",
    "AppKind",
    "detect_kind",
    "kind_from_files",
    "kustomization_file",
]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class AppKind(StrEnum):
    """The four kinds of application."""

    HELM = "helm"
    KUSTOMIZE = "kustomize"
    PLAIN = "plain"
    HYBRID = "hybrid"


def kustomization_file(directory: Path) -> Path | None:
    """Return the kustomization file of ``directory``, if it has one."""
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _has_manifests(directory: Path) -> bool:
    ignored = {CONFIG_FILE, REPO_CONFIG_FILE}
    return any(
        entry.suffix in _MANIFEST_SUFFIXES and entry.name not in ignored and entry.is_file()
        for entry in directory.iterdir()
    )


def detect_kind(app_dir: Path, config: AppConfig | None, *, label: str) -> AppKind:
    """Detect the kind of ``app_dir``, honouring ``lsp-render.yaml``.

    A ``kind`` key wins. Otherwise the config's ``helm`` and ``kustomize``
    sections say what runs (both: hybrid), and a section it leaves out falls back
    to the files present.

    Raises
    ------
    InputError
        When nothing renderable is there (exit 2).
    """
    if config is not None and config.kind is not None:
        return AppKind(config.kind)
    has_chart = (app_dir / "Chart.yaml").is_file() or (
        config is not None and config.helm is not None
    )
    kustomize_dir = app_dir
    if config is not None and config.kustomize is not None:
        kustomize_dir = app_dir / config.kustomize.path
    has_kustomization = kustomization_file(kustomize_dir) is not None
    if config is not None and config.kustomize is not None and not has_kustomization:
        msg = f"{label}: kustomize.path '{config.kustomize.path}' holds no kustomization file"
        raise InputError(msg)
    kind = kind_from_files(app_dir, helm_section=has_chart, kustomize_dir=kustomize_dir)
    if kind is None:
        msg = (
            "no application found: expected Chart.yaml, a kustomization file, "
            f"YAML/JSON manifests or {CONFIG_FILE}"
        )
        raise InputError(msg)
    return kind


def kind_from_files(
    app_dir: Path, *, helm_section: bool = False, kustomize_dir: Path | None = None
) -> AppKind | None:
    """Detect the kind from the files present (SPEC section 3's table), or None.

    Parameters
    ----------
    app_dir
        The application directory.
    helm_section
        Whether a configuration declares a Helm chart (counts as ``Chart.yaml``).
    kustomize_dir
        Where the kustomization is looked for (default: ``app_dir``).
    """
    has_chart = helm_section or (app_dir / "Chart.yaml").is_file()
    has_kustomization = kustomization_file(kustomize_dir or app_dir) is not None
    if has_chart and has_kustomization:
        return AppKind.HYBRID
    if has_chart:
        return AppKind.HELM
    if has_kustomization:
        return AppKind.KUSTOMIZE
    if _has_manifests(app_dir):
        return AppKind.PLAIN
    return None
