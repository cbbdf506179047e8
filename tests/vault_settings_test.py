"""AVP's configuration names and ``--verbose`` about Vault, through the real CLI and hvac.

- ``AVP_AUTH_TYPE=k8s`` logs in at ``AVP_MOUNT_PATH`` when ``AVP_K8S_MOUNT_PATH`` is
  unset, as AVP's pkg/config/config.go does; ``AVP_K8S_MOUNT_PATH`` wins when set.
- An ``AVP_TYPE`` other than ``vault`` is refused with exit 2, "not supported".
- ``-v`` lists the login method, the token cache hits and misses and the paths
  read, never a value, a credential or a token.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import Result, assert_failure, base_env, run
from tests.hardening_matrix_test import write_app
from tests.vault_fixtures import ROLE_ID, SECRET_ID, Seeded, vault, vault_env

__all__ = ["vault"]

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
    '  password: "<path:secret/data/app#password>"\n'
    '  again: "<path:secret/app#user>"\n'
    '  legacy: "<path:kv/legacy#pass>"\n'
)


def _repo(tmp_path: Path) -> Path:
    repo = write_app(tmp_path / "repo", {"apps/app/secret.yaml": SECRET})
    (repo / ".git").mkdir()
    return repo


def _render(repo: Path, seeded: Seeded, *args: str, **extra: str) -> Result:
    env = {**base_env(seeded.home), **vault_env(seeded, **extra)}
    env = {k: v for k, v in env.items() if v != ""}
    return run(["render", "apps/app", *args], cwd=repo, env=env, timeout=60)


def _k8s(seeded: Seeded, tmp_path: Path, mount: str) -> dict[str, str]:
    seeded.server.enable_auth(mount, "kubernetes")
    seeded.server.add_login(mount, "argocd", "jwt-" + mount, policies=["reader"])
    jwt = tmp_path / f"jwt-{mount}"
    jwt.write_text("jwt-" + mount)
    return {
        "VAULT_TOKEN": "",
        "AVP_AUTH_TYPE": "k8s",
        "AVP_K8S_ROLE": "argocd",
        "AVP_K8S_TOKEN_PATH": str(jwt),
    }


def test_k8s_login_uses_avp_mount_path(vault: Seeded, tmp_path: Path) -> None:
    env = _k8s(vault, tmp_path, "cluster-b")
    result = _render(_repo(tmp_path), vault, **env, AVP_MOUNT_PATH="auth/cluster-b")
    assert result.code == 0, result.stderr
    assert [r.path for r in vault.server.logins_served()] == ["/v1/auth/cluster-b/login"]


def test_k8s_mount_path_wins_over_mount_path(vault: Seeded, tmp_path: Path) -> None:
    env = _k8s(vault, tmp_path, "cluster-c")
    vault.server.enable_auth("other", "approle")
    result = _render(
        _repo(tmp_path),
        vault,
        **env,
        AVP_K8S_MOUNT_PATH="auth/cluster-c",
        AVP_MOUNT_PATH="auth/other",
    )
    assert result.code == 0, result.stderr
    assert [r.path for r in vault.server.logins_served()] == ["/v1/auth/cluster-c/login"]


@pytest.mark.parametrize("kind", ["sops", "awssecretsmanager", "1passwordconnect"])
def test_other_avp_types_are_not_supported(kind: str, vault: Seeded, tmp_path: Path) -> None:
    result = _render(_repo(tmp_path), vault, AVP_TYPE=kind)
    assert_failure(result, 2, f"AVP_TYPE '{kind}' is not supported")
    assert vault.server.log == []


def test_other_avp_type_without_vault_addr(vault: Seeded, tmp_path: Path) -> None:
    result = _render(_repo(tmp_path), vault, AVP_TYPE="sops", VAULT_ADDR="")
    assert_failure(result, 2, "AVP_TYPE 'sops' is not supported")


def test_avp_type_vault_is_accepted(vault: Seeded, tmp_path: Path) -> None:
    assert _render(_repo(tmp_path), vault, AVP_TYPE="vault").code == 0


def test_an_application_cannot_set_avp_type(vault: Seeded, tmp_path: Path) -> None:
    assert _render(_repo(tmp_path), vault, ARGOCD_ENV_AVP_TYPE="sops").code == 0


def test_verbose_names_login_cache_and_paths_never_values(vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    approle = {
        "VAULT_TOKEN": "",
        "LSP_RENDER_VAULT_AUTH": "approle",
        "LSP_RENDER_VAULT_ROLE_ID": ROLE_ID,
        "LSP_RENDER_VAULT_SECRET_ID": SECRET_ID,
    }
    first = _render(repo, vault, "-v", **approle)
    second = _render(repo, vault, "--verbose", **approle)
    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    lines = first.stderr.splitlines()
    assert all(line.startswith("lsp-render: debug: ") for line in lines), lines
    text = first.stderr
    assert "token cache miss" in text
    assert "login with approle at auth/approle" in text
    assert "read secret/app (KV v2, version latest)" in text
    assert "read kv/legacy (KV v1, version latest)" in text
    assert "3 placeholder secret(s), 2 distinct read(s)" in text
    assert "token cache hit" in second.stderr
    assert "login with" not in second.stderr
    tokens = [t for t in vault.server.tokens if t != vault.server.root_token]
    for secret in [*vault.values, "legacy-user", SECRET_ID, ROLE_ID, *tokens]:
        assert secret not in first.stderr
        assert secret not in second.stderr


def test_quiet_without_verbose(vault: Seeded, tmp_path: Path) -> None:
    result = _render(_repo(tmp_path), vault)
    assert result.code == 0
    assert result.stderr == ""
