"""``lsp-render migrate``: rewrite Argo CD Applications from AVP's plugin to lsp-render.

Each source of an ``Application`` (``spec.source``, ``spec.sources[]``; also an
``ApplicationSet``'s ``spec.template.spec``) whose plugin is argocd-vault-plugin
(``argocd-vault-plugin``, ``-helm``, ``-kustomize``, with or without a version
suffix, or a name given with ``--plugin-name``) or argocd-lovely-plugin becomes
``plugin: {name: lsp-render, parameters: [...]}``:

- ``HELM_VALUES`` (inline values) -> ``helm-parameters``, when every value reads
  back through ``--set`` as itself (strings, integers, booleans, null, non-empty
  lists and maps with plain keys);
- ``HELM_ARGS`` / ``LOVELY_HELM_TEMPLATE_PARAMS``: ``-f/--values FILE`` ->
  ``values-files``; ``--set k=v[,k=v]`` -> ``helm-parameters``; ``-n/--namespace``
  -> ``namespace``; ``--include-crds`` is lsp-render's default and is dropped;
- ``LOVELY_HELM_VALUES`` (space separated) -> ``values-files``;
  ``LOVELY_HELM_NAME`` -> ``release-name``; ``LOVELY_HELM_NAMESPACE`` ->
  ``namespace``; ``LOVELY_HELM_CRDS: "true"`` is the default and is dropped;
- Vault settings (``AVP_*``, ``VAULT_*``) are dropped with a note: under
  lsp-render only the sidecar's operator configures Vault (SPEC section 7);
- other variables (``ENV``...) stay as they are.

What has no faithful equivalent is refused, never guessed: a ``HELM_ARGS`` token
lsp-render has no parameter for (``--skip-tests``, ``--set-file``...), shell syntax
(``$``, ``|``, ``;``, backquotes, ``<(...)``: AVP's ``sh -c`` ran it), inline
values ``--set`` would retype (a float, ``"123"``, ``"true"``...) or mixed with
value files (their order is unknown), other ``LOVELY_*`` settings, existing
plugin parameters.

The file is edited with ruamel.yaml's round trip, so comments, key order and
quoting of everything else survive.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from lsp_render.core.errors import InputError

__all__ = ["PLUGIN_NAME", "Migration", "is_avp_plugin", "migrate_text"]

PLUGIN_NAME = "lsp-render"
_AVP = re.compile(r"argocd-vault-plugin(-helm|-kustomize)?(-v[0-9][0-9A-Za-z._-]*)?")
_LOVELY = re.compile(r"(argocd-)?lovely(-[0-9A-Za-z._-]+)?")
_SHELL = re.compile(r"[$`|;&<>(){}\\*?~\n]")
_VAULT_SETTING = re.compile(r"(AVP_|VAULT_)[A-Z0-9_]*")
_SET_PAIR = re.compile(r"(?<!\\),")
_SET_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SET_RETYPED = re.compile(r"(?i:true|false)|null|[+-]?[0-9]+|\{.*")


@dataclass(slots=True)
class Migration:
    """The outcome of migrating one file.

    Attributes
    ----------
    text
        The new text (the original when nothing changed).
    changed
        Applications rewritten (``Kind/name``).
    notes
        What was dropped on purpose, one line each.
    problems
        What could not be mapped, one line each (nothing may be written then).
    """

    text: str
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_avp_plugin(name: str, extra: Collection[str] = ()) -> bool:
    """Tell whether a plugin name is AVP's or lovely's (or one of ``extra``)."""
    return name in extra or bool(_AVP.fullmatch(name) or _LOVELY.fullmatch(name))


@dataclass(slots=True)
class _Params:
    values_files: list[str] = field(default_factory=list)
    helm_parameters: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    release_name: str | None = None

    def as_yaml(self) -> CommentedSeq:
        out = CommentedSeq()
        if self.values_files:
            out.append(CommentedMap([("name", "values-files"), ("array", self.values_files)]))
        if self.helm_parameters:
            mapping = CommentedMap(self.helm_parameters)
            out.append(CommentedMap([("name", "helm-parameters"), ("map", mapping)]))
        if self.release_name is not None:
            out.append(CommentedMap([("name", "release-name"), ("string", self.release_name)]))
        if self.namespace is not None:
            out.append(CommentedMap([("name", "namespace"), ("string", self.namespace)]))
        return out


def _helm_args(text: str, params: _Params, where: str, problems: list[str]) -> None:
    if _SHELL.search(text):
        problems.append(
            f"{where}: shell syntax in the Helm arguments (AVP ran them with sh -c); "
            "rewrite them by hand"
        )
        return
    tokens = shlex.split(text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        takes = name in ("-f", "--values", "--set", "-n", "--namespace")
        if not takes and token.startswith("-f") and len(token) > 2:
            name, eq, inline = "-f", "=", token[2:]
            takes = True
        if name == "--include-crds" and not eq:
            i += 1
            continue
        if not takes:
            problems.append(f"{where}: Helm argument {token!r} has no lsp-render parameter")
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(tokens):
            value = tokens[i + 1]
            i += 1
        else:
            problems.append(f"{where}: Helm argument {token!r} has no value")
            break
        i += 1
        if name in ("-f", "--values"):
            params.values_files.extend(v for v in value.split(",") if v)
        elif name in ("-n", "--namespace"):
            params.namespace = value
        else:
            _set(value, params, where, problems)


def _set(value: str, params: _Params, where: str, problems: list[str]) -> None:
    for pair in _SET_PAIR.split(value):
        key, eq, item = pair.partition("=")
        if not eq or not key or any(ch in item for ch in "{}[]\\"):
            problems.append(f"{where}: --set {pair!r} has no faithful helm-parameters form")
            continue
        params.helm_parameters[key] = item


def _flatten(value: Any, key: str, out: dict[str, str]) -> str | None:
    """Write ``value`` as ``--set`` pairs that Helm reads back as the same value.

    Returns why it cannot, or ``None``. Helm's ``--set`` types a value itself
    (``true``/``false`` in any case, ``null``, integers; ``{a,b}`` is a list), so a
    string that would be read as something else, a float, an empty string, list
    or map, or a key needing escapes is refused.
    """
    if isinstance(value, dict | list):
        if not value:
            return f"{key or 'the values'} is empty"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for name, item in items:
            if isinstance(name, int):
                sub = f"{key}[{name}]"
            elif isinstance(name, str) and _SET_KEY.fullmatch(name):
                sub = f"{key}.{name}" if key else name
            else:
                return f"key {name!r} under {key or 'the top'} needs escaping"
            problem = _flatten(item, sub, out) if sub.strip("[]0123456789") else "not a map"
            if problem is not None:
                return problem
        return None
    text = _set_text(value)
    if text is None or not key:
        return f"{key or 'the values'} would change type as a --set value"
    out[key] = text
    return None


def _set_text(value: Any) -> str | None:
    """Return the ``--set`` text Helm reads back as ``value``, or ``None``."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return str(value)
    if isinstance(value, str) and value and not _SET_RETYPED.fullmatch(value):
        return value
    return None


def _helm_values(text: str, params: _Params, where: str, problems: list[str]) -> None:
    """Map inline values (AVP's ``-f <(echo "$HELM_VALUES")``) to ``helm-parameters``."""
    import yaml

    hint = "; move them into a values file of the application and list it in values-files"
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        problems.append(f"{where}: not valid YAML")
        return
    sets: dict[str, str] = {}
    problem = _flatten(values, "", sets) if values is not None else None
    if problem is not None:
        problems.append(f"{where}: {problem}{hint}")
    elif params.values_files or params.helm_parameters:
        problems.append(f"{where}: mixed with other Helm values, whose order is unknown{hint}")
    else:
        params.helm_parameters.update(sets)


def _env_entries(plugin: CommentedMap, where: str, problems: list[str]) -> list[Any]:
    env = plugin.get("env")
    if env is None:
        return []
    if not isinstance(env, list):
        problems.append(f"{where}: plugin.env is not a list")
        return []
    return list(env)


def _apply_env(
    entry: Any, params: _Params, where: str, notes: list[str], problems: list[str]
) -> bool:
    """Apply one env entry; return True when it stays in ``plugin.env``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        problems.append(f"{where}: malformed plugin.env entry")
        return True
    name = entry["name"]
    value = entry.get("value")
    text = str(value) if value is not None else ""
    at = f"{where}: plugin.env {name}"
    if name in ("HELM_ARGS", "LOVELY_HELM_TEMPLATE_PARAMS"):
        _helm_args(text, params, at, problems)
    elif name == "LOVELY_HELM_VALUES":
        if _SHELL.search(text):
            problems.append(f"{at}: shell syntax; rewrite it by hand")
        params.values_files.extend(text.split())
    elif name == "LOVELY_HELM_NAME":
        params.release_name = text
    elif name == "LOVELY_HELM_NAMESPACE":
        params.namespace = text
    elif name == "LOVELY_HELM_CRDS" and text.strip().lower() == "true":
        pass
    elif name == "HELM_VALUES":
        _helm_values(text, params, at, problems)
    elif name.startswith("LOVELY_"):
        problems.append(f"{at}: lovely setting without an lsp-render equivalent")
    elif _VAULT_SETTING.fullmatch(name):
        notes.append(
            f"{at} dropped: under lsp-render the sidecar's operator configures Vault "
            "(per project: the policy's role and paths)"
        )
    else:
        return True
    return False


def _migrate_source(source: Any, label: str, extra: Collection[str], result: Migration) -> bool:
    if not isinstance(source, dict):
        return False
    plugin = source.get("plugin")
    if not isinstance(plugin, CommentedMap) or not isinstance(plugin.get("name"), str):
        return False
    if not is_avp_plugin(plugin["name"], extra):
        return False
    where = f"{label} ({plugin['name']})"
    if plugin.get("parameters"):
        result.problems.append(f"{where}: plugin.parameters cannot be mapped; migrate by hand")
        return False
    params = _Params()
    kept = [
        entry
        for entry in _env_entries(plugin, where, result.problems)
        if _apply_env(entry, params, where, result.notes, result.problems)
    ]
    plugin["name"] = PLUGIN_NAME
    if kept:
        env = plugin["env"]
        env[:] = kept
    elif "env" in plugin:
        del plugin["env"]
    parameters = params.as_yaml()
    if parameters:
        plugin["parameters"] = parameters
    return True


def _sources(doc: Any) -> Iterator[tuple[Any, str]]:
    if not isinstance(doc, dict):
        return
    kind = doc.get("kind")
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    label = f"{kind}/{name}"
    spec = doc.get("spec")
    if kind == "ApplicationSet" and isinstance(spec, dict):
        template = spec.get("template")
        spec = template.get("spec") if isinstance(template, dict) else None
    elif kind != "Application":
        return
    if not isinstance(spec, dict):
        return
    if "source" in spec:
        yield spec["source"], label
    sources = spec.get("sources")
    if isinstance(sources, list):
        for index, source in enumerate(sources):
            yield source, f"{label} sources[{index}]"


def _yaml(indent: tuple[int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=indent[0], offset=indent[1])
    return yaml


def _guess_indent(text: str) -> tuple[int, int]:
    """Return (sequence, offset) as the file writes block sequences under a key."""
    match = re.search(r"^( *)[^\s#-][^\n]*:[ \t]*\n(?:[ \t]*#[^\n]*\n)*( *)- ", text, re.MULTILINE)
    if match is None:
        return 2, 0
    offset = max(0, len(match.group(2)) - len(match.group(1)))
    return offset + 2, offset


def migrate_text(text: str, *, label: str, extra_names: Collection[str] = ()) -> Migration:
    """Rewrite the AVP and lovely plugin sources of the Applications in ``text``.

    Parameters
    ----------
    text
        A YAML stream.
    label
        Names the file in messages.
    extra_names
        More plugin names to treat as AVP's (sidecars registered under their own
        names).

    Returns
    -------
    Migration
        The new text, the Applications changed, notes and problems.

    Raises
    ------
    InputError
        The file is not valid YAML.
    """
    indent = _guess_indent(text)
    yaml = _yaml(indent)
    try:
        docs = list(yaml.load_all(text))
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{label}{where}: not valid YAML") from None
    result = Migration(text)
    for doc in docs:
        for source, where in _sources(doc):
            if _migrate_source(source, f"{label}: {where}", extra_names, result):
                result.changed.append(where)
    if result.changed and not result.problems:
        out = io.StringIO()
        yaml.explicit_start = text.lstrip().startswith("---")
        yaml.dump_all(docs, out)
        result.text = out.getvalue()
    return result
