"""``delivery: vault-secrets-operator``: a v1 Secret becomes HashiCorp VSO's ``VaultStaticSecret``.

A ``VaultStaticSecret`` (``secrets.hashicorp.com/v1beta1``) copies ONE Vault
secret into one Kubernetes Secret, so the Secret must draw every placeholder from
one path (and one version); a Secret drawing from several fails with exit 2,
saying why.

The object: ``mount``, ``path`` (under the mount, without ``data/``), ``type``
(``kv-v2`` or ``kv-v1``: ``avp.kubernetes.io/kv-version``, else
``AVP_KV_VERSION``, else 2), ``version`` when one is given, and ``destination``
with the Secret's name, ``create: true``, its labels, annotations and type.
A key whose whole value is the Vault key of the same name is copied as VSO
copies every key; every other key (renamed, with text around the placeholder,
with modifiers, or literal) is a transformation template. ``includes`` names the
copied keys (anchored patterns) so that the Secret holds exactly its own keys, not
every key of the Vault secret; without copied keys, ``excludes: [".*"]`` keeps
only the templates. VSO has no ``immutable``; a Secret's ``immutable`` is dropped.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from lsp_render.secrets.delivery.model import SecretSpec, one_source
from lsp_render.secrets.delivery.templates import key_template, literal_template, secrets_lookup

__all__ = ["API_VERSION", "KIND", "vault_static_secret"]

API_VERSION = "secrets.hashicorp.com/v1beta1"
KIND = "VaultStaticSecret"

_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _anchored(name: str) -> str:
    return "^" + _RE2_SPECIAL.sub(r"\\\1", name) + "$"


def vault_static_secret(spec: SecretSpec) -> dict[str, Any]:
    """Build the ``VaultStaticSecret`` that delivers ``spec``.

    Parameters
    ----------
    spec
        The Secret.

    Returns
    -------
    dict
        The object, keys in a fixed order.

    Raises
    ------
    InputError
        The Secret draws from several paths or versions, or a modifier has no
        template equivalent (exit 2).
    """
    source = one_source(spec, "a VaultStaticSecret")
    copied: list[str] = []
    templates: dict[str, Any] = {}
    for key in spec.keys:
        where = f"{spec.label}: {key.field}.{key.name}"
        if key.literal is not None:
            templates[key.name] = {"text": literal_template(key.literal)}
            continue
        whole = key.whole
        if whole is not None and not whole.modifiers and not key.decode and whole.key == key.name:
            copied.append(key.name)
            continue
        templates[key.name] = {
            "text": key_template(key, partial(secrets_lookup, function="get", where=where))
        }
    destination: dict[str, Any] = {"name": spec.name, "create": True}
    if spec.labels:
        destination["labels"] = dict(spec.labels)
    if spec.annotations:
        destination["annotations"] = dict(spec.annotations)
    destination["type"] = spec.type or "Opaque"
    transformation: dict[str, Any] = {}
    if templates:
        transformation["templates"] = templates
    if copied:
        transformation["includes"] = [_anchored(name) for name in copied]
    else:
        transformation["excludes"] = [".*"]
    destination["transformation"] = transformation
    body: dict[str, Any] = {
        "mount": source.mount,
        "path": source.sub,
        "type": f"kv-v{source.kv}",
    }
    if source.version is not None:
        body["version"] = int(source.version)
    body["destination"] = destination
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": _head(spec), "spec": body}


def _head(spec: SecretSpec) -> dict[str, Any]:
    head: dict[str, Any] = {"name": spec.name}
    if spec.namespace is not None:
        head["namespace"] = spec.namespace
    if spec.labels:
        head["labels"] = dict(spec.labels)
    if spec.annotations:
        head["annotations"] = dict(spec.annotations)
    return head
