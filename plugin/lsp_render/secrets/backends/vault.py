"""The Vault backend: KV v1 and v2 reads through hvac, deduplicated, concurrent, within a budget.

``VaultBackend.read`` takes every secret reference of a render at once:

1. nothing happens (no login, no traffic) until it is called with a non-empty set;
2. a token: ``token`` auth uses ``VAULT_TOKEN`` (or ``~/.vault-token``); the other
   methods reuse a cached login token (``token_cache``) or log in and cache the
   new one;
3. each mount's KV version is asked once per render from
   ``sys/internal/ui/mounts/<path>`` (skipped when the version is given and the
   path says where the mount ends), so ``secret/app`` and ``secret/data/app`` are
   the same KV v2 secret;
4. one read per distinct (mount, path, KV version, secret version) for the
   backend's life (one render, however many ``read`` calls), distinct reads in
   parallel on a bounded thread pool (``MAX_WORKERS``).

A secret that is missing, deleted, destroyed or refused (403) is a
``SecretResult`` with a one-line error naming the path as written; the resolver
decides what that means (``remove-missing``). After a 403 with a cached login
token, ``auth/token/lookup-self`` decides: a token Vault still accepts is kept
(the 403 was the policy's, and stands); a dead one is dropped, one new login
happens, and the request is retried once. Vault out of reach or out of budget,
a redirect to another origin, and a malformed or truncated answer raise
``BackendUnavailableError`` (exit 3). No message, log line or exception ever
holds a secret value, a credential or a response body.

Configuration: see ``lsp_render.secrets.backends.vault_config``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import hvac.utils

from lsp_render.core.errors import BackendUnavailableError
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.secrets.backends.vault_auth import cache_identity, login, static_token
from lsp_render.secrets.backends.vault_client import (
    Budget,
    BudgetSession,
    Retrier,
    run_parallel,
    status_of,
)
from lsp_render.secrets.backends.vault_config import VaultConfig
from lsp_render.secrets.token_cache import TokenCache

__all__ = ["MAX_WORKERS", "VaultBackend"]

MAX_WORKERS = 16
"""Concurrent requests to Vault at most."""

_log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Mount:
    path: str  # "secret/" (with the trailing slash), "" when unknown
    kv: int


@dataclass(frozen=True, slots=True)
class _Target:
    mount: str  # without the trailing slash
    sub: str  # path inside the mount, without "data/"
    kv: int
    version: int | None


@dataclass(frozen=True, slots=True)
class _Outcome:
    data: Mapping[str, Any] | None = None
    problem: str | None = None  # "missing", "deleted", "denied", "rejected", "malformed"
    version: str = ""


@dataclass(frozen=True, slots=True)
class _Plan:
    target: _Target | None = None
    error: str | None = None


def _message(ref: SecretRef, outcome: _Outcome) -> str:
    path = ref.path
    if outcome.problem == "deleted":
        return (
            f"The secret version {outcome.version} for Vault path {path} is nil"
            " - is this version of the secret deleted?"
        )
    if outcome.problem == "denied":
        return f"Vault refused to read path {path}: permission denied"
    if outcome.problem == "rejected":
        return f"Vault rejected the read of path {path} as invalid"
    if outcome.problem == "malformed":
        return f"Vault's answer for path {path} is not a key/value secret"
    return f"Could not find secrets at path {path}"


def _valid_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(p not in ("", ".", "..") for p in parts)


class VaultBackend:
    """Read secrets from Vault (``SecretBackend``).

    Parameters
    ----------
    config
        The settings (``VaultConfig.from_environ``).

    """

    def __init__(self, config: VaultConfig) -> None:
        self.config = config
        self._budget = Budget(config.budget)
        self._retrier = Retrier(
            config.address, self._budget, attempts=config.retries, backoff=config.backoff
        )
        self._cache = TokenCache(
            config.cache_dir if config.auth != "token" else None, cache_identity(config)
        )
        self._client: hvac.Client | None = None
        self._source = ""  # "static", "cache" or "login"
        self._token_alive: bool | None = None  # lookup-self's verdict on a refused cached token
        self._lock = threading.Lock()
        self._mounts: list[_Mount] = []
        self._mount_lock = threading.Lock()
        self._outcomes: dict[_Target, _Outcome] = {}  # reads of this render, across calls

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, role: str | None) -> VaultBackend:
        """Build the backend from the sidecar's environment (no traffic).

        Parameters
        ----------
        environ
            The process environment; ``ARGOCD_ENV_*`` is ignored.
        role
            Login role from the operator policy; overrides the configured one.

        Returns
        -------
        VaultBackend
            The backend.

        """
        return cls(VaultConfig.from_environ(environ, role=role))

    # -- public -------------------------------------------------------------------------------

    def read(self, refs: Collection[SecretRef]) -> dict[SecretRef, SecretResult]:
        """Read every referenced secret, once per distinct target, concurrently.

        Parameters
        ----------
        refs
            The secret references of a render.

        Returns
        -------
        dict
            One result per reference.

        Raises
        ------
        BackendUnavailableError
            Vault could not be reached within the retries and the budget, or no
            credential is configured.
        SecretError
            Vault refused the login.

        """
        unique = list(dict.fromkeys(refs))
        if not unique:
            return {}
        self._budget.start()
        client = self._ensure_client()
        plans = self._plan(client, unique)
        wanted = list(dict.fromkeys(p.target for p in plans.values() if p.target is not None))
        targets = [t for t in wanted if t not in self._outcomes]
        _log.debug(
            "vault: %d placeholder secret(s), %d distinct read(s), %d already read in this render",
            len(unique),
            len(wanted),
            len(wanted) - len(targets),
        )
        from lsp_render.secrets.backends import shared_reads

        shared = shared_reads.installed()
        if shared is not None:
            self._read_shared(shared, client, targets)
        else:
            fetched = self._parallel(lambda t: self._fetch(client, t), targets)
            self._outcomes.update(zip(targets, fetched, strict=True))
        outcomes = self._outcomes
        results: dict[SecretRef, SecretResult] = {}
        for ref in unique:
            plan = plans[ref]
            if plan.target is None:
                results[ref] = SecretResult(data=None, error=plan.error)
                continue
            outcome = outcomes[plan.target]
            if outcome.data is not None:
                results[ref] = SecretResult(data=outcome.data, error=None)
            else:
                results[ref] = SecretResult(data=None, error=_message(ref, outcome))
        return results

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.adapter.close()
            self._client = None

    # -- token --------------------------------------------------------------------------------

    def _ensure_client(self) -> hvac.Client:
        with self._lock:
            if self._client is not None:
                return self._client
            config = self.config
            # hvac takes verify and cert from the session it is given (a session's
            # verify is True unless set), so the TLS settings go on the session.
            session = BudgetSession(
                self._budget,
                config.timeout,
                config.address,
                verify=config.verify,
                cert=config.cert,
                server_name=config.server_name,
            )
            client = hvac.Client(
                url=config.address,
                token="",  # never hvac's own VAULT_TOKEN / ~/.vault-token lookup
                namespace=config.namespace,
                verify=config.verify,
                cert=config.cert if config.cert is not None else (),  # () : not hvac's env
                timeout=config.timeout,
                allow_redirects=False,  # BudgetSession follows same-origin redirects only
                session=session,
            )
            _log.debug("vault: %s, auth method %s", config.address, config.auth)
            if config.auth == "token":
                client.token = static_token(config)
                self._source = "static"
            else:
                cached = self._cache.load()
                if cached is not None:
                    _log.debug("vault: token cache hit: reusing the %s login token", config.auth)
                    client.token = cached
                    self._source = "cache"
                else:
                    _log.debug("vault: token cache miss")
                    self._login(client)
            self._client = client
            return client

    def _login(self, client: hvac.Client) -> None:
        config = self.config
        role = config.role if config.auth == "kubernetes" else None
        _log.debug(
            "vault: login with %s at auth/%s%s",
            config.auth,
            config.auth_mount,
            f" as role {role}" if role else "",
        )
        result = login(client, self.config, self._retrier)
        self._cache.store(result.token, result.ttl)
        client.token = result.token
        self._source = "login"

    def _relogin(self, client: hvac.Client, refused: str) -> bool:
        """After a 403: log in again if the refused token came from the cache and is dead.

        A 403 is also Vault's answer to a path the token's policy does not cover.
        ``lookup-self`` tells the two apart: a token it still accepts is kept
        (the 403 stands, as a policy refusal), so one refused path does not cost
        every later render of the sidecar a new login.
        """
        with self._lock:
            if client.token != refused:
                return True  # another thread already replaced it
            if self._source != "cache":
                return False
            if self._token_alive is None:
                self._token_alive = self._lookup_self(client)
            if self._token_alive:
                return False
            _log.debug("vault: the cached token was refused; logging in again")
            self._cache.drop(refused)
            self._login(client)
            self._token_alive = None
            return True

    def _lookup_self(self, client: hvac.Client) -> bool:
        try:
            self._retrier.call(
                "token lookup", lambda: client.adapter.get("/v1/auth/token/lookup-self")
            )
        except hvac.exceptions.VaultError as exc:
            if status_of(exc) in (401, 403):
                return False
            raise
        _log.debug("vault: the cached token is still valid; the 403 is a policy refusal")
        return True

    def _authed(self, client: hvac.Client, what: str, fn: Callable[[], T]) -> T:
        token = client.token
        try:
            return self._retrier.call(what, fn)
        except hvac.exceptions.VaultError as exc:
            if status_of(exc) != 403 or not self._relogin(client, token):
                raise
        return self._retrier.call(what, fn)

    # -- mounts -------------------------------------------------------------------------------

    def _plan(self, client: hvac.Client, refs: list[SecretRef]) -> dict[SecretRef, _Plan]:
        plans: dict[SecretRef, _Plan] = {}
        pending: dict[SecretRef, tuple[str, int | None, int | None]] = {}
        for ref in refs:
            path = ref.path.strip("/")
            if not _valid_path(path):
                plans[ref] = _Plan(error=f"Invalid Vault path {ref.path!r}")
                continue
            version: int | None = None
            if ref.version not in (None, ""):
                if not str(ref.version).isdigit():
                    plans[ref] = _Plan(
                        error=f"Invalid secret version {ref.version!r} for Vault path {ref.path}"
                    )
                    continue
                version = int(str(ref.version))
            kv = ref.kv_version or self.config.kv_version
            if kv == 1 and version is None and "/" in path:
                mount, _, sub = path.partition("/")
                plans[ref] = _Plan(target=_Target(mount, sub, 1, None))
            elif kv == 2 and "/data/" in path:
                mount, _, sub = path.partition("/data/")
                plans[ref] = _Plan(target=_Target(mount, sub, 2, version))
            else:
                pending[ref] = (path, kv, version)
        if pending:
            denied = self._detect_mounts(client, [p for p, _, _ in pending.values()])
            for ref, (path, kv, version) in pending.items():
                plans[ref] = self._target_for(ref, path, kv, version, denied)
        return plans

    def _known_mount(self, path: str) -> _Mount | None:
        with self._mount_lock:
            best = None
            for mount in self._mounts:
                if (path + "/").startswith(mount.path) and (
                    best is None or len(mount.path) > len(best.path)
                ):
                    best = mount
            return best

    def _detect_mounts(self, client: hvac.Client, paths: list[str]) -> dict[str, str]:
        """Ask for the mounts of ``paths``, one question per mount; return path -> problem."""
        problems: dict[str, str] = {}
        todo = list(dict.fromkeys(paths))
        while True:
            todo = [p for p in todo if p not in problems and self._known_mount(p) is None]
            if not todo:
                return problems
            probes = list({p.split("/", 1)[0]: p for p in reversed(todo)}.values())
            answers = self._parallel(lambda p: self._probe(client, p), probes)
            for path, answer in zip(probes, answers, strict=True):
                if answer is not None:
                    problems[path] = answer
                elif self._known_mount(path) is None:
                    problems[path] = "missing"  # the mount Vault named does not hold the path

    def _probe(self, client: hvac.Client, path: str) -> str | None:
        url = hvac.utils.format_url("/v1/sys/internal/ui/mounts/{path}", path=path)
        try:
            answer = self._authed(client, "mount lookup", lambda: client.adapter.get(url))
        except hvac.exceptions.VaultError as exc:
            status = status_of(exc)
            if status == 404:  # a Vault too old for the UI endpoint: KV v1, mount = first segment
                self._add_mount(_Mount(path.split("/", 1)[0] + "/", 1))
                return None
            return "denied" if status in (401, 403) else "rejected"
        data = answer.get("data") if isinstance(answer, dict) else None
        mount_path = data.get("path") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(mount_path, str) or not mount_path:
            raise self._malformed("mount lookup")
        options = data.get("options")
        kv = 2 if isinstance(options, dict) and str(options.get("version")) == "2" else 1
        if data.get("type") not in ("kv", "generic"):
            return "malformed"
        self._add_mount(_Mount(mount_path if mount_path.endswith("/") else mount_path + "/", kv))
        return None

    def _add_mount(self, mount: _Mount) -> None:
        with self._mount_lock:
            if mount not in self._mounts:
                _log.debug("vault: mount %s is KV v%d", mount.path, mount.kv)
                self._mounts.append(mount)

    def _target_for(
        self, ref: SecretRef, path: str, kv: int | None, version: int | None, denied: dict[str, str]
    ) -> _Plan:
        if path in denied:
            return _Plan(error=_message(ref, _Outcome(problem=denied[path])))
        mount = self._known_mount(path)
        if mount is None:
            return _Plan(error=_message(ref, _Outcome(problem="missing")))
        sub = (path + "/")[len(mount.path) :].rstrip("/")
        kv = kv or mount.kv
        if kv == 2 and sub.startswith("data/"):
            sub = sub[len("data/") :]
        if not sub:
            return _Plan(error=_message(ref, _Outcome(problem="missing")))
        if kv == 1 and version is not None:
            # KV v1 has no versions; AVP reads the path and ignores the version
            _log.debug("vault: %s is on a KV v1 mount: version %d ignored", ref.path, version)
            version = None
        return _Plan(target=_Target(mount.path.rstrip("/"), sub, kv, version))

    # -- reads --------------------------------------------------------------------------------

    def _read_shared(self, shared: Any, client: hvac.Client, targets: list[_Target]) -> None:
        """Read ``targets`` through the run's shared reads (``render-all``), once per run.

        Every key is claimed before any wait, and claimed keys are read first, so two
        renders never wait on each other; a failed read is released, not kept.
        """
        from lsp_render.secrets.backends.shared_reads import HIT, MINE

        identity = cache_identity(self.config)
        keys = {t: (identity, t.mount, t.sub, t.kv, t.version) for t in targets}
        mine: list[_Target] = []
        pending: list[_Target] = []
        for target in targets:
            state, value = shared.claim(keys[target])
            if state == HIT:
                self._outcomes[target] = value
            else:
                (mine if state == MINE else pending).append(target)
        hits = len(targets) - len(mine) - len(pending)
        _log.debug("vault: %d read(s) shared with earlier renders of this run", hits)
        self._fetch_claimed(shared, client, mine, keys)
        for target in pending:
            state, value = shared.wait(keys[target], min(30.0, self.config.budget))
            if state == HIT:
                self._outcomes[target] = value
            elif state == MINE:
                self._fetch_claimed(shared, client, [target], keys)
            else:  # the other render is still at it: read without sharing
                self._outcomes[target] = self._fetch(client, target)

    def _fetch_claimed(
        self, shared: Any, client: hvac.Client, claimed: list[_Target], keys: dict[_Target, Any]
    ) -> None:
        try:
            fetched = self._parallel(lambda t: self._fetch(client, t), claimed)
        except BaseException:
            for target in claimed:
                shared.release(keys[target])
            raise
        for target, outcome in zip(claimed, fetched, strict=True):
            self._outcomes[target] = outcome
            if outcome.data is not None:
                shared.put(keys[target], outcome)
            else:
                shared.release(keys[target])

    def _parallel(self, fn: Callable[[Any], T], items: list[Any]) -> list[T]:
        return run_parallel(fn, items, MAX_WORKERS)

    def _fetch(self, client: hvac.Client, target: _Target) -> _Outcome:
        _log.debug(
            "vault: read %s/%s (KV v%d, version %s)",
            target.mount,
            target.sub,
            target.kv,
            target.version or "latest",
        )
        kv = client.secrets.kv

        def call() -> Any:
            if target.kv == 1:
                return kv.v1.read_secret(path=target.sub, mount_point=target.mount)
            return kv.v2.read_secret_version(
                path=target.sub,
                version=target.version,
                mount_point=target.mount,
                raise_on_deleted_version=True,
            )

        wanted = str(target.version) if target.version is not None else ""
        try:
            answer = self._authed(client, f"read of {target.mount}/{target.sub}", call)
        except hvac.exceptions.VaultError as exc:
            status = status_of(exc)
            if status == 404:
                return self._not_found(exc, wanted)
            if status in (401, 403):
                return _Outcome(problem="denied")
            return _Outcome(problem="rejected")
        data = answer.get("data") if isinstance(answer, dict) else None
        if target.kv == 2:
            if not isinstance(data, dict):
                raise self._malformed(f"read of {target.mount}/{target.sub}")
            inner = data.get("data")
            if inner is None:
                return _Outcome(problem="deleted", version=wanted or _meta_version(data))
            data = inner
        if not isinstance(data, dict):
            raise self._malformed(f"read of {target.mount}/{target.sub}")
        return _Outcome(data=data)

    def _malformed(self, what: str) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"Vault at {self.config.address} sent a malformed answer to the {what} (no data object)"
        )

    @staticmethod
    def _not_found(exc: hvac.exceptions.VaultError, wanted: str) -> _Outcome:
        body = exc.json if isinstance(exc.json, dict) else {}
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
            return _Outcome(problem="deleted", version=wanted or _meta_version(data))
        return _Outcome(problem="missing")


def _meta_version(data: Mapping[str, Any]) -> str:
    meta = data.get("metadata")
    version = meta.get("version") if isinstance(meta, dict) else None
    return str(version) if isinstance(version, int) else ""
