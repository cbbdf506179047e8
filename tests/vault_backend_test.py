"""VaultBackend reads through the real hvac client over HTTP to the test server."""

from __future__ import annotations

import pytest

from lsp_render.core.errors import BackendUnavailableError, InputError
from lsp_render.secrets.backends.vault import VaultBackend
from lsp_render.secrets.backends.vault_config import VaultConfig
from tests.vault_fixtures import Seeded, backend, ref, vault, vault_env

__all__ = ["vault"]


def _reads(seeded: Seeded) -> list[str]:
    return [
        r.path + ("?" + r.query if r.query else "")
        for r in seeded.server.requests("GET")
        if not r.path.startswith(("/v1/sys/", "/v1/auth/"))
    ]


def test_kv_v2_with_and_without_data_is_one_read(vault: Seeded) -> None:
    b = backend(vault_env(vault))
    a, c = ref("secret/data/app"), ref("secret/app")
    results = b.read([a, c, ref("secret/data/app")])
    assert results[a].data == results[c].data
    assert results[a].data is not None
    assert results[a].data["user"] == "app3"
    assert _reads(vault) == ["/v1/secret/data/app"]
    assert len(vault.server.requests("GET", "/v1/sys/internal/ui/mounts/")) == 1


def test_kv_v1_mount_is_detected(vault: Seeded) -> None:
    results = backend(vault_env(vault)).read([ref("kv/legacy")])
    assert results[ref("kv/legacy")].data is not None
    assert results[ref("kv/legacy")].data["user"] == "legacy-user"
    assert _reads(vault) == ["/v1/kv/legacy"]


def test_versions_are_distinct_reads(vault: Seeded) -> None:
    refs = [ref("secret/app", "1"), ref("secret/data/app", "1"), ref("secret/app", "2")]
    results = backend(vault_env(vault)).read(refs)
    assert results[refs[0]].data is not None
    assert results[refs[0]].data["user"] == "app1"
    assert results[refs[2]].data is not None
    assert results[refs[2]].data["user"] == "app2"
    assert sorted(_reads(vault)) == [
        "/v1/secret/data/app?version=1",
        "/v1/secret/data/app?version=2",
    ]


def test_deleted_and_destroyed_versions_are_errors(vault: Seeded) -> None:
    gone, burnt, old = ref("secret/gone"), ref("secret/burnt", "1"), ref("secret/gone", "1")
    results = backend(vault_env(vault)).read([gone, burnt, old])
    assert results[gone].data is None
    assert results[gone].error == (
        "The secret version 2 for Vault path secret/gone is nil"
        " - is this version of the secret deleted?"
    )
    assert results[burnt].error is not None
    assert "secret version 1 for Vault path secret/burnt is nil" in results[burnt].error
    assert results[old].data is not None


def test_missing_path_and_missing_mount(vault: Seeded) -> None:
    nope, nomount = ref("secret/data/nope"), ref("nomount/x")
    results = backend(vault_env(vault)).read([nope, nomount])
    assert results[nope].error == "Could not find secrets at path secret/data/nope"
    assert results[nomount].error is not None
    assert "nomount/x" in results[nomount].error


def test_explicit_kv_version_skips_detection(vault: Seeded) -> None:
    v2, v1 = ref("secret/data/app", kv=2), ref("kv/legacy", kv=1)
    results = backend(vault_env(vault)).read([v2, v1])
    assert results[v2].data is not None
    assert results[v1].data is not None
    assert vault.server.requests("GET", "/v1/sys/") == []


def test_configured_kv_version_applies(vault: Seeded) -> None:
    env = vault_env(vault, AVP_KV_VERSION="2")
    results = backend(env).read([ref("secret/data/team-a/db")])
    assert results[ref("secret/data/team-a/db")].data is not None
    assert vault.server.requests("GET", "/v1/sys/") == []


def test_permission_denied_names_the_path_and_is_not_retried(vault: Seeded) -> None:
    token = vault.server.create_token(["team-a"], name="team-a-token")
    b = backend(vault_env(vault, VAULT_TOKEN=token, AVP_KV_VERSION="2"))
    other = ref("secret/data/team-b/db")
    results = b.read([other, ref("secret/data/team-a/db")])
    assert (
        results[other].error
        == "Vault refused to read path secret/data/team-b/db: permission denied"
    )
    assert results[ref("secret/data/team-a/db")].data is not None
    assert len(vault.server.requests("GET", "/v1/secret/data/team-b/db")) == 1


def test_no_traffic_without_refs(vault: Seeded) -> None:
    b = backend(vault_env(vault))
    assert b.read([]) == {}
    b.close()
    assert vault.server.log == []


def test_dedup_many_refs_one_read_per_target(vault: Seeded) -> None:
    refs = [ref("secret/app"), ref("secret/data/app"), ref("secret/team-a/db"), ref("kv/legacy")]
    backend(vault_env(vault)).read(refs * 25)
    reads = _reads(vault)
    assert sorted(reads) == ["/v1/kv/legacy", "/v1/secret/data/app", "/v1/secret/data/team-a/db"]
    # one mount question per mount
    assert len(vault.server.requests("GET", "/v1/sys/internal/ui/mounts/")) == 2


def test_distinct_paths_are_read_concurrently(vault: Seeded) -> None:
    for n in range(40):
        vault.server.put(f"secret/many/p{n}", {"v": str(n)})
    vault.server.latency = 0.1
    refs = [ref(f"secret/data/many/p{n}") for n in range(40)]
    results = backend(vault_env(vault)).read(refs)
    assert all(results[r].data == {"v": r.path.rsplit("p", 1)[1]} for r in refs)
    assert len(_reads(vault)) == 40
    assert vault.server.max_in_flight >= 8


def test_namespace_header_is_sent(vault: Seeded) -> None:
    vault.server.add_kv_mount("team-ns/secret", 2)
    vault.server.put("team-ns/secret/app", {"k": vault.value("ns")})
    results = backend(vault_env(vault, VAULT_NAMESPACE="team-ns")).read([ref("secret/app")])
    assert results[ref("secret/app")].data is not None
    assert {r.namespace for r in vault.server.log} == {"team-ns"}


def test_invalid_paths_and_versions_are_errors_without_traffic(vault: Seeded) -> None:
    bad = [ref("secret/../x"), ref("secret//x"), ref("secret/app", "latest")]
    results = backend(vault_env(vault)).read(bad)
    assert all(results[r].error for r in bad)
    assert vault.server.log == []


def test_hostile_argocd_env_is_ignored(vault: Seeded) -> None:
    env = vault_env(
        vault,
        ARGOCD_ENV_VAULT_ADDR="http://127.0.0.1:9",
        ARGOCD_ENV_VAULT_TOKEN="attacker",
        ARGOCD_ENV_LSP_RENDER_VAULT_AUTH="userpass",
    )
    config = VaultConfig.from_environ(env)
    assert config.address == vault.server.address
    assert config.auth == "token"
    assert backend(env).read([ref("secret/app")])[ref("secret/app")].data is not None


def test_configuration_errors() -> None:
    with pytest.raises(InputError, match="VAULT_ADDR"):
        VaultConfig.from_environ({"ARGOCD_ENV_VAULT_ADDR": "http://x"})
    with pytest.raises(InputError, match="LSP_RENDER_VAULT_AUTH"):
        VaultConfig.from_environ({"VAULT_ADDR": "http://x", "LSP_RENDER_VAULT_AUTH": "ldap"})
    with pytest.raises(InputError, match="LSP_RENDER_VAULT_TIMEOUT"):
        VaultConfig.from_environ({"VAULT_ADDR": "http://x", "LSP_RENDER_VAULT_TIMEOUT": "soon"})
    with pytest.raises(InputError, match="KV_VERSION"):
        VaultConfig.from_environ({"VAULT_ADDR": "http://x", "AVP_KV_VERSION": "3"})


def test_avp_aliases_and_defaults() -> None:
    config = VaultConfig.from_environ(
        {
            "VAULT_ADDR": "https://vault:8200/",
            "AVP_AUTH_TYPE": "k8s",
            "AVP_K8S_ROLE": "argocd",
            "AVP_K8S_MOUNT_PATH": "auth/k8s-prod",
            "AVP_K8S_TOKEN_PATH": "/tmp/jwt",
            "VAULT_SKIP_VERIFY": "true",
        }
    )
    assert (config.address, config.auth, config.role, config.auth_mount) == (
        "https://vault:8200",
        "kubernetes",
        "argocd",
        "k8s-prod",
    )
    assert str(config.k8s_token_path) == "/tmp/jwt"
    assert config.verify is False
    assert (config.timeout, config.budget) == (10.0, 40.0)
    default = VaultConfig.from_environ({"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "k8s"})
    assert default.auth_mount == "kubernetes"
    assert str(default.k8s_token_path) == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    policy_role = VaultConfig.from_environ(
        {"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "x"}, role="team"
    )
    assert policy_role.role == "team"


def test_secret_values_not_in_repr_of_config() -> None:
    config = VaultConfig.from_environ(
        {"VAULT_ADDR": "http://v", "VAULT_TOKEN": "hvs.topsecret", "AVP_SECRET_ID": "sid-value"}
    )
    assert "topsecret" not in repr(config)
    assert "sid-value" not in repr(config)


def test_no_token_is_exit_3(vault: Seeded) -> None:
    b = backend(vault_env(vault, VAULT_TOKEN=""))
    with pytest.raises(BackendUnavailableError, match="VAULT_TOKEN"):
        b.read([ref("secret/app")])
    assert vault.server.log == []


def test_vault_token_file_in_home(vault: Seeded) -> None:
    (vault.home / ".vault-token").write_text(vault.server.root_token + "\n")
    b = VaultBackend.from_environ(vault_env(vault, VAULT_TOKEN=""), role=None)
    assert b.read([ref("secret/app")])[ref("secret/app")].data is not None


def test_second_read_call_reuses_reads_and_mounts(vault: Seeded) -> None:
    b = backend(vault_env(vault))
    b.read([ref("secret/app"), ref("kv/legacy")])
    again = b.read([ref("secret/data/app"), ref("kv/legacy"), ref("secret/team-a/db")])
    assert all(r.data is not None for r in again.values())
    assert sorted(_reads(vault)) == [
        "/v1/kv/legacy",
        "/v1/secret/data/app",
        "/v1/secret/data/team-a/db",
    ]
    assert len(vault.server.requests("GET", "/v1/sys/internal/ui/mounts/")) == 2


def test_vault_addr_needs_a_scheme() -> None:
    with pytest.raises(InputError, match="http"):
        VaultConfig.from_environ({"VAULT_ADDR": "vault.example:8200"})


def test_lookup_self_shape(vault: Seeded) -> None:
    import hvac

    token = vault.server.create_token(["reader"], ttl=600, name="looked-up")
    client = hvac.Client(url=vault.server.address, token=token)
    data = client.auth.token.lookup_self()["data"]
    assert data["display_name"] == "looked-up"
    assert 0 < data["ttl"] <= 600
    assert data["policies"] == ["reader"]
    assert data["expire_time"]
    vault.server.expire_token(token)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()
