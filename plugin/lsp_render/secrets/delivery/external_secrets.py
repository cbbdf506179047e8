"""``delivery: external-secrets``: a v1 Secret with placeholders becomes an ESO ``ExternalSecret``.

The object (``external-secrets.io/v1``):

- ``spec.target.name`` is the Secret's name; ``spec.target.template`` carries its
  type, labels and annotations, and its keys without placeholders;
- ``spec.data`` has one entry per placeholder: ``secretKey``, and ``remoteRef``
  with ``key`` (the path under the mount, without KV v2's ``data/``),
  ``property`` (the key) and ``version`` when one is given;
- ``spec.secretStoreRef`` is the store ``secrets.secretStores`` names for the
  mount of the first placeholder; an entry read through another mount's store
  names it in its own ``sourceRef.storeRef``, so a Secret may draw from several
  mounts and paths;
- a key whose whole value is one placeholder is filled by its ``spec.data``
  entry directly (a leading ``jsonPath`` with a gjson twin becomes part of the
  property; a placeholder written directly in ``data`` is decoded with
  ``decodingStrategy: Base64``, unless it ends in ``| base64encode``);
- any other key with placeholders (text around them, several of them, other
  modifiers) is written by the target template, whose ``data`` then lists every
  key of the Secret (ESO's default ``mergePolicy: Replace``); without such keys,
  the template lists only the literal keys and merges the ``spec.data`` ones
  (``mergePolicy: Merge``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lsp_render.core.errors import InputError
from lsp_render.secrets.delivery.model import (
    SecretKey,
    SecretSpec,
    Use,
    escape_template_text,
    go_string,
)
from lsp_render.secrets.delivery.templates import gjson_path, key_template, literal_template
from lsp_render.secrets.modifiers import Modifier

__all__ = ["API_VERSION", "KIND", "external_secret"]

API_VERSION = "external-secrets.io/v1"
KIND = "ExternalSecret"

_SECRET_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]+")


@dataclass(frozen=True, slots=True)
class _Remote:
    store: str
    key: str
    property: str
    version: str | None
    decode: bool


def _property(use: Use, where: str) -> tuple[str, tuple[Modifier, ...]]:
    """Return the remoteRef property of ``use`` and the modifiers left after it."""
    modifiers = use.modifiers
    if modifiers and modifiers[0].name == "jsonPath":
        path = gjson_path(use.key, modifiers[0])
        if path is None:
            raise InputError(
                f"{where}: modifier jsonPath {modifiers[0].argument} has no gjson equivalent "
                "(only .name and [index] steps do); use inline delivery"
            )
        return path, modifiers[1:]
    if any(m.name == "jsonPath" for m in modifiers):
        raise InputError(
            f"{where}: modifier jsonPath after another modifier has no equivalent in "
            "External Secrets; use inline delivery"
        )
    return use.key, modifiers


class _Builder:
    def __init__(self, spec: SecretSpec, stores: Mapping[str, str], kind: str) -> None:
        self.spec = spec
        self.stores = stores
        self.kind = kind
        self.entries: list[dict[str, Any]] = []
        self.names: dict[str, _Remote] = {}
        self.by_remote: dict[_Remote, str] = {}
        self.default_store = self._store(spec.uses[0], spec.label)

    def _store(self, use: Use, where: str) -> str:
        store = self.stores.get(use.source.mount)
        if store is None:
            raise InputError(
                f"{where}: lsp-render.yaml secrets.secretStores names no store for Vault mount "
                f"'{use.source.mount}' (placeholder {use.label})"
            )
        return store

    def remote(self, use: Use, property_: str, *, decode: bool, where: str) -> _Remote:
        source = use.source
        return _Remote(self._store(use, where), source.sub, property_, source.version, decode)

    def add(self, remote: _Remote, name: str, *, exact: bool) -> str:
        """Add the ``spec.data`` entry reading ``remote``; return its secretKey.

        ``exact``: the entry fills the Secret key ``name`` itself (keys filled so
        are added first, so their names are free); otherwise an entry reading
        the same value is reused, or a free name derived from ``name`` is taken.
        """
        if exact:
            candidate = name
        else:
            known = self.by_remote.get(remote)
            if known is not None:
                return known
            base = _SECRET_KEY_CHARS.sub("-", name).strip("-") or "value"
            candidate, n = base, 1
            while candidate in self.names:
                n += 1
                candidate = f"{base}-{n}"
        self.names[candidate] = remote
        self.by_remote.setdefault(remote, candidate)
        ref: dict[str, Any] = {"key": remote.key, "property": remote.property}
        if remote.version is not None:
            ref["version"] = remote.version
        if remote.decode:
            ref["decodingStrategy"] = "Base64"
        entry: dict[str, Any] = {"secretKey": candidate, "remoteRef": ref}
        if remote.store != self.default_store:
            entry["sourceRef"] = {"storeRef": {"name": remote.store, "kind": self.kind}}
        self.entries.append(entry)
        return candidate

    def simple(self, key: SecretKey) -> bool:
        """Fill a key straight from ``spec.data`` when its whole value is one placeholder."""
        use = key.whole
        where = f"{self.spec.label}: {key.field}.{key.name}"
        if use is None:
            return False
        property_, rest = _property(use, where)
        if rest:
            return False
        self.add(self.remote(use, property_, decode=key.decode, where=where), key.name, exact=True)
        return True

    def templated(self, key: SecretKey) -> str:
        where = f"{self.spec.label}: {key.field}.{key.name}"

        def value(use: Use) -> tuple[str, tuple[Modifier, ...]]:
            property_, rest = _property(use, where)
            remote = self.remote(use, property_, decode=False, where=where)
            name = self.add(remote, use.key, exact=False)
            return "index . " + go_string(name), rest

        return key_template(key, value)


def external_secret(
    spec: SecretSpec, *, stores: Mapping[str, str], store_kind: str
) -> dict[str, Any]:
    """Build the ``ExternalSecret`` that delivers ``spec``.

    Parameters
    ----------
    spec
        The Secret.
    stores
        Vault mount to store name (``secrets.secretStores``).
    store_kind
        ``ClusterSecretStore`` or ``SecretStore``.

    Returns
    -------
    dict
        The object, keys in a fixed order.

    Raises
    ------
    InputError
        A mount without a store, or a modifier without an ESO equivalent (exit 2).
    """
    builder = _Builder(spec, stores, store_kind)
    templated: dict[str, str] = {}
    rest = []
    for key in spec.keys:
        if key.literal is None and not builder.simple(key):
            rest.append(key)
    for key in rest:
        templated[key.name] = builder.templated(key)
    data: dict[str, str] = {}
    for key in spec.keys:
        if key.literal is not None:
            data[key.name] = literal_template(key.literal)
        elif templated:
            data[key.name] = templated.get(key.name) or "{{ index . " + go_string(key.name) + " }}"
    template: dict[str, Any] = {"engineVersion": "v2", "type": spec.type or "Opaque"}
    metadata = _metadata(spec)
    if metadata:
        # ESO executes the template's labels and annotations as templates too
        template["metadata"] = {
            part: {k: escape_template_text(v) for k, v in values.items()}
            for part, values in metadata.items()
        }
    if data:
        template["data"] = data
        if not templated:
            template["mergePolicy"] = "Merge"
    target: dict[str, Any] = {"name": spec.name, "template": template}
    if spec.immutable is not None:
        target["immutable"] = spec.immutable
    head: dict[str, Any] = {"name": spec.name}
    if spec.namespace is not None:
        head["namespace"] = spec.namespace
    head.update(metadata)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": head,
        "spec": {
            "secretStoreRef": {"name": builder.default_store, "kind": store_kind},
            "target": target,
            "data": builder.entries,
        },
    }


def _metadata(spec: SecretSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.labels:
        out["labels"] = dict(spec.labels)
    if spec.annotations:
        out["annotations"] = dict(spec.annotations)
    return out
