"""What Argo CD's ``kustomize edit`` calls do to a kustomization, done on the parsed file.

Argo CD applies an Application's ``spec.source.kustomize`` by running ``kustomize
edit set nameprefix|namesuffix|image|replicas|namespace`` and ``kustomize edit add
label|annotation|component`` in its own copy of the repository, then ``kustomize
build`` (``util/kustomize/kustomize.go``). ``kubectl kustomize`` has no ``edit``,
so the same changes are made here to the kustomization of a scratch copy; the
user's file is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lsp_render.argocd.application import KustomizeSource, envsubst
from lsp_render.core.errors import InputError

__all__ = ["apply_edits", "has_edits"]

# kustomize edit set image: [old=]new[:tag|@digest]
_IMAGE = re.compile(r"^(?:(?P<old>[^=]+)=)?(?P<new>.+)$")


def has_edits(kust: KustomizeSource) -> bool:
    """Tell whether the source asks for any change to the kustomization."""
    return bool(
        kust.name_prefix
        or kust.name_suffix
        or kust.images
        or kust.replicas
        or kust.common_labels
        or kust.common_annotations
        or kust.namespace
        or kust.components
        or kust.patches
    )


def _split_image(text: str) -> dict[str, str]:
    """Parse one ``kustomize edit set image`` argument into an ``images`` entry."""
    match = _IMAGE.match(text)
    if match is None:  # pragma: no cover - the pattern matches any non-empty text
        msg = f"invalid image '{text}'"
        raise InputError(msg)
    old, new = match.group("old"), match.group("new")
    entry: dict[str, str] = {}
    digest = ""
    if "@" in new:
        new, digest = new.split("@", 1)
    tag = ""
    slash = new.rfind("/")
    colon = new.rfind(":")
    if colon > slash:
        new, tag = new[:colon], new[colon + 1 :]
    name = old if old is not None else new
    entry["name"] = name
    if old is not None and new != old:
        entry["newName"] = new
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


def _set_images(kust: dict[str, Any], images: list[str]) -> None:
    current = list(kust.get("images") or [])
    for text in images:
        entry = _split_image(text)
        for i, existing in enumerate(current):
            if isinstance(existing, dict) and existing.get("name") == entry["name"]:
                merged = dict(existing)
                merged.update(entry)
                current[i] = merged
                break
        else:
            current.append(entry)
    kust["images"] = current


def _set_replicas(kust: dict[str, Any], replicas: tuple[tuple[str, int], ...]) -> None:
    current = list(kust.get("replicas") or [])
    for name, count in replicas:
        for i, existing in enumerate(current):
            if isinstance(existing, dict) and existing.get("name") == name:
                current[i] = {"name": name, "count": count}
                break
        else:
            current.append({"name": name, "count": count})
    kust["replicas"] = current


def _add_map(
    kust: dict[str, Any], key: str, values: Mapping[str, str], *, force: bool, what: str
) -> None:
    current = dict(kust.get(key) or {})
    for name, value in values.items():
        if name in current and not force:
            msg = f"{what} {name} already in kustomization file (set force{what.title()}s)"
            raise InputError(msg)
        current[name] = value
    kust[key] = current


def _add_labels_without_selector(
    kust: dict[str, Any], labels: Mapping[str, str], *, include_templates: bool
) -> None:
    """``kustomize edit add label --without-selector [--include-templates]``: a ``labels`` entry."""
    current = list(kust.get("labels") or [])
    for entry in current:
        if (
            isinstance(entry, dict)
            and not entry.get("includeSelectors", False)
            and bool(entry.get("includeTemplates", False)) == include_templates
        ):
            entry["pairs"] = {**(entry.get("pairs") or {}), **labels}
            break
    else:
        new: dict[str, Any] = {"pairs": dict(labels)}
        if include_templates:
            new["includeTemplates"] = True
        current.append(new)
    kust["labels"] = current


def _edit_names(data: dict[str, Any], kust: KustomizeSource, env: Mapping[str, str]) -> None:
    """``edit set nameprefix``, ``namesuffix``, ``image``, ``replicas``, ``namespace``."""
    if kust.name_prefix:
        data["namePrefix"] = kust.name_prefix
    if kust.name_suffix:
        data["nameSuffix"] = kust.name_suffix
    if kust.images:
        _set_images(data, [envsubst(image, env) for image in kust.images])
    if kust.replicas:
        _set_replicas(data, kust.replicas)
    if kust.namespace:
        data["namespace"] = kust.namespace


def _edit_metadata(data: dict[str, Any], kust: KustomizeSource, env: Mapping[str, str]) -> None:
    """``edit add label`` and ``edit add annotation``."""
    if kust.common_labels:
        labels = {k: envsubst(v, env) for k, v in kust.common_labels.items()}
        if kust.label_without_selector:
            _add_labels_without_selector(
                data, labels, include_templates=kust.label_include_templates
            )
        else:
            force = kust.force_common_labels
            _add_map(data, "commonLabels", labels, force=force, what="label")
    if kust.common_annotations:
        annotations = dict(kust.common_annotations)
        if kust.common_annotations_envsubst:
            annotations = {k: envsubst(v, env) for k, v in annotations.items()}
        force = kust.force_common_annotations
        _add_map(data, "commonAnnotations", annotations, force=force, what="annotation")


def _edit_structure(data: dict[str, Any], kust: KustomizeSource, directory: Path) -> None:
    """Append the ``patches`` (as Argo CD does) and ``edit add component``."""
    if kust.patches:
        data["patches"] = [*(data.get("patches") or []), *map(dict, kust.patches)]
    components = [
        c for c in kust.components if not kust.ignore_missing_components or (directory / c).exists()
    ]
    if components:
        current = list(data.get("components") or [])
        current.extend(c for c in components if c not in current)
        data["components"] = current


def apply_edits(path: Path, kust: KustomizeSource, env: Mapping[str, str], *, label: str) -> None:
    """Rewrite the kustomization file ``path`` (a scratch copy) as Argo CD's edits would.

    Parameters
    ----------
    path
        The kustomization file of the scratch copy.
    kust
        The Application's ``kustomize`` options.
    env
        Argo CD's build environment, for ``$VAR`` in images and labels.
    label
        Names the application in messages.

    Raises
    ------
    InputError
        When the file is not a mapping, or a label or annotation already set
        is not forced.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        msg = f"{label}: {path.name} is not valid YAML ({type(exc).__name__})"
        raise InputError(msg) from None
    if not isinstance(data, dict):
        msg = f"{label}: {path.name} is not a mapping"
        raise InputError(msg)
    try:
        _edit_names(data, kust, env)
        _edit_metadata(data, kust, env)
        _edit_structure(data, kust, path.parent)
    except InputError as exc:
        raise InputError(f"{label}: {exc.message}") from None
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
