"""Pytest fixtures for the Vault tests: a seeded test server and the environment to reach it.

Import the fixtures into a test module with
``from tests.vault_fixtures import vault, vault_env  # noqa: F401``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lsp_render.secrets.backend import SecretRef
from lsp_render.secrets.backends.vault import VaultBackend
from tests.vaultserver import VaultServer

__all__ = ["Seeded", "backend", "k8s_env", "ref", "vault", "vault_env"]

K8S_ROLE = "lsp-render"
K8S_JWT = "eyJhbGciOiJSUzI1NiJ9.test-service-account.sig"
ROLE_ID = "3d9b2a10-role-id"
SECRET_ID = "8f1c-secret-id-value"
USERNAME = "alice"
PASSWORD = "correct-horse-battery"
GITHUB_TOKEN = "ghp_testtoken0123456789"


@dataclass
class Seeded:
    """The running server and the secret values it holds (to scan for leaks)."""

    server: VaultServer
    home: Path
    values: list[str] = field(default_factory=list)

    def value(self, label: str) -> str:
        """Return a fresh, recognisable secret value and remember it."""
        value = f"S3CR3T-{label}-{uuid.uuid4().hex[:12]}"
        self.values.append(value)
        return value


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Seeded]:
    """Start a seeded Vault-compatible server; stop it afterwards.

    Mounts: ``secret`` (KV v2) and ``kv`` (KV v1). Secrets: ``secret/app`` (3
    versions, key ``password``), ``secret/team-a/db``, ``secret/team-b/db``,
    ``secret/gone`` (version 2 deleted), ``secret/burnt`` (version 1 destroyed),
    ``kv/legacy``. Policies: ``reader`` (everything under both mounts),
    ``team-a`` (``secret/data/team-a/*``). Logins for kubernetes, approle,
    userpass and github, all with ``reader``.
    """
    server = VaultServer().start()
    seeded = Seeded(server=server, home=Path(os.environ.get("HOME", str(tmp_path))))
    server.add_kv_mount("secret", 2)
    server.add_kv_mount("kv", 1)
    for n in (1, 2, 3):
        server.put("secret/app", {"password": seeded.value(f"app-v{n}"), "user": f"app{n}"})
    server.put("secret/team-a/db", {"password": seeded.value("team-a")})
    server.put("secret/team-b/db", {"password": seeded.value("team-b")})
    server.put("secret/gone", {"k": seeded.value("gone-v1")})
    server.put("secret/gone", {"k": seeded.value("gone-v2")})
    server.delete_version("secret/gone", 2)
    server.put("secret/burnt", {"k": seeded.value("burnt")})
    server.destroy_version("secret/burnt", 1)
    server.put("kv/legacy", {"user": "legacy-user", "pass": seeded.value("legacy")})
    server.add_policy("reader", ["secret/data/*", "kv/*"])
    server.add_policy("team-a", ["secret/data/team-a/*"])
    server.enable_auth("kubernetes", "kubernetes")
    server.add_login("kubernetes", K8S_ROLE, K8S_JWT, policies=["reader"])
    server.add_login("kubernetes", "team-a-reader", K8S_JWT, policies=["team-a"])
    server.enable_auth("approle", "approle")
    server.add_login("approle", ROLE_ID, SECRET_ID, policies=["reader"])
    server.enable_auth("userpass", "userpass")
    server.add_login("userpass", USERNAME, PASSWORD, policies=["reader"])
    server.enable_auth("github", "github")
    server.add_login("github", "", GITHUB_TOKEN, policies=["reader"])
    try:
        yield seeded
    finally:
        server.stop()


def vault_env(seeded: Seeded, **extra: str) -> dict[str, str]:
    """Return a sidecar environment that reaches the test server with the root token.

    Keyword arguments are added (``VAULT_TOKEN=""`` removes the token).
    """
    env = {
        "VAULT_ADDR": seeded.server.address,
        "VAULT_TOKEN": seeded.server.root_token,
        "HOME": str(seeded.home),
        "XDG_CACHE_HOME": str(seeded.home / ".cache"),
        "LSP_RENDER_VAULT_BACKOFF": "0.01",
        "LSP_RENDER_VAULT_TIMEOUT": "5",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def k8s_env(seeded: Seeded, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return an environment for kubernetes auth with a service-account token file."""
    jwt = tmp_path / "sa-token"
    jwt.write_text(K8S_JWT + "\n")
    settings = {
        "VAULT_TOKEN": "",
        "LSP_RENDER_VAULT_AUTH": "kubernetes",
        "LSP_RENDER_VAULT_ROLE": K8S_ROLE,
        "LSP_RENDER_VAULT_K8S_TOKEN_PATH": str(jwt),
    }
    settings.update(extra)
    return vault_env(seeded, **settings)


def backend(env: dict[str, str], role: str | None = None) -> VaultBackend:
    """Build a backend from ``env``."""
    return VaultBackend.from_environ(env, role=role)


def ref(path: str, version: str | None = None, kv: int | None = None) -> SecretRef:
    """Build a ``SecretRef``."""
    return SecretRef(path=path, version=version, kv_version=kv)
