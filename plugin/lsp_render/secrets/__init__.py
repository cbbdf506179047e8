"""Vault placeholders (AVP-compatible): find them, read their secrets once, substitute them.

Two entry points, both with one backend read per render:

- :func:`substitute_documents` for the rendered manifests: a raw-text check picks
  the documents that may hold placeholders; only those are parsed; every secret
  of the whole stream is collected and deduplicated first, then read in one
  ``backend.read`` call, then written. A stream without placeholders creates no
  backend and returns the very same ``Document`` objects.
- :func:`resolve_values` for Helm values (``secrets.resolveInValues``).

Backend choice (lazily, only when a placeholder exists): ``--no-secrets`` leaves
placeholders as they are; ``--secrets-file`` uses the file backend; else
``VAULT_ADDR`` in the sidecar's environment uses Vault; else the render fails with
exit 3 saying how to configure one. Before any backend exists, the operator policy
(``policy.enforce``) and ``AVP_PATH_VALIDATION`` check every path.

Nothing heavy is imported here at module level (no hvac, no YAML parser, no Jinja2).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import BackendUnavailableError
from lsp_render.core.filenames import policy_file

if TYPE_CHECKING:
    from lsp_render.config.app import SecretsConfig
    from lsp_render.core.context import RenderRequest
    from lsp_render.core.manifests import Document
    from lsp_render.secrets.backend import SecretBackend, SecretRef, SecretResult

__all__ = [
    "BackendFactory",
    "looks_for_placeholders",
    "open_backend",
    "resolve_values",
    "substitute_documents",
]


BackendFactory = Callable[[], "SecretBackend"]
"""Makes the backend in place of the configured one (embedding, test doubles of the protocol)."""


def looks_for_placeholders(request: RenderRequest, config: SecretsConfig | None) -> bool:
    """Tell whether :func:`substitute_documents` checks the documents for placeholders.

    Not with ``--no-secrets`` when secrets are delivered inline (no operator
    delivery in ``lsp-render.yaml`` or the operator's policy): they are left as
    they are, unread.
    """
    inline_only = (config is None or config.delivery == "inline") and not policy_file(
        request.environ
    )
    return not (request.secrets.no_secrets and inline_only)


def substitute_documents(
    docs: Sequence[Document],
    request: RenderRequest,
    *,
    backend_factory: BackendFactory | None = None,
    shielded: Collection[str] = (),
    config: SecretsConfig | None = None,
) -> list[Document]:
    """Substitute the placeholders of a rendered stream (or hand them to an operator).

    Parameters
    ----------
    docs
        The documents, in stream order.
    request
        The render (secret options, environment, app).
    backend_factory
        Called (once, after the policy checks) instead of choosing the backend from
        ``request``; never called when there is no placeholder.
    shielded
        Texts that came from secrets before the render (``resolveInValues``):
        placeholders inside them, plain or JSON-escaped, are their content, never
        expanded again (SPEC 5).
    config
        The ``secrets`` section of ``lsp-render.yaml``: an operator delivery mode
        (``secrets.delivery``, unless the policy forces one) turns Secrets into
        operator resources instead (:mod:`lsp_render.secrets.delivery`).

    Returns
    -------
    list of Document
        The documents; those without placeholders are the same objects.

    Raises
    ------
    InputError
        A malformed placeholder, unknown modifier, bad annotation or invalid YAML
        (exit 2).
    SecretError
        A secret, key or version is missing, or a modifier failed (exit 1).
    PolicyError
        The operator's policy or ``AVP_PATH_VALIDATION`` refuses a path (exit 1).
    BackendUnavailableError
        No backend is configured, or it cannot be reached (exit 3).
    """
    out = list(docs)
    if not looks_for_placeholders(request, config):
        return out
    from lsp_render.secrets.scan import is_candidate

    candidates = [index for index, doc in enumerate(out) if is_candidate(doc.text)]
    if not candidates:
        return out  # without importing the parser, the modifiers and their JSONPath
    from lsp_render.secrets.delivery import INLINE, deliver, delivery_mode

    mode = delivery_mode(request, config)
    if mode != INLINE:
        return deliver(
            out,
            candidates,
            request,
            mode=mode,
            config=config,
            check_paths=lambda paths: _check_paths(paths, request),
        )
    if request.secrets.no_secrets:
        return out
    from lsp_render.secrets.document import apply_plan, plan_document
    from lsp_render.secrets.shield import Shield

    shield = Shield.of(shielded)
    plans = []
    for index in candidates:
        plan = plan_document(out[index], request.environ, shield=shield)
        if plan is not None:
            plans.append((index, plan))
    if not plans:
        return out
    from lsp_render.secrets.exposure import check_plans

    check_plans((plan for _, plan in plans), request)  # the policy's kinds, before Vault
    refs: set[SecretRef] = set()
    for _, plan in plans:
        refs |= plan.refs
    results = _read_all(refs, request, example=plans[0][1].label, factory=backend_factory)
    mask = request.secrets.mask_secrets
    for index, plan in plans:
        out[index] = apply_plan(plan, results, mask=mask)
    return out


def resolve_values(
    values: dict[str, Any],
    request: RenderRequest,
    *,
    source: str,
    backend_factory: BackendFactory | None = None,
    written: set[str] | None = None,
    config: SecretsConfig | None = None,
) -> dict[str, Any]:
    """Substitute inline placeholders in Helm values before the chart renders.

    Parameters
    ----------
    values
        The merged values (not changed).
    request
        The render.
    source
        Names the values in messages (``app (Helm values)``).
    backend_factory
        As for :func:`substitute_documents`.
    written
        Receives every string a secret put into the values; pass them to
        :func:`substitute_documents` as ``shielded``.
    config
        As for :func:`substitute_documents`: under an operator delivery mode the
        values are returned as they are (no Vault read).

    Returns
    -------
    dict
        A copy with every placeholder in a string value substituted (a
        whole-string placeholder that resolves to a non-string gives that value).

    Raises
    ------
    InputError, SecretError, PolicyError, BackendUnavailableError
        As :func:`substitute_documents`.
    """
    if request.secrets.no_secrets:
        return values
    from lsp_render.secrets.delivery import INLINE, delivery_mode

    if delivery_mode(request, config) != INLINE:
        return values  # the placeholders reach the manifests, and the operator
    from lsp_render.secrets.values import plan_values, substitute_values

    sites = plan_values(values, request.environ, source=source)
    if not sites:
        return values
    refs = {bound.ref for site in sites for bound in site.bounds}
    results = _read_all(refs, request, example=source, factory=backend_factory)
    return substitute_values(
        values, sites, results, source=source, mask=request.secrets.mask_secrets, written=written
    )


def _read_all(
    refs: Collection[SecretRef],
    request: RenderRequest,
    *,
    example: str,
    factory: BackendFactory | None,
) -> Mapping[SecretRef, SecretResult]:
    backend = open_backend(
        sorted({ref.path for ref in refs}), request, example=example, factory=factory
    )
    try:
        results = backend.read(refs)
    finally:
        backend.close()
    from lsp_render.secrets.recorder import record

    record(results)  # for diff's masking; a no-op otherwise
    return results


def open_backend(
    paths: Sequence[str],
    request: RenderRequest,
    *,
    example: str,
    factory: BackendFactory | None = None,
) -> SecretBackend:
    """Check the paths against the policy, then create the configured backend.

    Parameters
    ----------
    paths
        Every distinct secret path of the render.
    request
        The render.
    example
        A document or file with placeholders, for the no-backend message.
    factory
        Makes the backend instead of the configuration.

    Returns
    -------
    SecretBackend
        The file backend (``--secrets-file``) or the Vault backend (``VAULT_ADDR``).

    Raises
    ------
    PolicyError
        A path the policy or ``AVP_PATH_VALIDATION`` refuses.
    BackendUnavailableError
        No backend is configured.
    """
    from lsp_render.secrets.exposure import streamed_backend
    from lsp_render.secrets.path_validation import validate_paths

    role = None
    if policy_file(request.environ):  # else spare pydantic's import
        from lsp_render.secrets import policy

        role = policy.enforce(paths, request)
    validate_paths(paths, request.environ)
    streamed = streamed_backend(request, example)  # argocd --local: never read Vault
    if streamed is not None:
        return streamed
    if factory is not None:
        return factory()
    if request.secrets.secrets_file is not None:
        from lsp_render.secrets.backends.file import FileBackend

        return FileBackend.from_file(request.secrets.secrets_file)
    from lsp_render.secrets.backends.vault_config import check_backend_type

    check_backend_type(request.environ)  # AVP_TYPE=sops etc.: exit 2, not "no backend"
    if request.environ.get("VAULT_ADDR"):
        from lsp_render.secrets.backends.vault import VaultBackend

        return VaultBackend.from_environ(request.environ, role=role)
    raise BackendUnavailableError(
        f"{example} holds Vault placeholders but no secret backend is configured: set VAULT_ADDR "
        "(with Vault credentials), pass --secrets-file FILE, or pass --no-secrets to leave "
        "placeholders as they are"
    )


def _check_paths(paths: Sequence[str], request: RenderRequest) -> None:
    """Check paths against the policy and ``AVP_PATH_VALIDATION`` (operator delivery)."""
    from lsp_render.secrets.path_validation import validate_paths

    if policy_file(request.environ):
        from lsp_render.secrets import policy

        policy.enforce(paths, request)
    validate_paths(paths, request.environ)
