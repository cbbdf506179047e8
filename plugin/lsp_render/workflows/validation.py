"""``--validate`` and ``--strict``: check rendered objects against their schemas.

Each object is checked against the schema of its CRD when a CRD in the same
render defines its kind, else against Kubernetes' own schema of the target
version (:mod:`.schemas`). Objects of a kind with no schema are counted and
pass, unless ``--strict``. A failure names the object, the field path and the
rule broken, never the value found there (it may come from a secret).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from lsp_render.core.errors import RenderError
from lsp_render.core.manifests import Document
from lsp_render.workflows.schemas import builtin_schema, crd_schemas, schema_version

__all__ = ["ValidationError", "ValidationReport", "validate_documents"]

_MAX_RULE = 120


class ValidationError(RenderError):
    """Objects broke their schemas (exit 1)."""


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """A YAML 1.1 loader that keeps timestamps as the strings the API server receives."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What ``--validate`` found in one render.

    Attributes
    ----------
    version
        The Kubernetes minor whose schemas were used (``1.30``).
    checked
        Objects checked against a schema.
    unknown
        Objects of kinds without a schema, counted by ``apiVersion kind``.
    failures
        One line per object that broke its schema.
    """

    version: str
    checked: int = 0
    unknown: Counter[str] = field(default_factory=Counter)
    failures: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: how many objects were checked, and the kinds without schema."""
        line = f"validated {self.checked} objects against Kubernetes {self.version} schemas"
        if self.unknown:
            kinds = ", ".join(f"{name} ({n})" for name, n in sorted(self.unknown.items()))
            line += f"; {sum(self.unknown.values())} without schema: {kinds}"
        return line


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(object)"


def _short(value: Any) -> str:
    text = json_text(value)
    return text if len(text) <= _MAX_RULE else text[: _MAX_RULE - 3] + "..."


def json_text(value: Any) -> str:
    """Render a schema value compactly for a message."""
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _types(expected: Any) -> str:
    types = expected if isinstance(expected, list) else [expected]
    return " or ".join(dict.fromkeys(str(t) for t in types if t != "null"))


def _one_of(name: str, expected: Any) -> str:
    kinds = [s["type"] for s in expected if isinstance(s, dict) and "type" in s]
    if kinds:
        return "must be " + _types([t for k in kinds for t in (k if isinstance(k, list) else [k])])
    return f"must match {name} of the schema"


def _rule(error: Any) -> str:
    """Say which rule failed, from the schema's side only (never the value found)."""
    name, expected = error.validator, error.validator_value
    if name == "type":
        rule = "must be " + _types(expected)
        # null is no secret; it unsets a field the API server then finds missing
        return rule + ", not null (a required field left unset)" if error.instance is None else rule
    if name == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [key for key in expected if key not in instance]
        return f"required field {', '.join(missing)} is missing"
    if name in ("oneOf", "anyOf"):
        return _one_of(name, expected)
    fixed = {
        "additionalProperties": "unknown field (additionalProperties: false)",
        "enum": f"must be one of {_short(expected)}",
    }
    return fixed.get(name, f"{name}: {_short(expected)}")


def _leaf(error: Any) -> Any:
    """Look through a ``nullable`` wrapper (``anyOf: [null, schema]``) to the real error."""
    expected = error.validator_value
    if error.validator in ("anyOf", "oneOf") and error.instance is not None:
        nulls = [i for i, s in enumerate(expected) if s == {"type": "null"}]
        if nulls:
            inner = [e for e in error.context if e.relative_schema_path[0] not in nulls]
            if inner:
                return _leaf(min(inner, key=lambda e: list(map(str, e.absolute_path))))
    return error


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    ident = f"{namespace}/{name}" if namespace else str(name)
    return f"{obj.get('kind')} {ident}"


_HEAD = {
    key: re.compile(rf"^{key}:[ \t]*[\"']?([^\"'\s#]+)[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)
    for key in ("apiVersion", "kind")
}


def _head(text: str) -> tuple[str, str] | None:
    """Read ``apiVersion`` and ``kind`` from block-style YAML without parsing it (None: parse)."""
    found = [_HEAD[key].findall(text) for key in ("apiVersion", "kind")]
    if all(len(values) == 1 for values in found):
        return found[0][0], found[1][0]
    return None


def _parse(doc: Document) -> dict[str, Any] | None:
    try:
        obj = yaml.load(doc.text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        msg = f"{doc.source}: document is not valid YAML"
        raise ValidationError(msg) from None
    return _stringify_keys(obj) if isinstance(obj, dict) else None


def _stringify_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _stringify_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify_keys(v) for v in node]
    return node


def _validator(schema: dict[str, Any], definitions: dict[str, Any] | None) -> Any:
    import jsonschema

    if definitions is None:  # a CRD's schema: OpenAPI has no references
        return jsonschema.Draft202012Validator(schema)
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry()
    registry = Resource.from_contents(schema) @ registry
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


_CACHE: dict[Any, Any] = {}


def _builtin_validator(version: tuple[int, int], api_version: str, kind: str) -> Any | None:
    key = (version, api_version, kind)
    if key not in _CACHE:
        found = builtin_schema(version, api_version, kind)
        _CACHE[key] = _validator(*found) if found is not None else None
    return _CACHE[key]


def validate_documents(
    docs: Sequence[Document], *, kube_version: str | None, strict: bool, label: str
) -> ValidationReport:
    """Check every object of a render; raise on the first render with a failure.

    Parameters
    ----------
    docs
        The rendered documents.
    kube_version
        The target Kubernetes version (None: the newest shipped schemas).
    strict
        Also fail on objects whose kind has no schema.
    label
        Names the application in the error.

    Returns
    -------
    ValidationReport
        What was checked (when nothing failed).

    Raises
    ------
    ValidationError
        Exit 1, one line: the first failures (object, field path, rule).
    InputError
        The kube version is outside the shipped schemas, or the package is missing.
    """
    version = schema_version(kube_version)
    # Parse only what a schema will check: kinds without one are counted from their head.
    heads = [(doc, _head(doc.text)) for doc in docs]
    parsed = {
        id(doc): _parse(doc)
        for doc, head in heads
        if head is None or head[1] == "CustomResourceDefinition"
    }
    crds = crd_schemas([obj for obj in parsed.values() if obj is not None])
    crd_validators = {key: _validator(schema, None) for key, schema in crds.items()}
    checked = 0
    unknown: Counter[str] = Counter()
    failures: list[str] = []
    for doc, found_head in heads:
        obj = parsed.get(id(doc))
        head = found_head
        if head is None:
            if obj is None:
                continue
            head = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        api_version, kind = head
        validator = crd_validators.get(head) or _builtin_validator(version, api_version, kind)
        if validator is None:
            unknown[f"{api_version} {kind}"] += 1
            continue
        obj = obj if obj is not None else _parse(doc)
        if obj is None:
            continue
        checked += 1
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            found = [_leaf(error) for error in errors]
            rules = "; ".join(f"{_path(list(e.absolute_path))}: {_rule(e)}" for e in found)
            failures.append(f"{_name(obj)}: {rules}")
    report = ValidationReport(f"{version[0]}.{version[1]}", checked, unknown, tuple(failures))
    if strict and unknown:
        kinds = ", ".join(sorted(unknown))
        failures.append(f"no schema for {kinds} (--strict)")
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        msg = f"{label}: validation failed: {'; '.join(failures[:3])}{more}"
        raise ValidationError(msg)
    return report
