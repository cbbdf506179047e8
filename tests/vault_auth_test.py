"""Every Vault auth method, through hvac over HTTP, and the token cache across processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_render.core.errors import BackendUnavailableError, SecretError
from lsp_render.secrets.token_cache import TokenCache
from tests.vault_fixtures import (
    GITHUB_TOKEN,
    PASSWORD,
    ROLE_ID,
    SECRET_ID,
    USERNAME,
    Seeded,
    backend,
    k8s_env,
    ref,
    vault,
    vault_env,
)

__all__ = ["vault"]

REPO = Path(__file__).resolve().parent.parent


def _ok(env: dict[str, str], role: str | None = None, path: str = "secret/app") -> None:
    result = backend(env, role).read([ref(path)])[ref(path)]
    assert result.error is None
    assert result.data is not None


def _cache_files(seeded: Seeded) -> list[Path]:
    directory = seeded.home / ".cache" / "lsp-render"
    return sorted(directory.glob("vault-token-*.json")) if directory.is_dir() else []


def test_kubernetes_login(vault: Seeded, tmp_path: Path) -> None:
    _ok(k8s_env(vault, tmp_path))
    logins = vault.server.logins_served()
    assert [r.path for r in logins] == ["/v1/auth/kubernetes/login"]
    assert {r.token for r in vault.server.requests("GET")} == {"kubernetes-lsp-render"}


def test_kubernetes_avp_aliases_and_custom_mount(vault: Seeded, tmp_path: Path) -> None:
    vault.server.enable_auth("k8s-prod", "kubernetes")
    vault.server.add_login("k8s-prod", "argocd", "jwt-prod", policies=["reader"])
    jwt = tmp_path / "jwt"
    jwt.write_text("jwt-prod")
    env = vault_env(
        vault,
        VAULT_TOKEN="",
        AVP_AUTH_TYPE="k8s",
        AVP_K8S_ROLE="argocd",
        AVP_K8S_MOUNT_PATH="auth/k8s-prod",
        AVP_K8S_TOKEN_PATH=str(jwt),
    )
    _ok(env)
    assert [r.path for r in vault.server.logins_served()] == ["/v1/auth/k8s-prod/login"]


def test_approle_login_with_secret_id_file(vault: Seeded, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret-id"
    secret_file.write_text(SECRET_ID + "\n")
    env = vault_env(
        vault,
        VAULT_TOKEN="",
        LSP_RENDER_VAULT_AUTH="approle",
        LSP_RENDER_VAULT_ROLE_ID=ROLE_ID,
        LSP_RENDER_VAULT_SECRET_ID_FILE=str(secret_file),
    )
    _ok(env)
    assert [r.path for r in vault.server.logins_served()] == ["/v1/auth/approle/login"]


def test_approle_avp_aliases(vault: Seeded) -> None:
    env = vault_env(
        vault, VAULT_TOKEN="", AVP_AUTH_TYPE="approle", AVP_ROLE_ID=ROLE_ID, AVP_SECRET_ID=SECRET_ID
    )
    _ok(env)


def test_userpass_login(vault: Seeded) -> None:
    env = vault_env(
        vault,
        VAULT_TOKEN="",
        AVP_AUTH_TYPE="userpass",
        AVP_USERNAME=USERNAME,
        AVP_PASSWORD=PASSWORD,
    )
    _ok(env)
    assert [r.path for r in vault.server.logins_served()] == [f"/v1/auth/userpass/login/{USERNAME}"]


def test_github_login(vault: Seeded, tmp_path: Path) -> None:
    token_file = tmp_path / "gh"
    token_file.write_text(GITHUB_TOKEN)
    env = vault_env(
        vault,
        VAULT_TOKEN="",
        LSP_RENDER_VAULT_AUTH="github",
        LSP_RENDER_VAULT_GITHUB_TOKEN_FILE=str(token_file),
    )
    _ok(env)
    assert [r.path for r in vault.server.logins_served()] == ["/v1/auth/github/login"]


def test_refused_login_is_exit_1_without_credentials(vault: Seeded) -> None:
    env = vault_env(
        vault,
        VAULT_TOKEN="",
        LSP_RENDER_VAULT_AUTH="approle",
        LSP_RENDER_VAULT_ROLE_ID=ROLE_ID,
        LSP_RENDER_VAULT_SECRET_ID="wrong-secret-id",
    )
    with pytest.raises(SecretError) as caught:
        backend(env).read([ref("secret/app")])
    assert caught.value.exit_code == 1
    assert "approle" in str(caught.value)
    assert "wrong-secret-id" not in str(caught.value)
    assert ROLE_ID not in str(caught.value)
    assert len(vault.server.logins_served()) == 1  # 400 is not retried


def test_missing_credential_says_what_to_set(vault: Seeded, tmp_path: Path) -> None:
    env = vault_env(vault, VAULT_TOKEN="", LSP_RENDER_VAULT_AUTH="userpass")
    with pytest.raises(BackendUnavailableError, match="LSP_RENDER_VAULT_USERNAME"):
        backend(env).read([ref("secret/app")])
    env = k8s_env(vault, tmp_path, LSP_RENDER_VAULT_K8S_TOKEN_PATH=str(tmp_path / "absent"))
    with pytest.raises(BackendUnavailableError, match="service-account token"):
        backend(env).read([ref("secret/app")])
    assert vault.server.log == []


def test_policy_role_overrides_configured_role(vault: Seeded, tmp_path: Path) -> None:
    b = backend(k8s_env(vault, tmp_path, AVP_KV_VERSION="2"), role="team-a-reader")
    own, other = ref("secret/data/team-a/db"), ref("secret/data/team-b/db")
    results = b.read([own, other])
    assert results[own].data is not None
    assert results[other].error is not None
    assert "permission denied" in results[other].error
    assert {r.token for r in vault.server.requests("GET")} == {"kubernetes-team-a-reader"}


# -- token cache -------------------------------------------------------------------------------

_SCRIPT = """
import json, os, sys
from lsp_render.secrets.backend import SecretRef
from lsp_render.secrets.backends.vault import VaultBackend
backend = VaultBackend.from_environ(dict(os.environ), role=None)
ref = SecretRef(path="secret/app", version=None, kv_version=None)
result = backend.read([ref])[ref]
backend.close()
print(json.dumps({"ok": result.data is not None, "keys": sorted(result.data or {})}))
"""


def _run_process(env: dict[str, str]) -> dict[str, object]:
    full = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugin"), str(REPO)]),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_token_cache_shared_across_processes(vault: Seeded, tmp_path: Path) -> None:
    env = k8s_env(vault, tmp_path)
    assert _run_process(env) == {"ok": True, "keys": ["password", "user"]}
    assert _run_process(env) == {"ok": True, "keys": ["password", "user"]}
    assert len(vault.server.logins_served()) == 1
    reads = vault.server.requests("GET", "/v1/secret/")
    assert len(reads) == 2
    assert {r.token for r in reads} == {"kubernetes-lsp-render"}


def test_cache_file_is_private_and_holds_no_secret(vault: Seeded, tmp_path: Path) -> None:
    _ok(k8s_env(vault, tmp_path))
    [file] = _cache_files(vault)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    record = json.loads(file.read_text())
    assert set(record) == {"format", "token", "expires_at"}
    assert vault.server.token_info(record["token"]).name == "kubernetes-lsp-render"
    text = file.read_text()
    for value in [*vault.values, "K8S", "eyJ", 'lsp-render"']:
        assert value not in text
    assert list(file.parent.iterdir()) == [file]  # no temporary file left behind


def test_cache_keyed_by_role(vault: Seeded, tmp_path: Path) -> None:
    env = k8s_env(vault, tmp_path)
    _ok(env)
    _ok(env, role="team-a-reader", path="secret/team-a/db")
    _ok(env, role="team-a-reader", path="secret/team-a/db")
    assert len(vault.server.logins_served()) == 2
    assert len(_cache_files(vault)) == 2


def test_expiring_token_is_not_reused(vault: Seeded, tmp_path: Path) -> None:
    vault.server.add_login("kubernetes", "short", "jwt-short", policies=["reader"], ttl=30)
    jwt = tmp_path / "jwt"
    jwt.write_text("jwt-short")
    env = k8s_env(
        vault, tmp_path, LSP_RENDER_VAULT_ROLE="short", LSP_RENDER_VAULT_K8S_TOKEN_PATH=str(jwt)
    )
    _ok(env)
    _ok(env)  # 30 s left is inside the 60 s margin: log in again
    assert len(vault.server.logins_served()) == 2


def test_refused_cached_token_means_one_relogin(vault: Seeded, tmp_path: Path) -> None:
    env = k8s_env(vault, tmp_path)
    _ok(env)
    [file] = _cache_files(vault)
    first = json.loads(file.read_text())["token"]
    vault.server.expire_token(first)
    vault.server.reset_log()
    for n in range(5):
        vault.server.put(f"secret/more/p{n}", {"v": "x"})
    b = backend(env)
    refs = [ref("secret/app"), *(ref(f"secret/more/p{n}") for n in range(5))]
    results = b.read(refs)
    assert all(results[r].data is not None for r in refs)
    assert len(vault.server.logins_served()) == 1
    second = json.loads(file.read_text())["token"]
    assert second != first


def test_refused_fresh_token_is_not_relogged(vault: Seeded, tmp_path: Path) -> None:
    b = backend(k8s_env(vault, tmp_path), role="team-a-reader")
    result = b.read([ref("secret/team-b/db")])[ref("secret/team-b/db")]
    assert result.error is not None
    assert len(vault.server.logins_served()) == 1


def test_corrupt_cache_file_is_ignored(vault: Seeded, tmp_path: Path) -> None:
    env = k8s_env(vault, tmp_path)
    _ok(env)
    [file] = _cache_files(vault)
    file.write_text('{"format": 1, "token": "hvs.')  # half-written
    _ok(env)
    assert len(vault.server.logins_served()) == 2
    assert json.loads(file.read_text())["token"].startswith("hvs.")


def test_foreign_mode_cache_file_is_ignored(vault: Seeded, tmp_path: Path) -> None:
    env = k8s_env(vault, tmp_path)
    _ok(env)
    [file] = _cache_files(vault)
    file.chmod(0o644)
    _ok(env)
    assert len(vault.server.logins_served()) == 2
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_read_only_cache_dir_only_disables_caching(vault: Seeded, tmp_path: Path) -> None:
    # A file where the cache directory should be: unwritable even for root.
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "lsp-render").write_text("not a directory")
    env = k8s_env(vault, tmp_path, XDG_CACHE_HOME=str(xdg))
    _ok(env)
    _ok(env)
    assert len(vault.server.logins_served()) == 2
    assert (xdg / "lsp-render").read_text() == "not a directory"


def test_token_auth_is_never_cached(vault: Seeded) -> None:
    _ok(vault_env(vault))
    assert _cache_files(vault) == []


def test_token_cache_margin_and_drop(tmp_path: Path) -> None:
    now = [1000.0]
    cache = TokenCache(
        tmp_path / "c", ("a", "", "kubernetes", "kubernetes", "r"), clock=lambda: now[0]
    )
    cache.store("hvs.one", 3600)
    assert cache.load() == "hvs.one"
    now[0] += 3600 - 61
    assert cache.load() == "hvs.one"
    now[0] += 2
    assert cache.load() is None
    cache.store("hvs.two", 0)  # no expiry
    cache.drop("hvs.other")  # another token: kept
    assert cache.load() == "hvs.two"
    cache.drop("hvs.two")
    assert cache.load() is None
