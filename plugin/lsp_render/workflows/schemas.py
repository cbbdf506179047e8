"""Where ``--validate`` gets its schemas: Kubernetes' own, and those of CRDs in the render.

Kubernetes' JSON schemas come from the ``kubernetes-validate`` package, which ships
one directory per Kubernetes minor (``v1.30.0-local``: ``<kind>-<group>-<version>.json``
plus ``_definitions.json``). The package picks the newest minor not newer than the
target; so does :func:`schema_version`, comparing versions as numbers. A file is used
only when its ``x-kubernetes-group-version-kind`` names the object's own group, so a
custom resource called ``Deployment`` in ``apps.example.org`` is never checked against
``apps/v1``.

A CRD's ``openAPIV3Schema`` is OpenAPI, not JSON Schema: :func:`openapi_to_jsonschema`
turns ``nullable`` into a ``null`` type and ``x-kubernetes-int-or-string`` into
integer-or-string, as the API server reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from lsp_render.core.errors import InputError

__all__ = [
    "available_versions",
    "builtin_schema",
    "crd_schemas",
    "openapi_to_jsonschema",
    "schema_version",
]

_PACKAGE = "kubernetes_validate"
_SCHEMAS = "kubernetes-json-schema"
_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def _root() -> Any:
    try:
        return resources.files(_PACKAGE).joinpath(_SCHEMAS)
    except ModuleNotFoundError:
        msg = "--validate needs the kubernetes-validate package: pip install kubernetes-validate"
        raise InputError(msg) from None


@cache
def available_versions() -> tuple[tuple[int, int], ...]:
    """List the Kubernetes minors ``kubernetes-validate`` has schemas for, oldest first."""
    found = []
    for entry in _root().iterdir():
        match = _DIR.match(entry.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return tuple(sorted(found))


def schema_version(kube_version: str | None) -> tuple[int, int]:
    """Pick the schema minor for a target version (None: the newest one shipped).

    Raises
    ------
    InputError
        When the version is malformed or outside what the package ships.
    """
    versions = available_versions()
    if not kube_version:
        return versions[-1]
    match = _VERSION.match(kube_version.strip())
    if match is None:
        msg = f"kube version '{kube_version}' is not a Kubernetes version like 1.30 or v1.30.2"
        raise InputError(msg)
    wanted = (int(match.group(1)), int(match.group(2)))
    usable = [v for v in versions if v <= wanted]
    if not usable or wanted > versions[-1]:
        first, last = versions[0], versions[-1]
        msg = (
            f"--validate has Kubernetes schemas for {first[0]}.{first[1]} to {last[0]}.{last[1]}, "
            f"not for {wanted[0]}.{wanted[1]} (upgrade kubernetes-validate or set --kube-version)"
        )
        raise InputError(msg)
    return usable[-1]


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


@cache
def _definitions(version: tuple[int, int]) -> dict[str, Any]:
    path = _root().joinpath(f"v{version[0]}.{version[1]}.0-local", "_definitions.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    # Both branches of IntOrString accept null, so oneOf would refuse a null; the API
    # server accepts it (an unset field).
    defs = data.get("$defs", {})
    if _INT_OR_STRING in defs:
        defs[_INT_OR_STRING] = {"anyOf": defs[_INT_OR_STRING].get("oneOf", [])}
    return data


@cache
def builtin_schema(
    version: tuple[int, int], api_version: str, kind: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Return Kubernetes' schema of a kind and the shared definitions, or None.

    Parameters
    ----------
    version
        The schema minor (:func:`schema_version`).
    api_version, kind
        The object's ``apiVersion`` and ``kind``.
    """
    group, gv_version = _group_version(api_version)
    short = group.split(".", 1)[0]
    name = (
        f"{kind.lower()}-{short}-{gv_version}.json"
        if group
        else f"{kind.lower()}-{gv_version}.json"
    )
    if "/" in name or name.startswith("."):
        return None
    path = _root().joinpath(f"v{version[0]}.{version[1]}.0-local", name)
    if not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(
        g.get("group", "") == group and g.get("version") == gv_version and g.get("kind") == kind
        for g in gvks
    ):
        return None
    definitions = _definitions(version)
    defs = definitions.get("$defs", {})
    inlined = _inline(schema, defs, {}, ())
    inlined["$defs"] = defs  # for the self-referring ones left as "#/$defs/..." references
    return inlined, definitions


_REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def _inline(node: Any, defs: dict[str, Any], memo: dict[str, Any], stack: tuple[str, ...]) -> Any:
    """Replace ``$ref``s to the shared definitions by the definitions themselves.

    Each definition is inlined once (shared, not copied); a definition that refers
    to itself keeps its ``$ref`` (resolved through the registry). Validating then
    walks plain dictionaries instead of resolving a reference per field, several
    times faster.
    """
    if isinstance(node, list):
        return [_inline(item, defs, memo, stack) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    prefix = next((p for p in _REF_PREFIXES if isinstance(ref, str) and ref.startswith(p)), None)
    if isinstance(ref, str) and prefix is not None:
        name = ref[len(prefix) :]
        if name in stack or name not in defs:
            return node
        if name not in memo:
            memo[name] = _inline(defs[name], defs, memo, (*stack, name))
        rest = {k: v for k, v in node.items() if k not in ("$ref", "description")}
        return {**rest, "allOf": [memo[name]]} if rest else memo[name]
    return {key: _inline(value, defs, memo, stack) for key, value in node.items()}


def openapi_to_jsonschema(node: Any) -> Any:
    """Turn a CRD's OpenAPI v3 schema into the JSON Schema the API server enforces."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: openapi_to_jsonschema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = openapi_to_jsonschema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = openapi_to_jsonschema(value)
        elif key == "format":
            continue  # formats are not enforced here (int32, date-time, ...)
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False):  # null passes every other rule (enum, pattern, ...)
        return {"anyOf": [{"type": "null"}, out]}
    return out


def crd_schemas(objects: list[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Map ``(apiVersion, kind)`` to the JSON Schema of every CRD among ``objects``."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        if not str(obj.get("apiVersion", "")).startswith("apiextensions.k8s.io/"):
            continue
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            continue
        group = spec.get("group")
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, dict) else None
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        common = spec.get("validation")  # v1beta1: one schema for every version
        for version in spec.get("versions") or []:
            if not isinstance(version, dict) or not isinstance(version.get("name"), str):
                continue
            schema = version.get("schema") if isinstance(version.get("schema"), dict) else common
            openapi = schema.get("openAPIV3Schema") if isinstance(schema, dict) else None
            if isinstance(openapi, dict):
                found[(f"{group}/{version['name']}", kind)] = openapi_to_jsonschema(openapi)
    return found
