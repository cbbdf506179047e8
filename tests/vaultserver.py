"""A Vault-compatible HTTP server for the tests (no Vault binary can be installed here).

It answers the part of Vault's HTTP API lsp-render speaks the way Vault documents
it (developer.hashicorp.com/vault/api-docs): the response envelope, ``{"errors":
[...]}`` with Vault's status codes, KV v1 and v2 mounts with versions, soft
deletes and destroyed versions, ``sys/internal/ui/mounts``, ``sys/health``,
``auth/token/lookup-self``, and logins for kubernetes (role + jwt), approle
(role_id + secret_id), userpass (``login/<user>``) and github (token). Tokens
have a TTL and policies (lists of path globs; anything else is ``403 permission
denied``). ``X-Vault-Namespace`` prefixes every path. A sealed Vault answers 503
to everything; a standby without an active node 503 (and 429 on sys/health).

Knobs a real Vault does not have, for fault tests: ``latency`` (seconds added to
every request), ``drop_next(n)`` (close the connection without an answer),
``queue_status(*codes)`` (answer the next requests with these codes),
``expire_token(token)``, ``redirect_to`` (answer requests with ``307`` to that
base URL, as a standby Vault does; ``redirect_limit`` of them, -1 for all),
``drip`` (seconds between the bytes of every response body; with
``drip_headers``, of the status line and headers too),
``queue_fault("truncated" | "short")`` (the
next answer's JSON cut in half: with a matching ``Content-Length``, or with the
full length and the connection closed), ``ssl_context`` (serve HTTPS), and
``log``: every request served, as (method, path, token name, namespace, status,
whether an ``X-Vault-Token`` header came), never a value or a token.
``max_in_flight`` records how many requests overlapped.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["LoggedRequest", "VaultServer"]

PERMISSION_DENIED = "1 error occurred:\n\t* permission denied\n\n"


def _now_iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), UTC).isoformat()


@dataclass
class _Version:
    data: dict[str, Any] | None
    created: float
    deleted: float | None = None
    destroyed: bool = False


@dataclass
class _Mount:
    version: int
    secrets: dict[str, list[_Version]] = field(default_factory=dict)


@dataclass
class _Token:
    token: str
    accessor: str
    name: str
    policies: list[str]
    ttl: int
    issued: float
    expired: bool = False

    def valid(self) -> bool:
        if self.expired:
            return False
        return self.ttl == 0 or time.time() < self.issued + self.ttl


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server served: no values, no tokens.

    Attributes
    ----------
    method, path
        HTTP method and URL path (without the query), e.g. ``/v1/secret/data/app``.
    query
        The query string (``version=3``).
    token
        The name of the token used (``root``, ``kubernetes-team-a``), or ``None``.
    namespace
        ``X-Vault-Namespace`` or ``None``.
    status
        Status code answered (0: the connection was dropped).
    sent_token
        Whether the request carried an ``X-Vault-Token`` header (known or not).
    """

    method: str
    path: str
    query: str
    token: str | None
    namespace: str | None
    status: int
    sent_token: bool = False


@dataclass
class _Login:
    secret: str
    policies: list[str]
    ttl: int
    name: str


class VaultServer:
    """The server and its state; start with ``start()``, stop with ``stop()``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.mounts: dict[str, _Mount] = {}
        self.policies: dict[str, list[str]] = {"root": ["*"]}
        self.tokens: dict[str, _Token] = {}
        self.auth_mounts: dict[str, str] = {}
        self.logins: dict[tuple[str, str], _Login] = {}
        self.sealed = False
        self.standby = False
        self.latency = 0.0
        self.redirect_to: str | None = None
        self.redirect_limit = -1  # redirects still to send (-1: every request)
        self.drip = 0.0
        self.drip_headers = False  # drip the status line and headers too
        self.ssl_context: ssl.SSLContext | None = None
        self._faults: deque[str] = deque()
        self._drops = 0
        self._statuses: deque[int] = deque()
        self.log: list[LoggedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.root_token = self.create_token(["root"], ttl=0, name="root")
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> VaultServer:
        """Listen on 127.0.0.1, a random port, in a background thread."""
        server = self

        class Handler(_Handler):
            vault = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.ssl_context is not None:
            context = self.ssl_context
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def address(self) -> str:
        """Return ``http://127.0.0.1:PORT`` (``https://`` with an ``ssl_context``)."""
        assert self._httpd is not None
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    # -- state ----------------------------------------------------------------------------

    def add_kv_mount(self, path: str, version: int) -> None:
        """Mount a KV engine (``secret``, ``kv``, ``ns1/secret``) of version 1 or 2."""
        with self.lock:
            self.mounts[path.strip("/") + "/"] = _Mount(version)

    def put(self, path: str, data: Mapping[str, Any]) -> int:
        """Write a secret at ``MOUNT/PATH`` (no ``data/``); return its new version."""
        mount_path, mount = self._mount_of(path.strip("/"))
        sub = path.strip("/")[len(mount_path) :]
        with self.lock:
            versions = mount.secrets.setdefault(sub, [])
            if mount.version == 1:
                versions[:] = []
            versions.append(_Version(dict(data), time.time()))
            return len(versions)

    def delete_version(self, path: str, version: int) -> None:
        """Soft-delete one version (KV v2)."""
        self._version(path, version).deleted = time.time()

    def destroy_version(self, path: str, version: int) -> None:
        """Destroy one version (KV v2): its data is gone."""
        entry = self._version(path, version)
        entry.destroyed = True
        entry.data = None

    def add_policy(self, name: str, paths: Iterable[str]) -> None:
        """Define a policy: API paths (globs, ``*`` matches ``/``) it may read."""
        with self.lock:
            self.policies[name] = list(paths)

    def create_token(self, policies: Iterable[str], *, ttl: int = 3600, name: str = "") -> str:
        """Issue a token (``ttl`` 0: never expires) and return it."""
        token = "hvs." + uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = _Token(
                token=token,
                accessor=uuid.uuid4().hex[:24],
                name=name or f"token-{len(self.tokens)}",
                policies=list(policies),
                ttl=ttl,
                issued=time.time(),
            )
        return token

    def enable_auth(self, mount: str, method: str) -> None:
        """Enable an auth method (kubernetes, approle, userpass, github) at ``auth/MOUNT``."""
        with self.lock:
            self.auth_mounts[mount.strip("/")] = method

    def add_login(
        self,
        mount: str,
        identity: str,
        secret: str,
        *,
        policies: Iterable[str],
        ttl: int = 3600,
    ) -> None:
        """Accept a login at ``auth/MOUNT``.

        ``identity``/``secret`` are: kubernetes role/jwt, approle role_id/secret_id,
        userpass user/password, github ``""``/token.
        """
        method = self.auth_mounts[mount.strip("/")]
        with self.lock:
            self.logins[(mount.strip("/"), identity)] = _Login(
                secret, list(policies), ttl, f"{method}-{identity or 'user'}"
            )

    def token_info(self, token: str) -> _Token:
        """Return the record of an issued token."""
        with self.lock:
            return self.tokens[token]

    # -- knobs ----------------------------------------------------------------------------

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` requests without answering."""
        with self.lock:
            self._drops += count

    def queue_fault(self, *faults: str) -> None:
        """Spoil the next answers: ``truncated`` (half the JSON, its own length) or
        ``short`` (half the JSON, the full length announced, the connection closed)."""
        with self.lock:
            self._faults.extend(faults)

    def queue_status(self, *codes: int) -> None:
        """Answer the next requests with these status codes (and Vault's error body)."""
        with self.lock:
            self._statuses.extend(codes)

    def expire_token(self, token: str) -> None:
        """Make a token invalid now, as if its TTL ran out."""
        with self.lock:
            self.tokens[token].expired = True

    def requests(self, method: str | None = None, prefix: str = "") -> list[LoggedRequest]:
        """Return the logged requests, filtered by method and path prefix."""
        with self.lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and r.path.startswith(prefix)
            ]

    def logins_served(self) -> list[LoggedRequest]:
        """Return the login requests served."""
        return [r for r in self.requests("POST", "/v1/auth/") if "/login" in r.path]

    def reset_log(self) -> None:
        """Forget the request log and the concurrency high-water mark."""
        with self.lock:
            self.log.clear()
            self.max_in_flight = 0

    # -- internals ------------------------------------------------------------------------

    def _mount_of(self, full: str) -> tuple[str, _Mount]:
        with self.lock:
            best = ""
            for path in self.mounts:
                if (full + "/").startswith(path) and len(path) > len(best):
                    best = path
            if not best:
                raise KeyError(full)
            return best, self.mounts[best]

    def _version(self, path: str, version: int) -> _Version:
        mount_path, mount = self._mount_of(path.strip("/"))
        return mount.secrets[path.strip("/")[len(mount_path) :]][version - 1]

    def take_fault(self) -> int | str | None:
        """Return "drop", a status code, or ``None`` for the next request."""
        with self.lock:
            if self._drops:
                self._drops -= 1
                return "drop"
            if self._statuses:
                return self._statuses.popleft()
            if self._faults:
                return self._faults.popleft()
            return None

    def take_redirect(self) -> bool:
        """Whether to redirect this request (``redirect_limit`` counts down, -1 is endless)."""
        with self.lock:
            if self.redirect_limit == 0:
                return False
            if self.redirect_limit > 0:
                self.redirect_limit -= 1
            return True

    def may_read(self, token: _Token, api_path: str) -> bool:
        """Whether the token's policies cover ``api_path`` (no leading ``/v1/``)."""
        with self.lock:
            patterns = [p for name in token.policies for p in self.policies.get(name, [])]
        return any(fnmatchcase(api_path, p) for p in patterns)


def _envelope(data: Any = None, auth: Any = None, lease: int = 0) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": lease,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": auth,
    }


_ERROR_TEXT = {
    400: "invalid request",
    429: "rate limit quota exceeded",
    500: "internal error",
    502: "bad gateway",
    503: "Vault is sealed",
}


class _Handler(BaseHTTPRequestHandler):
    vault: VaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        vault = self.vault
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        token_id = self.headers.get("X-Vault-Token")
        namespace = self.headers.get("X-Vault-Namespace")
        with vault.lock:
            vault.in_flight += 1
            vault.max_in_flight = max(vault.max_in_flight, vault.in_flight)
            token = vault.tokens.get(token_id or "")
        try:
            if vault.latency:
                time.sleep(vault.latency)
            fault = vault.take_fault()
            if fault == "drop":
                self._log(method, url, token, namespace, 0)
                self.close_connection = True
                return
            if vault.redirect_to is not None and vault.take_redirect():
                self._log(method, url, token, namespace, 307)
                self._redirect(vault.redirect_to.rstrip("/") + self.path)
                return
            if isinstance(fault, int):
                status, body = fault, {"errors": [_ERROR_TEXT.get(fault, "error")]}
            else:
                status, body = self._route(method, url.path, parse_qs(url.query), raw, token)
            self._log(method, url, token, namespace, status)
            self._send(status, body, spoil=fault if isinstance(fault, str) else None)
        finally:
            with vault.lock:
                vault.in_flight -= 1

    def _log(
        self, method: str, url: Any, token: _Token | None, namespace: str | None, status: int
    ) -> None:
        with self.vault.lock:
            self.vault.log.append(
                LoggedRequest(
                    method,
                    unquote(url.path),
                    url.query,
                    token.name if token else None,
                    namespace,
                    status,
                    self.headers.get("X-Vault-Token") is not None,
                )
            )

    def _send(self, status: int, body: Any, spoil: str | None = None) -> None:
        payload = json.dumps(body).encode()
        length = len(payload)
        if spoil is not None:
            payload = payload[: len(payload) // 2]
            length = len(payload) if spoil == "truncated" else length
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up (timeout tests)
        if spoil == "short":
            self.close_connection = True

    def _redirect(self, location: str) -> None:
        payload = b""
        try:
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._write(payload)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def flush_headers(self) -> None:
        """Send the buffered status line and headers (byte by byte with ``drip_headers``)."""
        if not (self.vault.drip and self.vault.drip_headers):
            super().flush_headers()
            return
        buffered = getattr(self, "_headers_buffer", [])
        self._headers_buffer: list[bytes] = []
        self._write(b"".join(buffered))

    def _write(self, data: bytes) -> None:
        drip = self.vault.drip
        if not drip:
            self.wfile.write(data)
            return
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            time.sleep(drip)

    # -- routes ---------------------------------------------------------------------------

    def _route(  # noqa: PLR0911 - one return per route
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, token: _Token | None
    ) -> tuple[int, Any]:
        vault = self.vault
        path = unquote(path)
        if not path.startswith("/v1/"):
            return 404, {"errors": []}
        api = path[len("/v1/") :]
        if api == "sys/health":
            return self._health()
        if vault.sealed:
            return 503, {"errors": ["Vault is sealed"]}
        if vault.standby:
            return 503, {"errors": ["local node not active but active cluster node not found"]}
        namespace = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        full = f"{namespace}/{api}" if namespace else api
        if method in ("POST", "PUT") and api.startswith("auth/") and "/login" in api:
            return self._login(api, raw)
        if token is None or not token.valid():
            return 403, {"errors": ["permission denied"]}
        if api == "auth/token/lookup-self" and method == "GET":
            return self._lookup_self(token)
        if api.startswith("sys/internal/ui/mounts/") and method == "GET":
            return self._ui_mount(api[len("sys/internal/ui/mounts/") :], namespace, token)
        if method == "GET":
            return self._kv_read(full, namespace, query, token)
        return 405, {"errors": ["unsupported operation"]}

    def _health(self) -> tuple[int, Any]:
        vault = self.vault
        body = {
            "initialized": True,
            "sealed": vault.sealed,
            "standby": vault.standby and not vault.sealed,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": "1.17.0",
            "cluster_name": "vault-cluster-test",
            "cluster_id": "00000000-0000-0000-0000-000000000000",
        }
        if vault.sealed:
            return 503, body
        if vault.standby:
            return 429, body
        return 200, body

    def _login(self, api: str, raw: bytes) -> tuple[int, Any]:
        vault = self.vault
        head, _, user = api[len("auth/") :].partition("/login")
        mount = head.strip("/")
        method = vault.auth_mounts.get(mount)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"errors": ["failed to parse JSON input"]}
        if method is None:
            return 403, {"errors": [PERMISSION_DENIED]}
        user = user.strip("/")
        identity, secret = {
            "kubernetes": (body.get("role", ""), body.get("jwt", "")),
            "approle": (body.get("role_id", ""), body.get("secret_id", "")),
            "userpass": (user, body.get("password", "")),
            "github": ("", body.get("token", "")),
        }[method]
        with vault.lock:
            login = vault.logins.get((mount, identity))
            if method == "github":
                login = next(
                    (v for (m, _), v in vault.logins.items() if m == mount and v.secret == secret),
                    None,
                )
        if login is None or login.secret != secret:
            reason = {
                "kubernetes": f'invalid role name "{identity}"',
                "approle": "invalid role or secret ID",
                "userpass": "invalid username or password",
                "github": "user is not part of required org",
            }[method]
            return 400, {"errors": [reason]}
        token = vault.create_token(login.policies, ttl=login.ttl, name=login.name)
        info = vault.token_info(token)
        auth = {
            "client_token": token,
            "accessor": info.accessor,
            "policies": ["default", *login.policies],
            "token_policies": ["default", *login.policies],
            "metadata": {"role": identity} if method == "kubernetes" else {},
            "lease_duration": login.ttl,
            "renewable": True,
            "entity_id": "",
            "token_type": "service",
            "orphan": True,
        }
        return 200, _envelope(auth=auth)

    def _lookup_self(self, token: _Token) -> tuple[int, Any]:
        remaining = 0 if token.ttl == 0 else max(0, int(token.issued + token.ttl - time.time()))
        data = {
            "accessor": token.accessor,
            "creation_time": int(token.issued),
            "creation_ttl": token.ttl,
            "display_name": token.name,
            "entity_id": "",
            "expire_time": None if token.ttl == 0 else _now_iso(token.issued + token.ttl),
            "explicit_max_ttl": 0,
            "id": token.token,
            "issue_time": _now_iso(token.issued),
            "meta": None,
            "num_uses": 0,
            "orphan": True,
            "path": "auth/token/create",
            "policies": token.policies,
            "renewable": token.ttl != 0,
            "ttl": remaining,
            "type": "service",
        }
        return 200, _envelope(data=data)

    def _ui_mount(self, rel: str, namespace: str, token: _Token) -> tuple[int, Any]:
        vault = self.vault
        full = f"{namespace}/{rel}" if namespace else rel
        try:
            mount_path, mount = vault._mount_of(full.strip("/"))
        except KeyError:
            return 403, {"errors": [PERMISSION_DENIED]}
        rel_mount = mount_path[len(namespace) + 1 :] if namespace else mount_path
        sub = full.strip("/")[len(mount_path) :]
        probe = f"{rel_mount}data/{sub}" if mount.version == 2 else f"{rel_mount}{sub}"
        allowed = vault.may_read(token, probe) or vault.may_read(token, rel_mount + sub)
        if not allowed:
            return 403, {"errors": [PERMISSION_DENIED]}
        data = {
            "accessor": "kv_" + uuid.uuid5(uuid.NAMESPACE_URL, mount_path).hex[:8],
            "config": {"default_lease_ttl": 0, "force_no_cache": False, "max_lease_ttl": 0},
            "description": "",
            "external_entropy_access": False,
            "local": False,
            "options": {"version": str(mount.version)},
            "path": rel_mount,
            "plugin_version": "",
            "running_plugin_version": "v0.19.0+builtin",
            "seal_wrap": False,
            "type": "kv",
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, mount_path)),
        }
        return 200, _envelope(data=data)

    def _kv_read(  # noqa: PLR0911 - one return per answer
        self, full: str, namespace: str, query: dict[str, list[str]], token: _Token
    ) -> tuple[int, Any]:
        vault = self.vault
        api = full[len(namespace) + 1 :] if namespace else full
        if not vault.may_read(token, api):
            return 403, {"errors": [PERMISSION_DENIED]}
        try:
            mount_path, mount = vault._mount_of(full.strip("/"))
        except KeyError:
            return 404, {"errors": [f"no handler for route {api!r}. route entry not found."]}
        sub = full.strip("/")[len(mount_path) :]
        with vault.lock:
            if mount.version == 1:
                versions = mount.secrets.get(sub)
                if not versions or versions[-1].data is None:
                    return 404, {"errors": []}
                return 200, _envelope(data=dict(versions[-1].data), lease=2764800)
            if not sub.startswith("data/"):
                return 404, {"errors": []}
            versions = mount.secrets.get(sub[len("data/") :])
            if not versions:
                return 404, {"errors": []}
            wanted = query.get("version", ["0"])[0]
            number = int(wanted) if wanted.isdigit() and int(wanted) > 0 else len(versions)
            if number > len(versions):
                return 404, {"errors": []}
            entry = versions[number - 1]
            metadata = {
                "created_time": _now_iso(entry.created),
                "custom_metadata": None,
                "deletion_time": _now_iso(entry.deleted) if entry.deleted else "",
                "destroyed": entry.destroyed,
                "version": number,
            }
            if entry.deleted or entry.destroyed or entry.data is None:
                return 404, _envelope(data={"data": None, "metadata": metadata})
            return 200, _envelope(data={"data": dict(entry.data), "metadata": metadata})
