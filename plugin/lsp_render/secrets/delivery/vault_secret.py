"""``delivery: vault-secret``: a v1 Secret becomes ricoberger's operator's ``VaultSecret``.

The ``ricoberger.de/v1alpha1`` ``VaultSecret`` (the operator Phalanx runs) copies
one Vault secret into a Secret of the same name, carrying the resource's own
labels and annotations. ``spec.path`` is the mount and the path under it (without
KV v2's ``data/``: the operator finds the KV version), ``type`` the Secret's
type, ``version`` when one is given. When every key is the Vault key of the same
name, ``keys`` lists them; otherwise every key is a template (Go templates with
``{% %}`` delimiters over ``.Secrets``, Sprig functions), since the operator then
writes only the templated keys. A Secret drawing from several paths fails with
exit 2.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from lsp_render.secrets.delivery.model import SecretSpec, one_source
from lsp_render.secrets.delivery.templates import key_template, literal_template, secrets_lookup

__all__ = ["API_VERSION", "DELIMS", "KIND", "vault_secret"]

API_VERSION = "ricoberger.de/v1alpha1"
KIND = "VaultSecret"
DELIMS = ("{%", "%}")
"""The operator's template delimiters."""


def vault_secret(spec: SecretSpec) -> dict[str, Any]:
    """Build the ``VaultSecret`` that delivers ``spec``.

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
    source = one_source(spec, "a VaultSecret")
    copied = all(
        (whole := key.whole) is not None
        and not whole.modifiers
        and not key.decode
        and whole.key == key.name
        for key in spec.keys
    )
    body: dict[str, Any] = {"path": f"{source.mount}/{source.sub}", "type": spec.type or "Opaque"}
    if source.version is not None:
        body["version"] = int(source.version)
    if copied:
        body["keys"] = [key.name for key in spec.keys]
    else:
        templates = {}
        for key in spec.keys:
            if key.literal is not None:
                templates[key.name] = literal_template(key.literal, DELIMS)
                continue
            value = partial(
                secrets_lookup, function="index", where=f"{spec.label}: {key.field}.{key.name}"
            )
            templates[key.name] = key_template(key, value, DELIMS)
        body["templates"] = templates
    head: dict[str, Any] = {"name": spec.name}
    if spec.namespace is not None:
        head["namespace"] = spec.namespace
    if spec.labels:
        head["labels"] = dict(spec.labels)
    if spec.annotations:
        head["annotations"] = dict(spec.annotations)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": head, "spec": body}
