"""``lsp-render secrets audit``: every placeholder of a repository checked against Vault.

Runs the real command against the Vault-compatible test server (real hvac, real
HTTP): missing keys, missing paths, versions, an unreachable Vault; one read per
distinct secret; no value in any output.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import Result, assert_failure, base_env, run
from tests.vaultserver import VaultServer
from tests.workflow_fixtures import repo

__all__ = ["repo"]

VALUES = ("dev-pw-Zq8x", "prod-user-Lk2p", "old-a-Nm4q", "new-b-Pw9r")

VERSIONED = """\
apiVersion: v1
kind: Secret
metadata:
  name: versioned
stringData:
  old: <path:secret/data/versioned#a#1>
  latest: <path:secret/data/versioned#a>
  gone: <path:secret/data/versioned#b#5>
  again: <path:secret/versioned#b>
---
apiVersion: v1
kind: Secret
metadata:
  name: optional
  annotations: {avp.kubernetes.io/remove-missing: "true"}
stringData:
  maybe: <path:secret/data/versioned#zzz>
  needed: <path:secret/data/nothere#k>
"""


@pytest.fixture
def server() -> Iterator[VaultServer]:
    """A Vault with secret/dev/api, secret/prod/api without its key, no secret/shared."""
    vault = VaultServer().start()
    vault.add_kv_mount("secret", 2)
    vault.put("secret/dev/api", {"password": VALUES[0]})
    vault.put("secret/prod/api", {"user": VALUES[1]})
    vault.put("secret/versioned", {"a": VALUES[2]})
    vault.put("secret/versioned", {"b": VALUES[3]})
    try:
        yield vault
    finally:
        vault.stop()


def _audit(root: Path, server_address: str, token: str, *args: str) -> Result:
    env = base_env(root.parent)
    env.update(
        {
            "VAULT_ADDR": server_address,
            "VAULT_TOKEN": token,
            "LSP_RENDER_VAULT_BACKOFF": "0.01",
            "LSP_RENDER_VAULT_RETRIES": "2",
        }
    )
    return run(["secrets", "audit", str(root), *args], env=env)


def _no_values(result: Result, token: str) -> None:
    for text in (result.stdout, result.stderr):
        for value in (*VALUES, token):
            assert value not in text


def test_reports_missing_keys_and_paths_with_their_users(repo: Path, server: VaultServer) -> None:
    (repo / "applications" / "versioned").mkdir()
    (repo / "applications" / "versioned" / "secret.yaml").write_text(VERSIONED)
    # operator delivery renders an ExternalSecret; the audit still sees the placeholders
    (repo / "applications" / "versioned" / "lsp-render.yaml").write_text(
        "secrets: {delivery: external-secrets, secretStores: {secret: vault}}\n"
    )
    token = server.root_token
    server.reset_log()
    result = _audit(repo, server.address, token)
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    missing = {line.split(":")[0] for line in lines if line.startswith("MISSING")}
    assert missing == {
        "MISSING secret/data/prod/api#password",
        "MISSING secret/data/shared#token",
        "MISSING secret/data/versioned#a",
        "MISSING secret/data/versioned#b#5",
        "MISSING secret/data/nothere#k",  # remove-missing drops keys, not paths
    }
    prod = next(line for line in lines if "prod/api#password" in line)
    assert "key not found" in prod
    assert "prod/applications/api (api/templates/secret.yaml, Secret/api)" in prod
    assert "prod/applications/api (api/templates/configmap.yaml, ConfigMap/api-config)" in prod
    shared = next(line for line in lines if "shared#token" in line)
    assert "Could not find secrets at path secret/data/shared" in shared
    assert "dev/applications/api" in shared and "prod/applications/api" in shared
    # one read per distinct secret (path and version), however many placeholders use it
    reads = [(r.path, r.query) for r in server.requests("GET") if "/sys/" not in r.path]
    assert sorted(reads) == sorted(set(reads))
    assert len(reads) == 7, reads
    _no_values(result, token)


def test_all_present_exits_0_and_json_for_ci(repo: Path, server: VaultServer) -> None:
    server.put("secret/prod/api", {"password": "prod-pw-Kd3m"})
    server.put("secret/shared", {"token": "shared-tok-Wy7c"})
    result = _audit(repo, server.address, server.root_token, "--format", "json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["missing"] == []
    used = {(p["path"], p["key"], p["env"], p["object"]) for p in report["placeholders"]}
    assert ("secret/data/dev/api", "password", "dev", "Secret/api") in used
    assert ("secret/data/shared", "token", "prod", "Secret/api") in used
    assert "prod-pw-Kd3m" not in result.stdout
    assert "shared-tok-Wy7c" not in result.stdout


def test_env_filter_and_json_missing(repo: Path, server: VaultServer) -> None:
    result = _audit(repo, server.address, server.root_token, "--env", "dev", "--format", "json")
    assert result.code == 1
    report = json.loads(result.stdout)
    assert [m["secret"] for m in report["missing"]] == ["secret/data/shared#token"]
    assert {u["env"] for m in report["missing"] for u in m["usedBy"]} == {"dev"}
    _no_values(result, server.root_token)


def test_refused_token_is_reported_as_missing_not_leaked(repo: Path, server: VaultServer) -> None:
    server.add_policy("dev-only", ["secret/data/dev/*"])
    token = server.create_token(["dev-only"])
    result = _audit(repo, server.address, token, "--env", "prod")
    assert result.code == 1
    assert "permission denied" in result.stdout
    _no_values(result, token)


def test_unreachable_vault_exits_3(repo: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _audit(repo, f"http://127.0.0.1:{port}", "hvs.secret-token-value")
    assert_failure(result, 3, f"127.0.0.1:{port}")
    assert "hvs.secret-token-value" not in result.stderr


def test_no_vault_configured_exits_3(repo: Path) -> None:
    result = run(["secrets", "audit", str(repo)], env=base_env(repo.parent))
    assert_failure(result, 3, "VAULT_ADDR")


def test_in_process_and_parallel_audits_agree(repo: Path, server: VaultServer) -> None:
    one = _audit(repo, server.address, server.root_token, "--jobs", "1", "--format", "json")
    two = _audit(repo, server.address, server.root_token, "--jobs", "2", "--format", "json")
    assert (one.code, one.stdout) == (two.code, two.stdout)
    assert one.code == 1
