"""Operator delivery: secrets that never reach Argo CD in clear (``secrets.delivery``).

With ``delivery: inline`` (the default) placeholders are substituted with values
read from Vault. Any other mode reads nothing: each v1 Secret holding
placeholders is replaced by the custom resource of an in-cluster operator that
fetches the values itself, so the rendered manifests (cached by Argo CD, shown
by ``argocd app manifests``) hold only references:

- ``external-secrets``: an External Secrets Operator ``ExternalSecret``
  (:mod:`.external_secrets`);
- ``vault-secrets-operator``: a HashiCorp VSO ``VaultStaticSecret``
  (:mod:`.vault_secrets_operator`);
- ``vault-secret``: ricoberger's vault-secrets-operator ``VaultSecret``
  (:mod:`.vault_secret`), which Phalanx runs.

The operator's policy may force a mode per project (``delivery:``); an
application's ``secrets.delivery`` cannot change it. In these modes there is no
Vault request and no Vault configuration is needed; ``--secrets-file``,
``--no-secrets`` and ``--mask-secrets`` concern inline delivery only. The
policy's paths and ``AVP_PATH_VALIDATION`` still apply to every placeholder.
A placeholder outside the data of a v1 Secret fails (exit 1): no operator can
deliver it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lsp_render.core.filenames import policy_file

if TYPE_CHECKING:
    from lsp_render.config.app import SecretsConfig
    from lsp_render.core.context import RenderRequest
    from lsp_render.core.manifests import Document
    from lsp_render.secrets.delivery.model import SecretSpec

__all__ = ["INLINE", "MODES", "deliver", "delivery_mode"]

INLINE = "inline"
MODES = (INLINE, "external-secrets", "vault-secrets-operator", "vault-secret")
"""Every delivery mode (``secrets.delivery`` and the policy's ``delivery:``)."""


def delivery_mode(request: RenderRequest, config: SecretsConfig | None) -> str:
    """Return the delivery mode of a render: the policy's for the project, else the app's.

    Parameters
    ----------
    request
        The render (its environment names the policy file).
    config
        The ``secrets`` section of ``lsp-render.yaml``, or ``None``.

    Returns
    -------
    str
        One of :data:`MODES`.

    Raises
    ------
    InputError
        The policy file is unreadable or malformed.
    """
    if policy_file(request.environ):
        from lsp_render.secrets.policy import forced_delivery

        forced = forced_delivery(request)
        if forced is not None:
            return forced
    return config.delivery if config is not None else INLINE


def _build(spec: SecretSpec, mode: str, config: SecretsConfig | None) -> dict[str, Any]:
    if mode == "external-secrets":
        from lsp_render.secrets.delivery.external_secrets import external_secret

        return external_secret(
            spec,
            stores=config.secret_stores if config is not None else {},
            store_kind=config.secret_store_kind if config is not None else "ClusterSecretStore",
        )
    if mode == "vault-secrets-operator":
        from lsp_render.secrets.delivery.vault_secrets_operator import vault_static_secret

        return vault_static_secret(spec)
    from lsp_render.secrets.delivery.vault_secret import vault_secret

    return vault_secret(spec)


def deliver(
    docs: Sequence[Document],
    candidates: Collection[int],
    request: RenderRequest,
    *,
    mode: str,
    config: SecretsConfig | None,
    check_paths: Callable[[Sequence[str]], None],
) -> list[Document]:
    """Replace each v1 Secret holding placeholders by its operator's custom resource.

    Parameters
    ----------
    docs
        The rendered documents.
    candidates
        Indexes of the documents the raw-text check flagged.
    request
        The render.
    mode
        An operator mode of :data:`MODES`.
    config
        The ``secrets`` section of ``lsp-render.yaml`` (stores), or ``None``.
    check_paths
        Checks every Vault path against the policy (raises on refusal).

    Returns
    -------
    list of Document
        The documents; those without placeholders are the same objects.

    Raises
    ------
    RenderError
        A placeholder outside the data of a v1 Secret (exit 1); the policy
        refuses a path (``PolicyError``, exit 1).
    InputError
        A malformed placeholder or Secret, a mount without a store, a modifier
        without an equivalent, a VaultStaticSecret drawing from several paths
        (exit 2).
    """
    import yaml

    from lsp_render.secrets.delivery.emit import dump_object
    from lsp_render.secrets.delivery.model import read_secret, refuse_outside
    from lsp_render.secrets.document import plan_document

    out = list(docs)
    mounts = tuple(config.secret_stores) if config is not None else ()
    specs: list[tuple[int, SecretSpec]] = []
    for index in sorted(candidates):
        plan = plan_document(out[index], request.environ)
        if plan is None:
            continue
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        obj = yaml.load(plan.doc.text, Loader=loader)  # noqa: S506 - a safe loader
        is_secret = isinstance(obj, Mapping) and (obj.get("apiVersion"), obj.get("kind")) == (
            "v1",
            "Secret",
        )
        for site in plan.sites:
            if not is_secret or not site.field.startswith(("data.", "stringData.")):
                first = site.bounds[0].placeholder.label
                raise refuse_outside(plan.label, site.field, first, mode)
        assert isinstance(obj, Mapping)  # noqa: S101 - is_secret
        specs.append(
            (index, read_secret(obj, label=plan.label, environ=request.environ, mounts=mounts))
        )
    check_paths(sorted({use.source.path for _, spec in specs for use in spec.uses}))
    for index, spec in specs:
        out[index] = out[index].with_text(dump_object(_build(spec, mode, config), out[index].text))
    return out
