"""Where the operator lets secret values appear: ``kinds``, and streamed sources.

Argo CD masks only the ``data`` and ``stringData`` of core v1 Secrets in its UI,
API and diffs; a value anywhere else (a ConfigMap, a label, an annotation, a
custom resource) is shown in clear to anyone who may see the application. And
``argocd app manifests|diff --local`` renders uncommitted files streamed from a
laptop (``ARGOCD_APP_REVISION=streamed``) with the sidecar's Vault credentials.
The operator policy (``secrets.policy``) closes both:

- ``kinds``: :func:`check_plans` refuses a placeholder outside the allowed
  kinds (exit 1, naming the kind, the object and the field), before any Vault
  request; ``Secret`` allows only the ``data`` and ``stringData`` of a v1
  Secret. With ``resolveInValues`` the rendered output is checked instead
  (:func:`check_resolved`): no form of a value read from Vault may appear
  outside the allowed places.
- ``streamed``: :func:`streamed_backend` fails the render (exit 1) or, with
  ``streamed: mask``, answers every placeholder with a masked value: Vault is
  never read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import PolicyError
from lsp_render.core.filenames import policy_file
from lsp_render.secrets.backend import SecretRef, SecretResult

if TYPE_CHECKING:
    from lsp_render.core.context import RenderRequest
    from lsp_render.core.manifests import Document
    from lsp_render.secrets.document import DocumentPlan

__all__ = [
    "STREAMED",
    "UNREAD",
    "UnreadBackend",
    "check_plans",
    "check_resolved",
    "streamed_backend",
]

STREAMED = "streamed"
"""``ARGOCD_APP_REVISION`` of files streamed by ``argocd app manifests|diff --local``."""

UNREAD: Mapping[str, Any] = MappingProxyType({})
"""The data of a secret that was deliberately not read: every placeholder is masked."""

_MASKED_FIELDS = ("data", "stringData")
_WHY_CLEAR = "Argo CD masks only the data and stringData of v1 Secrets and shows the rest in clear"


class UnreadBackend:
    """A backend that reads nothing: every secret is :data:`UNREAD` (masked)."""

    def read(self, refs: Collection[SecretRef]) -> dict[SecretRef, SecretResult]:
        """Return :data:`UNREAD` for every reference, without any traffic."""
        return {ref: SecretResult(data=UNREAD, error=None) for ref in refs}

    def close(self) -> None:
        """Nothing to release."""


def streamed_backend(request: RenderRequest, example: str) -> UnreadBackend | None:
    """Decide what a render of streamed sources does with its placeholders.

    Parameters
    ----------
    request
        The render.
    example
        A document or file with placeholders, for the message.

    Returns
    -------
    UnreadBackend or None
        ``None`` for a render of a committed revision; the masking backend with
        ``streamed: mask``.

    Raises
    ------
    PolicyError
        Streamed sources and no ``streamed: mask`` in the policy.
    """
    if request.app.revision.strip() != STREAMED:
        return None
    from lsp_render.secrets import policy

    loaded = policy.applicable(request)
    mode = "fail"
    if loaded is not None:
        _, whole, entry = loaded
        mode = (entry.streamed if entry is not None else None) or whole.streamed
    if mode == "mask":
        return UnreadBackend()
    msg = (
        f"{example}: ARGOCD_APP_REVISION=streamed (argocd app manifests/diff --local): "
        "placeholders in uncommitted files are not resolved from Vault; the operator "
        "policy may set 'streamed: mask' to show them masked"
    )
    raise PolicyError(msg)


def _allowed_kinds(request: RenderRequest) -> tuple[Path, str, tuple[str, ...]] | None:
    if not policy_file(request.environ):
        return None  # no policy: every kind, and no import of pydantic (~60 ms)
    from lsp_render.secrets import policy

    loaded = policy.applicable(request)
    if loaded is None:
        return None
    file, _, entry = loaded
    if entry is None or entry.kinds is None or "*" in entry.kinds:
        return None
    return file, request.app.project, entry.kinds


def _allowed(kinds: Sequence[str], kind: str, api_version: str, path: Sequence[Any]) -> bool:
    if kind == "Secret" and api_version == "v1":
        return "Secret" in kinds and len(path) >= 2 and path[0] in _MASKED_FIELDS
    return kind in kinds and kind != "Secret"


def _identity(text: str) -> tuple[str, str, dict[str, Any] | None]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        obj = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return "", "", None
    if not isinstance(obj, dict):
        return "", "", None
    return str(obj.get("kind", "")), str(obj.get("apiVersion", "")), obj


def _refusal(
    label: str, field: str, allowed: tuple[Path, str, tuple[str, ...]], kind: str
) -> PolicyError:
    del kind
    file, project, kinds = allowed
    return PolicyError(
        f"{label}: a secret value in {field} is not allowed: the policy {file} lets project "
        f"{project!r} place them only in {', '.join(kinds)} ({_WHY_CLEAR})"
    )


def _field_path(field: str) -> list[str]:
    return field.split(".", 1)


def check_plans(plans: Iterable[DocumentPlan], request: RenderRequest) -> None:
    """Refuse placeholders outside the kinds the policy allows (before any Vault request).

    Parameters
    ----------
    plans
        The documents with placeholders.
    request
        The render.

    Raises
    ------
    PolicyError
        A placeholder where the policy's ``kinds`` do not allow one.
    InputError
        The policy file is unreadable or malformed.
    """
    plans = list(plans)
    allowed = _allowed_kinds(request) if plans else None
    if allowed is None:
        return
    for plan in plans:
        kind, api_version, _ = _identity(plan.doc.text)
        for site in plan.sites:
            if not _allowed(allowed[2], kind, api_version, _field_path(site.field)):
                raise _refusal(plan.label, site.field, allowed, kind)


def check_resolved(
    docs: Sequence[Document], values: Collection[str], request: RenderRequest
) -> None:
    """Refuse output where a value resolved in Helm values appears outside the allowed kinds.

    Parameters
    ----------
    docs
        The rendered documents (``resolveInValues``: after Helm ran).
    values
        The strings resolved from secrets.
    request
        The render.

    Raises
    ------
    PolicyError
        A form of a resolved value (exact, base64, escaped, ...) in a place the
        policy's ``kinds`` do not allow.
    """
    allowed = _allowed_kinds(request) if values else None
    if allowed is None:
        return
    from lsp_render.core.redaction import secret_forms

    # Six characters at least: shorter values (a port, "true") would refuse innocent output.
    forms = sorted({f for v in values for f in secret_forms(v) if len(f) >= 6}, key=len)
    for doc in docs:
        if not any(form in doc.text for form in forms):
            continue
        kind, api_version, obj = _identity(doc.text)
        name = ""
        if obj is not None and isinstance(obj.get("metadata"), dict):
            name = str(obj["metadata"].get("name", ""))
        label = f"{kind or 'document'}/{name} ({doc.source})"
        for path, text in _strings(obj if obj is not None else doc.text, []):
            if any(form in text for form in forms) and not _allowed(
                allowed[2], kind, api_version, path
            ):
                raise _refusal(label, _dotted(path), allowed, kind)


def _strings(node: Any, path: list[Any]) -> Iterable[tuple[list[Any], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, str(key)  # a key is shown even where its value is masked
            yield from _strings(value, [*path, key])
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, [*path, index])
    elif node is not None:
        yield path, str(node)


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"
