"""AVP's own golden test, unmodified (issue 11, case 5).

``tests/data/avp-fixtures`` holds argocd-vault-plugin's ``fixtures/input`` and
``fixtures/output/all.yaml`` as AVP ships them (Apache-2.0, see its NOTICE). AVP's
``cmd/generate_test.go`` ("will replace templates from local vault") renders
``fixtures/input/nonempty`` against a test Vault seeded by
``pkg/helpers/test_helpers.go`` (``CreateTestAppRoleVault``: ``secret/`` is KV v1,
``kv/`` is KV v2, approle login) and expects ``all.yaml``. Here the real command
renders the same directory, byte for byte as AVP ships it, against the project's
Vault-compatible server over real HTTP with the same secrets and the same AVP
variables, and every object must equal AVP's; the same again with the same
secrets in a ``--secrets-file``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import base_env, run
from tests.vaultserver import VaultServer

FIXTURES = Path(__file__).parent / "data" / "avp-fixtures"
ROLE_ID = "avp-role-id-0001"
SECRET_ID = "avp-secret-id-0001"

# pkg/helpers/test_helpers.go, CreateTestAppRoleVault: path -> data (KV v2 paths
# without "data/"); kv/versioned is written twice.
TESTING = {
    "name": "test-name",
    "namespace": "test-namespace",
    "version": "1.0",
    "replicas": "2",
    "tag": "1.0",
    "secret-var-value": "dGVzdC1wYXNzd29yZA==",
    "secret-var-value2": "dGVzdC1wYXNzd29yZDI=",
    "secret-num": "MQ==",
    "secret-var-clear": "test-password",
}
KV_TESTING = {
    "name": "test-kv-name",
    "namespace": "test-kv-namespace",
    "version": "1.2",
    "replicas": "3",
    "tag": "1.1",
    "target-port": 80,
}
JSON = {
    "data": {
        "service": {"enableTLS": True, "ports": [80, 8080]},
        "deployment": {"replicas": 2, "image": {"name": "json-test", "tag": "latest"}},
    }
}
KV1 = {
    "secret/testing": TESTING,
    "secret/foo": {"secret": "bar"},
    "secret/json": JSON,
    "secret/jsonstring": {"secret": '{"credentials":{"user":"test-user","pass":"test-password"}}'},
    "secret/bad_test": {"hello": "world"},
    "secret/base64": {
        "encoded_secret": "ewogICJrZXkxIjogInNlY3JldDEiLAogICJrZXkyIjogInNlY3JldDIiLAogICJrZX"
        "kzIjogInNlY3JldDMiCn0K"
    },
    "secret/yaml": {"secret": "---\nkey1: secret1\nkey2: secret2\nkey3: secret3"},
}
KV2 = {"kv/testing": KV_TESTING, "kv/test": {"hello": "world"}}
VERSIONED = [{"secret": "version1"}, {"secret": "version2"}]


@pytest.fixture
def avp_vault() -> Iterator[VaultServer]:
    """The test Vault of AVP's generate test: ``secret`` KV v1, ``kv`` KV v2, approle."""
    server = VaultServer().start()
    server.add_kv_mount("secret", 1)
    server.add_kv_mount("kv", 2)
    for path, data in {**KV1, **KV2}.items():
        server.put(path, data)
    for data in VERSIONED:
        server.put("kv/versioned", data)
    server.add_policy("approle-secret", ["secret/*"])
    server.add_policy("approle-kv", ["kv/*"])
    server.enable_auth("approle", "approle")
    server.add_login("approle", ROLE_ID, SECRET_ID, policies=["approle-secret", "approle-kv"])
    try:
        yield server
    finally:
        server.stop()


def _app(tmp_path: Path) -> Path:
    app = tmp_path / "repo" / "nonempty"
    shutil.copytree(FIXTURES / "input" / "nonempty", app)
    return app


def _expected() -> list[dict[str, Any]]:
    text = (FIXTURES / "output" / "all.yaml").read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _check(objects: list[dict[str, Any]]) -> None:
    expected = _expected()
    assert len(objects) == len(expected) == 16
    for got, want in zip(objects, expected, strict=True):
        assert got == want, (want["kind"], want["metadata"]["name"])


def test_fixtures_are_avps_unmodified() -> None:
    assert "Apache License" in (FIXTURES / "LICENSE").read_text(encoding="utf-8")
    notice = (FIXTURES / "NOTICE").read_text(encoding="utf-8")
    assert "b046a7d122543168b01a0553c3bfa34e285c00e9" in notice
    path_yaml = (FIXTURES / "input" / "nonempty" / "secret_path.yaml").read_text()
    assert "<path:secret/testing#secret-var-value#version>" in path_yaml


def test_case5_avp_golden_test_against_the_test_vault(
    avp_vault: VaultServer, tmp_path: Path
) -> None:
    env = base_env(tmp_path) | {
        # the environment of AVP's cmd/generate_test.go
        "AVP_TYPE": "vault",
        "VAULT_ADDR": avp_vault.address,
        "AVP_AUTH_TYPE": "approle",
        "AVP_SECRET_ID": SECRET_ID,
        "AVP_ROLE_ID": ROLE_ID,
        "VAULT_SKIP_VERIFY": "true",
        "LSP_RENDER_VAULT_TOKEN_CACHE": "false",
    }
    result = run(["render", str(_app(tmp_path))], env=env)
    assert result.code == 0, result.stderr
    _check(result.objects())
    # KV v1: the version in <path:...#version> is ignored, the path read once
    reads = [r.path for r in avp_vault.requests("GET", "/v1/secret/testing")]
    assert len(reads) == 1


def test_case5_avp_golden_test_with_a_secrets_file(tmp_path: Path) -> None:
    secrets: dict[str, Any] = {**KV1, **KV2}
    for number, data in enumerate(VERSIONED, start=1):
        secrets[f"kv/versioned#{number}"] = data
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(secrets), encoding="utf-8")
    result = run(
        ["render", str(_app(tmp_path)), "--secrets-file", str(secrets_file)],
        env=base_env(tmp_path),
    )
    assert result.code == 0, result.stderr
    _check(result.objects())


def test_case5_a_version_on_kv_v2_must_still_be_a_number(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        '    avp.kubernetes.io/kv-version: "2"\n'
        "stringData:\n  a: <path:kv/data/testing#name#latest>\n",
        encoding="utf-8",
    )
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(KV2), encoding="utf-8")
    result = run(["render", str(app), "--secrets-file", str(secrets_file)], env=base_env(tmp_path))
    assert result.code == 2
    assert result.stdout == ""
    assert "version must be a number" in result.stderr


def test_case5_a_version_on_a_detected_kv_v1_mount_is_ignored(
    avp_vault: VaultServer, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        "stringData:\n  a: <path:secret/testing#name#3>\n  b: <path:kv/data/versioned#secret#1>\n",
        encoding="utf-8",
    )
    env = base_env(tmp_path) | {
        "VAULT_ADDR": avp_vault.address,
        "VAULT_TOKEN": avp_vault.root_token,
    }
    result = run(["render", str(app)], env=env)
    assert result.code == 0, result.stderr
    assert result.objects()[0]["stringData"] == {"a": "test-name", "b": "version1"}
