"""Getting a Vault token: the static one (``token`` auth) or a login (the other methods).

Credentials come from the ``VaultConfig`` (the sidecar's environment) or from the
files it names, read here, at login time. A refused login is a ``SecretError``
naming the method and mount; a missing credential a ``BackendUnavailableError``
saying what to set. Neither ever includes a credential or a response body.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions

from lsp_render.core.errors import BackendUnavailableError, SecretError
from lsp_render.secrets.backends.vault_client import Retrier, status_of
from lsp_render.secrets.backends.vault_config import VaultConfig

__all__ = ["LoginResult", "cache_identity", "login", "static_token"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A token from a login and how long it lives.

    Attributes
    ----------
    token
        The client token.
    ttl
        ``auth.lease_duration`` in seconds (0: no expiry).

    """

    token: str = field(repr=False)
    ttl: float


def _read_secret_file(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"cannot read the Vault {what} from {path}: {exc.strerror or 'unreadable'}"
        raise BackendUnavailableError(msg) from None
    if not value:
        msg = f"the Vault {what} file {path} is empty"
        raise BackendUnavailableError(msg)
    return value


def _need(value: str | None, file: Path | None, what: str, variable: str) -> str:
    if value:
        return value
    if file is not None:
        return _read_secret_file(file, what)
    msg = f"Vault auth needs the {what}: set {variable}"
    raise BackendUnavailableError(msg)


def static_token(config: VaultConfig) -> str:
    """Return the token for ``token`` auth: ``VAULT_TOKEN``, else ``~/.vault-token``.

    Parameters
    ----------
    config
        The Vault settings.

    Returns
    -------
    str
        The token.

    Raises
    ------
    BackendUnavailableError
        Neither is there.

    """
    if config.token:
        _log.debug("vault: token from VAULT_TOKEN")
        return config.token
    if config.home is not None:
        path = config.home / ".vault-token"
        if path.is_file():
            _log.debug("vault: token from %s", path)
            return _read_secret_file(path, "token")
    msg = (
        "no Vault token: set VAULT_TOKEN, write ~/.vault-token, or choose a login "
        "method with LSP_RENDER_VAULT_AUTH (kubernetes, approle, userpass, github)"
    )
    raise BackendUnavailableError(msg)


def cache_identity(config: VaultConfig) -> tuple[str, ...]:
    """Return what a login token is valid for: the token cache's key.

    Parameters
    ----------
    config
        The Vault settings.

    Returns
    -------
    tuple of str
        Address, namespace, auth method, mount and role (the kubernetes role,
        the approle role_id, the userpass user, or a digest of the GitHub token).

    """
    if config.auth == "kubernetes":
        role = config.role or ""
    elif config.auth == "approle":
        role = config.role_id or ""
    elif config.auth == "userpass":
        role = config.username or ""
    else:
        role = hashlib.sha256((config.github_token or "").encode()).hexdigest()[:16]
    return (config.address, config.namespace or "", config.auth, config.auth_mount, role)


def login(client: hvac.Client, config: VaultConfig, retrier: Retrier) -> LoginResult:
    """Log in with the configured method and return the new token.

    Parameters
    ----------
    client
        The hvac client (its token is not changed).
    config
        The Vault settings.
    retrier
        Retries transient failures within the budget.

    Returns
    -------
    LoginResult
        The token and its lease.

    Raises
    ------
    SecretError
        Vault refused the login (400, 401, 403).
    BackendUnavailableError
        A credential is missing, or Vault could not be reached.

    """
    mount = config.auth_mount
    method = config.auth

    def call() -> Any:
        if method == "kubernetes":
            if not config.role:
                msg = "Vault kubernetes auth needs a role: set LSP_RENDER_VAULT_ROLE"
                raise BackendUnavailableError(msg)
            jwt = _read_secret_file(config.k8s_token_path, "service-account token")
            return client.auth.kubernetes.login(
                role=config.role, jwt=jwt, use_token=False, mount_point=mount
            )
        if method == "approle":
            role_id = _need(config.role_id, None, "approle role_id", "LSP_RENDER_VAULT_ROLE_ID")
            secret_id = _need(
                config.secret_id,
                config.secret_id_file,
                "approle secret_id",
                "LSP_RENDER_VAULT_SECRET_ID or LSP_RENDER_VAULT_SECRET_ID_FILE",
            )
            return client.auth.approle.login(
                role_id=role_id, secret_id=secret_id, use_token=False, mount_point=mount
            )
        if method == "userpass":
            username = _need(
                config.username, None, "userpass user name", "LSP_RENDER_VAULT_USERNAME"
            )
            password = _need(
                config.password,
                config.password_file,
                "userpass password",
                "LSP_RENDER_VAULT_PASSWORD or LSP_RENDER_VAULT_PASSWORD_FILE",
            )
            return client.auth.userpass.login(
                username=username, password=password, use_token=False, mount_point=mount
            )
        token = _need(
            config.github_token,
            config.github_token_file,
            "GitHub token",
            "LSP_RENDER_VAULT_GITHUB_TOKEN or LSP_RENDER_VAULT_GITHUB_TOKEN_FILE",
        )
        return client.auth.github.login(token=token, use_token=False, mount_point=mount)

    try:
        response = retrier.call(f"{method} login at auth/{mount}", call)
    except hvac.exceptions.VaultError as exc:
        status = status_of(exc)
        msg = (
            f"Vault refused the {method} login at auth/{mount}"
            f"{f' with role {config.role}' if method == 'kubernetes' and config.role else ''}"
            f" (HTTP {status or 'error'})"
        )
        raise SecretError(msg) from None
    auth = response.get("auth") if isinstance(response, dict) else None
    token = auth.get("client_token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        msg = f"Vault's answer to the {method} login at auth/{mount} holds no client token"
        raise SecretError(msg)
    lease = auth.get("lease_duration") if isinstance(auth, dict) else 0
    ttl = float(lease) if isinstance(lease, int | float) and not isinstance(lease, bool) else 0.0
    return LoginResult(token=token, ttl=ttl)
