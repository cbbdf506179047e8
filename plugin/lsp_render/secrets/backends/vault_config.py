"""Vault settings, read only from the sidecar's own environment.

Nothing an Application can set reaches these settings: variables whose name
starts with ``ARGOCD_ENV_`` are dropped before any lookup, so
``ARGOCD_ENV_VAULT_ADDR`` or ``ARGOCD_ENV_LSP_RENDER_VAULT_ROLE`` are ignored.
Where an lsp-render name and an AVP alias are both set, the lsp-render name wins.
Credentials read from files (``*_FILE``, ``~/.vault-token``, the Kubernetes
service-account token) are read at login time, not here.

Variables (``|`` separates an lsp-render name from its AVP aliases):

``VAULT_ADDR``
    Vault address, e.g. ``https://vault:8200`` (required).
``VAULT_TOKEN``
    Token for ``token`` auth; else the file ``~/.vault-token``.
``VAULT_NAMESPACE``
    Enterprise namespace, sent as ``X-Vault-Namespace``.
``VAULT_CACERT``, ``VAULT_CAPATH``
    CA file (PEM), or directory of hashed CA files (``openssl rehash``), to verify
    Vault's certificate; ``VAULT_CACERT`` wins when both are set, as for the vault
    CLI. A name that does not exist is an error.
``VAULT_CLIENT_CERT``, ``VAULT_CLIENT_KEY``
    Client certificate and key (PEM) for TLS client auth; both or neither.
``VAULT_SKIP_VERIFY``
    ``true``: do not verify Vault's certificate (default ``false``).
``VAULT_TLS_SERVER_NAME``
    Name sent in SNI and checked against Vault's certificate instead of the
    host of ``VAULT_ADDR``.
``AVP_TYPE``
    ``vault`` or unset; any other backend of AVP is refused as not supported.
``LSP_RENDER_VAULT_AUTH`` | ``AVP_AUTH_TYPE``
    ``token`` (default), ``kubernetes`` (``k8s``), ``approle``, ``userpass``, ``github``.
``LSP_RENDER_VAULT_AUTH_MOUNT`` | ``AVP_K8S_MOUNT_PATH`` (kubernetes), ``AVP_MOUNT_PATH``
    Auth mount, with or without ``auth/``; default the method's name
    (``auth/kubernetes``, ``auth/approle``, ...). For kubernetes, AVP's own
    order: ``AVP_K8S_MOUNT_PATH`` when set, else ``AVP_MOUNT_PATH``.
``LSP_RENDER_VAULT_ROLE`` | ``AVP_K8S_ROLE``
    Kubernetes login role. The operator policy's ``role`` overrides it.
``LSP_RENDER_VAULT_K8S_TOKEN_PATH`` | ``AVP_K8S_TOKEN_PATH``
    Service-account JWT for kubernetes auth
    (default ``/var/run/secrets/kubernetes.io/serviceaccount/token``).
``LSP_RENDER_VAULT_ROLE_ID`` | ``AVP_ROLE_ID``
    AppRole ``role_id``. The operator policy's ``role`` overrides it.
``LSP_RENDER_VAULT_SECRET_ID`` | ``AVP_SECRET_ID``; ``LSP_RENDER_VAULT_SECRET_ID_FILE``
    AppRole ``secret_id``, or a file holding it.
``LSP_RENDER_VAULT_USERNAME`` | ``AVP_USERNAME``
    Userpass user name.
``LSP_RENDER_VAULT_PASSWORD`` | ``AVP_PASSWORD``; ``LSP_RENDER_VAULT_PASSWORD_FILE``
    Userpass password, or a file holding it.
``LSP_RENDER_VAULT_GITHUB_TOKEN`` | ``AVP_GITHUB_TOKEN``; ``LSP_RENDER_VAULT_GITHUB_TOKEN_FILE``
    GitHub personal access token, or a file holding it.
``LSP_RENDER_VAULT_KV_VERSION`` | ``AVP_KV_VERSION``
    ``1`` or ``2`` for every mount; default: detected per mount. A placeholder's
    ``avp.kubernetes.io/kv-version`` annotation wins.
``LSP_RENDER_VAULT_TIMEOUT``
    Seconds per HTTP request (default ``10``).
``LSP_RENDER_VAULT_BUDGET``
    Seconds for all Vault traffic of one render, retries included (default ``40``,
    below Argo CD's 60 s repo-server deadline); past it the render exits 3.
``LSP_RENDER_VAULT_RETRIES``
    Attempts per request, the first included (default ``6``).
``LSP_RENDER_VAULT_BACKOFF``
    First retry delay in seconds, doubled each retry (capped at 5 s), with
    jitter (default ``0.2``).
``LSP_RENDER_VAULT_TOKEN_CACHE``
    ``false``: never cache login tokens on disk (default ``true``).
``XDG_CACHE_HOME``, ``HOME``
    The token cache lives in ``$XDG_CACHE_HOME/lsp-render`` (else
    ``~/.cache/lsp-render``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lsp_render.core.errors import InputError

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_K8S_TOKEN_PATH",
    "VaultConfig",
    "check_backend_type",
    "hostile_free",
]

AUTH_METHODS = ("token", "kubernetes", "approle", "userpass", "github")
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105
_AUTH_ALIASES = {"k8s": "kubernetes", "kube": "kubernetes", "app-role": "approle"}
_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}


def hostile_free(environ: Mapping[str, str]) -> dict[str, str]:
    """Return ``environ`` without the variables an Argo CD Application controls.

    Parameters
    ----------
    environ
        The process environment.

    Returns
    -------
    dict
        Every variable except those starting with ``ARGOCD_ENV_``.

    """
    return {k: v for k, v in environ.items() if not k.startswith("ARGOCD_ENV_")}


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value.strip()
    return None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"{name} must be true or false, not {raw!r}"
    raise InputError(msg)


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip().removesuffix("s"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        msg = f"{name} must be a number of at least {minimum:g}, not {raw!r}"
        raise InputError(msg)
    return value


def _mount(raw: str | None, default: str) -> str:
    if raw is None:
        return default
    mount = raw.strip().strip("/").removeprefix("auth/").strip("/")
    return mount or default


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """Everything the Vault backend needs to know, from the sidecar's environment.

    Attributes
    ----------
    address
        ``VAULT_ADDR`` without a trailing slash.
    namespace
        ``VAULT_NAMESPACE`` or ``None``.
    auth
        One of ``AUTH_METHODS``.
    auth_mount
        Auth mount without ``auth/`` (``kubernetes``, ``approle``, ...).
    role
        Kubernetes login role.
    token, role_id, secret_id, username, password, github_token
        Credentials given directly in the environment (never shown in ``repr``).
    secret_id_file, password_file, github_token_file, k8s_token_path
        Files holding credentials, read at login time.
    home
        ``HOME``, for ``~/.vault-token`` and the default cache directory.
    cache_dir
        Token cache directory, or ``None`` when caching is off.
    kv_version
        ``1`` or ``2`` for every mount, or ``None`` to detect per mount.
    timeout, budget
        Seconds per request and for all traffic of a render.
    retries, backoff
        Attempts per request and the first retry delay.
    verify
        ``requests``' ``verify``: ``False``, ``True`` or a CA file or directory.
    cert
        Client certificate and key files, or ``None``.
    server_name
        ``VAULT_TLS_SERVER_NAME``, or ``None``.

    """

    address: str
    namespace: str | None = None
    auth: str = "token"
    auth_mount: str = "token"
    role: str | None = None
    token: str | None = field(default=None, repr=False)
    role_id: str | None = field(default=None, repr=False)
    secret_id: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    github_token: str | None = field(default=None, repr=False)
    secret_id_file: Path | None = None
    password_file: Path | None = None
    github_token_file: Path | None = None
    k8s_token_path: Path = Path(DEFAULT_K8S_TOKEN_PATH)
    home: Path | None = None
    cache_dir: Path | None = None
    kv_version: int | None = None
    timeout: float = 10.0
    budget: float = 40.0
    retries: int = 6
    backoff: float = 0.2
    verify: bool | str = True
    cert: tuple[str, str] | None = None
    server_name: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, role: str | None = None) -> VaultConfig:
        """Read the configuration from the sidecar's environment.

        Parameters
        ----------
        environ
            The process environment; ``ARGOCD_ENV_*`` variables are ignored.
        role
            Login role from the operator policy; overrides the configured role
            (kubernetes) or role_id (approle).

        Returns
        -------
        VaultConfig
            The settings.

        Raises
        ------
        InputError
            ``VAULT_ADDR`` is missing, or a variable has an invalid value.

        """
        env = hostile_free(environ)
        address = _first(env, "VAULT_ADDR")
        if address is None:
            msg = "VAULT_ADDR is not set: the Vault backend needs the address of Vault"
            raise InputError(msg)
        if not address.startswith(("http://", "https://")):
            msg = f"VAULT_ADDR must start with http:// or https://, not {address!r}"
            raise InputError(msg)
        check_backend_type(env)
        raw_auth = (_first(env, "LSP_RENDER_VAULT_AUTH", "AVP_AUTH_TYPE") or "token").lower()
        auth = _AUTH_ALIASES.get(raw_auth, raw_auth)
        if auth not in AUTH_METHODS:
            msg = (
                f"LSP_RENDER_VAULT_AUTH must be one of {', '.join(AUTH_METHODS)}, not {raw_auth!r}"
            )
            raise InputError(msg)
        # AVP (pkg/config/config.go): kubernetes prefers AVP_K8S_MOUNT_PATH, else AVP_MOUNT_PATH.
        aliases = ("AVP_K8S_MOUNT_PATH",) if auth == "kubernetes" else ()
        auth_mount = _mount(
            _first(env, "LSP_RENDER_VAULT_AUTH_MOUNT", *aliases, "AVP_MOUNT_PATH"), auth
        )
        kv_raw = _first(env, "LSP_RENDER_VAULT_KV_VERSION", "AVP_KV_VERSION")
        if kv_raw not in (None, "1", "2"):
            msg = f"LSP_RENDER_VAULT_KV_VERSION must be 1 or 2, not {kv_raw!r}"
            raise InputError(msg)
        home_raw = _first(env, "HOME")
        home = Path(home_raw) if home_raw else None
        return cls(
            address=address.rstrip("/"),
            namespace=_first(env, "VAULT_NAMESPACE"),
            auth=auth,
            auth_mount=auth_mount,
            role=role
            if auth == "kubernetes" and role
            else _first(env, "LSP_RENDER_VAULT_ROLE", "AVP_K8S_ROLE"),
            token=_first(env, "VAULT_TOKEN"),
            role_id=role
            if auth == "approle" and role
            else _first(env, "LSP_RENDER_VAULT_ROLE_ID", "AVP_ROLE_ID"),
            secret_id=_first(env, "LSP_RENDER_VAULT_SECRET_ID", "AVP_SECRET_ID"),
            username=_first(env, "LSP_RENDER_VAULT_USERNAME", "AVP_USERNAME"),
            password=_first(env, "LSP_RENDER_VAULT_PASSWORD", "AVP_PASSWORD"),
            github_token=_first(env, "LSP_RENDER_VAULT_GITHUB_TOKEN", "AVP_GITHUB_TOKEN"),
            secret_id_file=_path(env, "LSP_RENDER_VAULT_SECRET_ID_FILE"),
            password_file=_path(env, "LSP_RENDER_VAULT_PASSWORD_FILE"),
            github_token_file=_path(env, "LSP_RENDER_VAULT_GITHUB_TOKEN_FILE"),
            k8s_token_path=Path(
                _first(env, "LSP_RENDER_VAULT_K8S_TOKEN_PATH", "AVP_K8S_TOKEN_PATH")
                or DEFAULT_K8S_TOKEN_PATH
            ),
            home=home,
            cache_dir=_cache_dir(env, home)
            if _bool(env, "LSP_RENDER_VAULT_TOKEN_CACHE", default=True)
            else None,
            kv_version=int(kv_raw) if kv_raw else None,
            timeout=_number(env, "LSP_RENDER_VAULT_TIMEOUT", 10.0, minimum=0.1),
            budget=_number(env, "LSP_RENDER_VAULT_BUDGET", 40.0, minimum=0.1),
            retries=int(_number(env, "LSP_RENDER_VAULT_RETRIES", 6, minimum=1)),
            backoff=_number(env, "LSP_RENDER_VAULT_BACKOFF", 0.2, minimum=0.0),
            verify=_verify(env),
            cert=_cert(env),
            server_name=_first(env, "VAULT_TLS_SERVER_NAME"),
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = _first(env, name)
    return Path(value) if value else None


def _cache_dir(env: Mapping[str, str], home: Path | None) -> Path | None:
    xdg = _first(env, "XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "lsp-render"
    if home is not None:
        return home / ".cache" / "lsp-render"
    return None


def check_backend_type(environ: Mapping[str, str]) -> None:
    """Refuse an ``AVP_TYPE`` other than ``vault`` (AVP's other backends are not supported).

    Parameters
    ----------
    environ
        The process environment; ``ARGOCD_ENV_*`` is ignored.

    Raises
    ------
    InputError
        ``AVP_TYPE`` names another backend.

    """
    kind = _first(hostile_free(environ), "AVP_TYPE")
    if kind is not None and kind.lower() != "vault":
        msg = (
            f"AVP_TYPE {kind!r} is not supported: lsp-render reads secrets from Vault "
            "(AVP_TYPE=vault, or unset)"
        )
        raise InputError(msg)


def _existing(env: Mapping[str, str], name: str, *, directory: bool) -> str | None:
    value = _first(env, name)
    if value is None:
        return None
    path = Path(value)
    if not (path.is_dir() if directory else path.is_file()):
        what = "directory" if directory else "file"
        msg = f"{name} names no readable {what}: {value}"
        raise InputError(msg)
    return value


def _verify(env: Mapping[str, str]) -> bool | str:
    if _bool(env, "VAULT_SKIP_VERIFY", default=False):
        return False
    cacert = _existing(env, "VAULT_CACERT", directory=False)
    if cacert is not None:
        return cacert
    return _existing(env, "VAULT_CAPATH", directory=True) or True


def _cert(env: Mapping[str, str]) -> tuple[str, str] | None:
    cert = _existing(env, "VAULT_CLIENT_CERT", directory=False)
    key = _existing(env, "VAULT_CLIENT_KEY", directory=False)
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        msg = "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY must be set together"
        raise InputError(msg)
    return (cert, key)
