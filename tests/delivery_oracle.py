"""Oracles for operator delivery: the operators' CRD schemas and a real Go template engine.

- :func:`validate` checks an emitted object against the ``openAPIV3Schema`` of the
  CRD vendored in ``tests/data/crds`` (ESO's ``ExternalSecret`` v1, VSO's
  ``VaultStaticSecret`` v1beta1), made strict the way the API server's pruning
  is: a field the schema does not name is an error here (the API server would
  silently drop it, which is worse).
- :func:`go_templates` executes Go templates with Sprig functions through Helm's
  own engine (lsp-render's Helm source: the ``helm`` binary or the embedded Go
  engine), the engine family both operators use for their templates.
- :func:`eso_secret` and :func:`vso_secret` compute the Secret each operator
  would write from the objects and a secrets file, following the operators'
  documented rules (ESO: ``remoteRef.property`` is the key or a gjson path,
  ``decodingStrategy: Base64``, template ``mergePolicy``; VSO: raw keys filtered by
  ``includes``/``excludes``, templates over ``.Secrets``), every template run by
  the real engine.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.cli_helpers import base_env, run

__all__ = ["eso_secret", "go_templates", "ricoberger_secret", "validate", "vso_secret"]

CRDS = Path(__file__).resolve().parent / "data" / "crds"
_FILES = {
    "ExternalSecret": ("external-secrets.io_externalsecrets.yaml", "v1"),
    "VaultStaticSecret": ("secrets.hashicorp.com_vaultstaticsecrets.yaml", "v1beta1"),
    "VaultSecret": ("ricoberger.de_vaultsecrets.yaml", "v1alpha1"),
}


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def _schema(kind: str) -> dict[str, Any]:
    name, version = _FILES[kind]
    crd = next(d for d in yaml.safe_load_all((CRDS / name).read_text()) if d)
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return _strict(entry["schema"]["openAPIV3Schema"])  # type: ignore[no-any-return]
    raise AssertionError(f"{name} has no version {version}")


def validate(obj: Mapping[str, Any]) -> None:
    """Validate ``obj`` against its CRD's published schema (raises ValidationError)."""
    jsonschema.Draft7Validator(_schema(str(obj["kind"]))).validate(obj)
    metadata = obj["metadata"]
    assert isinstance(metadata["name"], str) and metadata["name"]
    assert set(metadata) <= {"name", "namespace", "labels", "annotations"}


def go_templates(templates: Mapping[str, str], context: Any, tmp: Path) -> dict[str, bytes]:
    """Execute each template with ``context`` as ``.``; return the bytes each printed."""
    chart = tmp / f"gotpl-{len(list(tmp.glob('gotpl-*')))}"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: gotpl\nversion: 0.1.0\n")
    names = {f"t{i}": key for i, key in enumerate(templates)}
    defines = "".join(
        '{{ define "' + name + '" }}' + templates[key] + "{{ end }}" for name, key in names.items()
    )
    (chart / "templates" / "_t.tpl").write_text(defines)
    lines = "".join(
        f'  {name}: {{{{ include "{name}" .Values.ctx | b64enc | quote }}}}\n' for name in names
    )
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gotpl\ndata:\n" + lines
    )
    (chart / "values.yaml").write_text(json.dumps({"ctx": context}))
    result = run(["render", str(chart), "--no-secrets"], env=base_env(tmp))
    assert result.code == 0, result.stderr
    data = result.objects()[0]["data"]
    assert isinstance(data, dict)
    return {names[name]: base64.b64decode(value) for name, value in data.items()}


def _gjson(data: Any, path: str) -> Any:
    for raw in re.split(r"(?<!\\)\.", path):
        step = raw.replace("\\", "")
        data = data[int(step)] if isinstance(data, list) else data[step]
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _read(secrets: Mapping[str, Any], key: str, version: Any) -> Mapping[str, Any]:
    """Find the secret at ``key`` under any mount (the test files avoid clashes)."""
    want = (key, str(version) if version is not None else None)
    for path, data in secrets.items():
        base, _, number = path.partition("#")
        rest = base.partition("/")[2].removeprefix("data/")
        if (rest, number or None) == want:
            assert isinstance(data, Mapping)
            return data
    raise AssertionError(f"no secret {key} (version {version}) in the secrets file")


def eso_secret(obj: Mapping[str, Any], secrets: Mapping[str, Any], tmp: Path) -> dict[str, bytes]:
    """Return the Secret data ESO writes for ``obj`` (stores read the secrets file)."""
    values: dict[str, str] = {}
    for entry in obj["spec"]["data"]:
        ref = entry["remoteRef"]
        data = _read(secrets, ref["key"], ref.get("version"))
        prop = ref["property"]
        value = _text(data[prop] if prop in data else _gjson(data, prop))
        if ref.get("decodingStrategy") == "Base64":
            value = base64.b64decode(value).decode()
        values[entry["secretKey"]] = value
    template = obj["spec"]["target"].get("template", {})
    rendered = go_templates(template.get("data", {}), values, tmp) if template.get("data") else {}
    if not template.get("data") or template.get("mergePolicy") == "Merge":
        return {**{k: v.encode() for k, v in values.items()}, **rendered}
    return rendered


def vso_secret(obj: Mapping[str, Any], secrets: Mapping[str, Any], tmp: Path) -> dict[str, bytes]:
    """Return the Secret data VSO writes for ``obj`` (Vault is the secrets file)."""
    spec = obj["spec"]
    data = _read(secrets, spec["path"], spec.get("version"))
    transformation = spec["destination"].get("transformation", {})
    raw = {k: _text(v).encode() for k, v in data.items()}
    if transformation.get("excludes"):
        raw = {
            k: v
            for k, v in raw.items()
            if not any(re.search(p, k) for p in transformation["excludes"])
        }
    if transformation.get("includes"):
        raw = {
            k: v for k, v in raw.items() if any(re.search(p, k) for p in transformation["includes"])
        }
    templates = {k: t["text"] for k, t in transformation.get("templates", {}).items()}
    rendered = go_templates(templates, {"Secrets": dict(data)}, tmp) if templates else {}
    return {**raw, **rendered}


def ricoberger_secret(
    obj: Mapping[str, Any], secrets: Mapping[str, Any], tmp: Path
) -> dict[str, bytes]:
    """Return the Secret data ricoberger's operator writes for ``obj``.

    Its templates use ``{% %}`` delimiters; Helm's engine takes ``{{ }}``, so the
    delimiters are swapped first (the templates given here hold no literal braces).
    """
    spec = obj["spec"]
    data = _read(secrets, spec["path"].partition("/")[2], spec.get("version"))
    strings = {k: _text(v) for k, v in data.items()}
    if "templates" not in spec:
        keys = spec.get("keys") or list(strings)
        return {k: strings[k].encode() for k in keys}
    templates = {k: t.replace("{%", "{{").replace("%}", "}}") for k, t in spec["templates"].items()}
    return go_templates(templates, {"Secrets": strings}, tmp)
