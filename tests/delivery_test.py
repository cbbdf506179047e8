"""Operator delivery (``secrets.delivery``): Secrets become ExternalSecret / VaultStaticSecret.

Every emitted object is validated against the operator's published CRD schema,
and the Secret the operator would write (its templates executed by a real Go
template engine with Sprig, Helm's) is compared with what inline delivery writes
from the same secrets: the same bytes, key for key.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import Result, assert_failure, base_env, run
from tests.delivery_oracle import eso_secret, go_templates, ricoberger_secret, validate, vso_secret
from tests.vaultserver import VaultServer

SECRETS: dict[str, Any] = {
    "secret/data/team-a/db": {
        "user": "alice",
        "password": "pw-latest",
        "b64": base64.b64encode(b"hello bytes").decode(),
        "weird": "a{{b}}c",
    },
    "secret/data/team-a/db#3": {"user": "alice-v3", "password": "pw-v3"},
    "secret/data/team-a/cfg": {"json": {"db": {"host": "db.example", "ports": ["5432", "6543"]}}},
    "kv/team-a/legacy": {"pass": "p@ss word"},
}

MULTI = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: team-a
  labels: {app: db}
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
    note: "{{ not a template }}"
    avp.kubernetes.io/remove-missing: "false"
type: kubernetes.io/basic-auth
stringData:
  username: <path:secret/data/team-a/db#user>
  password: <path:secret/data/team-a/db#password#3>
  url: postgres://<path:secret/data/team-a/db#user>:<path:kv/team-a/legacy#pass | base64encode>@db
  host: <path:secret/data/team-a/cfg#json | jsonPath {.db.host}>
  port: <path:secret/data/team-a/cfg#json | jsonPath {.db.ports[1]}>
  digest: <path:secret/data/team-a/db#password | sha256sum>
  literal: "hello {{ not a template }}"
  unicode: "grüße 😀 {{ x }}"
data:
  raw: <path:secret/data/team-a/db#b64>
  encoded: <path:secret/data/team-a/db#weird | base64encode>
  binary: 3q2+7w==
"""

SINGLE = """\
apiVersion: v1
kind: Secret
metadata:
  name: web
  annotations:
    avp.kubernetes.io/path: secret/data/team-a/db
type: Opaque
stringData:
  user: <user>
  password: <password>
"""

RENAMED = """\
apiVersion: v1
kind: Secret
metadata:
  name: web
  labels: {tier: front}
stringData:
  user: <path:secret/data/team-a/db#user#3>
  db-password: <path:secret/data/team-a/db#password#3>
  dsn: "u=<path:secret/data/team-a/db#user#3>
    p=<path:secret/data/team-a/db#password#3 | base64encode>"
  note: plain text
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  token: <path:secret/data/team-a/db#password>
"""


def _app(tmp_path: Path, manifest: str, config: dict[str, Any] | None) -> Path:
    app = tmp_path / "repo" / "apps" / "web"
    app.mkdir(parents=True, exist_ok=True)
    (app / "manifest.yaml").write_text(manifest)
    if config is not None:
        (app / "lsp-render.yaml").write_text(yaml.safe_dump(config))
    return app


def _eso(stores: dict[str, str] | None = None, kind: str | None = None) -> dict[str, Any]:
    secrets: dict[str, Any] = {
        "delivery": "external-secrets",
        "secretStores": stores or {"secret": "vault-kv", "kv": "vault-legacy"},
    }
    if kind is not None:
        secrets["secretStoreKind"] = kind
    return {"secrets": secrets}


VSO = {"secrets": {"delivery": "vault-secrets-operator"}}
RICO = {"secrets": {"delivery": "vault-secret"}}


def _render(app: Path, *args: str, extra: dict[str, str] | None = None) -> Result:
    return run(["render", str(app), *args], env=base_env(app.parent), extra_env=extra)


def _inline_secret(tmp_path: Path, manifest: str) -> dict[str, bytes]:
    """What inline delivery writes into the Secret (file backend), as bytes per key."""
    app = _app(tmp_path / "inline", manifest, None)
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(yaml.safe_dump(SECRETS))
    result = _render(app, "--secrets-file", str(secrets_file))
    assert result.code == 0, result.stderr
    (obj,) = [o for o in result.objects() if o["kind"] == "Secret"]
    out = {k: base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
    out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return out


def _only(result: Result, kind: str) -> dict[str, Any]:
    assert result.code == 0, result.stderr
    found = [o for o in result.objects() if o["kind"] == kind]
    assert len(found) == 1, result.stdout
    return found[0]


def test_external_secret_from_several_paths_mounts_versions_and_modifiers(tmp_path: Path) -> None:
    app = _app(tmp_path, MULTI, _eso())
    obj = _only(_render(app), "ExternalSecret")
    validate(obj)
    assert obj["apiVersion"] == "external-secrets.io/v1"
    assert obj["metadata"] == {
        "name": "db",
        "namespace": "team-a",
        "labels": {"app": "db"},
        "annotations": {"argocd.argoproj.io/sync-wave": "-1", "note": "{{ not a template }}"},
    }
    spec = obj["spec"]
    assert spec["secretStoreRef"] == {"name": "vault-kv", "kind": "ClusterSecretStore"}
    target = spec["target"]
    assert target["name"] == "db"
    assert target["template"]["type"] == "kubernetes.io/basic-auth"
    assert target["template"]["metadata"]["labels"] == {"app": "db"}
    # ESO runs the template's annotations as templates: literal braces are escaped
    annotations = target["template"]["metadata"]["annotations"]
    assert go_templates(annotations, {}, tmp_path) == {
        "argocd.argoproj.io/sync-wave": b"-1",
        "note": b"{{ not a template }}",
    }
    entries = {e["secretKey"]: e for e in spec["data"]}
    assert entries["password"]["remoteRef"] == {
        "key": "team-a/db",
        "property": "password",
        "version": "3",
    }
    assert entries["raw"]["remoteRef"]["decodingStrategy"] == "Base64"
    # in data, "| base64encode" only undoes the Secret's own encoding: the raw value
    assert entries["encoded"]["remoteRef"] == {"key": "team-a/db", "property": "weird"}
    assert entries["host"]["remoteRef"] == {"key": "team-a/cfg", "property": "json.db.host"}
    assert entries["port"]["remoteRef"]["property"] == "json.db.ports.1"
    legacy = [e for e in spec["data"] if e["remoteRef"]["key"] == "team-a/legacy"]
    assert len(legacy) == 1
    assert legacy[0]["sourceRef"] == {
        "storeRef": {"name": "vault-legacy", "kind": "ClusterSecretStore"}
    }
    assert "b64enc" in target["template"]["data"]["url"]
    assert "sha256sum" in target["template"]["data"]["digest"]
    # the operator writes, byte for byte, what inline delivery writes
    assert eso_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, MULTI)


def test_external_secret_single_path_generic_placeholders(tmp_path: Path) -> None:
    app = _app(tmp_path, SINGLE, _eso({"secret": "vault-kv"}, "SecretStore"))
    obj = _only(_render(app), "ExternalSecret")
    validate(obj)
    assert obj["metadata"] == {"name": "web"}  # avp.kubernetes.io/* annotations are dropped
    assert obj["spec"] == {
        "secretStoreRef": {"name": "vault-kv", "kind": "SecretStore"},
        "target": {"name": "web", "template": {"engineVersion": "v2", "type": "Opaque"}},
        "data": [
            {"secretKey": "user", "remoteRef": {"key": "team-a/db", "property": "user"}},
            {"secretKey": "password", "remoteRef": {"key": "team-a/db", "property": "password"}},
        ],
    }
    assert eso_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, SINGLE)


def test_external_secret_literal_keys_merge_with_fetched_ones(tmp_path: Path) -> None:
    manifest = SINGLE + "  mode: production\n"
    obj = _only(_render(_app(tmp_path, manifest, _eso())), "ExternalSecret")
    validate(obj)
    template = obj["spec"]["target"]["template"]
    assert template["data"] == {"mode": "production"}
    assert template["mergePolicy"] == "Merge"
    assert eso_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, manifest)


def test_vault_static_secret_single_path(tmp_path: Path) -> None:
    obj = _only(_render(_app(tmp_path, SINGLE, VSO)), "VaultStaticSecret")
    validate(obj)
    assert obj["spec"] == {
        "mount": "secret",
        "path": "team-a/db",
        "type": "kv-v2",
        "destination": {
            "name": "web",
            "create": True,
            "type": "Opaque",
            "transformation": {"includes": ["^user$", "^password$"]},
        },
    }
    assert vso_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, SINGLE)


def test_vault_static_secret_renamed_keys_version_and_modifiers(tmp_path: Path) -> None:
    obj = _only(_render(_app(tmp_path, RENAMED, VSO)), "VaultStaticSecret")
    validate(obj)
    spec = obj["spec"]
    assert (spec["mount"], spec["path"], spec["version"]) == ("secret", "team-a/db", 3)
    destination = spec["destination"]
    assert destination["labels"] == {"tier": "front"}
    transformation = destination["transformation"]
    assert transformation["includes"] == ["^user$"]
    assert set(transformation["templates"]) == {"db-password", "dsn", "note"}
    assert vso_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, RENAMED)


def test_vault_static_secret_kv_v1_by_annotation(tmp_path: Path) -> None:
    manifest = """\
apiVersion: v1
kind: Secret
metadata:
  name: legacy
  annotations: {avp.kubernetes.io/kv-version: "1"}
stringData:
  pass: <path:kv/team-a/legacy#pass>
"""
    obj = _only(_render(_app(tmp_path, manifest, VSO)), "VaultStaticSecret")
    validate(obj)
    assert (obj["spec"]["mount"], obj["spec"]["path"], obj["spec"]["type"]) == (
        "kv",
        "team-a/legacy",
        "kv-v1",
    )


@pytest.mark.parametrize("config", [VSO, RICO], ids=["vso", "vault-secret"])
def test_one_path_operators_refuse_several_paths(tmp_path: Path, config: dict[str, Any]) -> None:
    result = _render(_app(tmp_path, MULTI, config))
    assert_failure(result, 2, "Secret/db", "copies one Vault secret", "external-secrets")


def test_ricoberger_vault_secret_copies_keys_else_templates(tmp_path: Path) -> None:
    obj = _only(_render(_app(tmp_path, SINGLE, RICO)), "VaultSecret")
    validate(obj)
    assert obj["apiVersion"] == "ricoberger.de/v1alpha1"
    assert obj["spec"] == {
        "path": "secret/team-a/db",
        "type": "Opaque",
        "keys": ["user", "password"],
    }
    assert ricoberger_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, SINGLE)
    renamed = SINGLE.replace("  password: <password>", "  pw: <password>")
    obj = _only(_render(_app(tmp_path, renamed, RICO)), "VaultSecret")
    assert obj["spec"]["templates"] == {
        "user": '{% index .Secrets "user" %}',
        "pw": '{% index .Secrets "password" %}',
    }
    assert ricoberger_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, renamed)


def test_ricoberger_vault_secret_templates_renamed_keys(tmp_path: Path) -> None:
    manifest = RENAMED + '  odd: "a {% b"\n'
    obj = _only(_render(_app(tmp_path, manifest, RICO)), "VaultSecret")
    validate(obj)
    spec = obj["spec"]
    assert (spec["path"], spec["version"]) == ("secret/team-a/db", 3)
    assert obj["metadata"]["labels"] == {"tier": "front"}  # the operator copies them
    assert spec["templates"]["user"] == '{% index .Secrets "user" %}'
    assert spec["templates"]["odd"] == '{% "a {% b" %}'
    del spec["templates"]["odd"]  # the oracle swaps delimiters, which this one holds
    assert ricoberger_secret(obj, SECRETS, tmp_path) == _inline_secret(tmp_path, RENAMED)


@pytest.mark.parametrize("config", [_eso(), VSO, RICO], ids=["eso", "vso", "vault-secret"])
def test_configmap_placeholder_is_refused(tmp_path: Path, config: dict[str, Any]) -> None:
    result = _render(_app(tmp_path, SINGLE + "---\n" + CONFIGMAP, config))
    assert_failure(result, 1, "ConfigMap/settings", "data.token", "v1 Secrets")


def test_placeholder_outside_secret_data_is_refused(tmp_path: Path) -> None:
    manifest = SINGLE.replace("type: Opaque", "type: <path:secret/data/team-a/db#user>")
    assert_failure(_render(_app(tmp_path, manifest, _eso())), 1, "Secret/web", "type")


@pytest.mark.parametrize(
    ("modifier", "config"),
    [
        ("indent 2", _eso()),
        ("jsonParse", _eso()),
        ("yamlParse", VSO),
        ("jsonPath {.a[?(@.b)]}", _eso()),
        ("jsonPath {.a}", VSO),
    ],
)
def test_modifier_without_equivalent_exits_2_naming_it(
    tmp_path: Path, modifier: str, config: dict[str, Any]
) -> None:
    manifest = SINGLE.replace("<password>", f"<password | {modifier}>")
    name = modifier.split(maxsplit=1)[0]
    assert_failure(_render(_app(tmp_path, manifest, config)), 2, name, "stringData.password")


def test_mount_without_store_exits_2(tmp_path: Path) -> None:
    result = _render(_app(tmp_path, MULTI, _eso({"secret": "vault-kv"})))
    assert_failure(result, 2, "secretStores", "'kv'")


def test_no_vault_request_and_secret_flags_do_not_matter(tmp_path: Path) -> None:
    server = VaultServer().start()
    try:
        app = _app(tmp_path, MULTI, _eso())
        plain = _render(app)
        assert plain.code == 0, plain.stderr
        env = {"VAULT_ADDR": server.address, "VAULT_TOKEN": "nope"}
        for flags in ((), ("--no-secrets",), ("--mask-secrets",)):
            again = _render(app, *flags, extra=env)
            assert (again.code, again.stdout) == (0, plain.stdout)
        assert server.requests() == []
    finally:
        server.stop()


def test_policy_forces_delivery_per_project(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "projects": {
                    "team-a": {"paths": ["secret/data/team-a/*"], "delivery": "external-secrets"},
                    "*": {"paths": ["secret/data/{{ app.project }}/*"]},
                }
            }
        )
    )
    # the app asks for inline delivery with a secrets file: team-a gets an ExternalSecret anyway
    app = _app(tmp_path, SINGLE, {"secrets": {"delivery": "inline", **_eso()["secrets"]}})
    (app / "lsp-render.yaml").write_text(
        yaml.safe_dump({"secrets": {"secretStores": {"secret": "vault-kv"}}})
    )
    secrets_file = tmp_path / "s.yaml"
    secrets_file.write_text(yaml.safe_dump(SECRETS))
    env = {"LSP_RENDER_POLICY": str(policy), "ARGOCD_APP_PROJECT_NAME": "team-a"}
    forced = _render(app, "--secrets-file", str(secrets_file), extra=env)
    validate(_only(forced, "ExternalSecret"))
    assert "pw-latest" not in forced.stdout
    # another project keeps inline delivery (its paths allowed by "*")
    other = SINGLE.replace("team-a", "team-b")
    (app / "manifest.yaml").write_text(other)
    team_b = {"secret/data/team-b/db": {"user": "u", "password": "p"}}
    secrets_file.write_text(yaml.safe_dump(team_b))
    env["ARGOCD_APP_PROJECT_NAME"] = "team-b"
    inline = _only(_render(app, "--secrets-file", str(secrets_file), extra=env), "Secret")
    assert inline["stringData"] == {"user": "u", "password": "p"}
    # the policy's paths still apply under operator delivery
    env["ARGOCD_APP_PROJECT_NAME"] = "team-a"
    refused = _render(app, extra=env)
    assert_failure(refused, 1, "secret/data/team-b/db", "team-a")


def test_helm_output_keeps_its_source_comment(tmp_path: Path) -> None:
    chart = tmp_path / "repo" / "apps" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    (chart / "templates" / "secret.yaml").write_text(SINGLE)
    (chart / "lsp-render.yaml").write_text(yaml.safe_dump(_eso()))
    result = _render(chart)
    assert result.code == 0, result.stderr
    assert "# Source: chart/templates/secret.yaml\napiVersion: external-secrets.io/v1\n" in (
        result.stdout
    )


def test_version_on_kv_v1_and_escaped_placeholders_exit_2(tmp_path: Path) -> None:
    manifest = SINGLE.replace(
        "  user: <user>",
        "  user: <path:kv/team-a/legacy#pass#2>\n"
        '  j: "{\\"a\\": \\"\\\\u003cpath:secret/x#k\\\\u003e\\"}"',
    )
    legacy = manifest.replace("avp.kubernetes.io/path", "avp.kubernetes.io/kv-version: '1'\n    x")
    assert_failure(_render(_app(tmp_path, legacy, _eso())), 2, "KV v1", "version 2")
    escaped = manifest.replace("#pass#2>", "#pass>")
    assert_failure(_render(_app(tmp_path, escaped, _eso())), 2, "JSON-escaped", "stringData.j")


def test_resolve_in_values_hands_placeholders_to_the_operator(tmp_path: Path) -> None:
    chart = tmp_path / "repo" / "apps" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    (chart / "templates" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"
        "stringData:\n  password: {{ .Values.password | quote }}\n"
    )
    config = _eso()
    config["secrets"]["resolveInValues"] = True
    config["helm"] = {"values": {"password": "<path:secret/data/team-a/db#password>"}}
    (chart / "lsp-render.yaml").write_text(yaml.safe_dump(config))
    obj = _only(_render(chart), "ExternalSecret")  # no VAULT_ADDR, no secrets file: no read
    assert obj["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "team-a/db", "property": "password"}}
    ]


def test_unknown_delivery_modes_exit_2(tmp_path: Path) -> None:
    app = _app(tmp_path, SINGLE, {"secrets": {"delivery": "sealed-secrets"}})
    assert_failure(_render(app), 2, "lsp-render.yaml:2", "secrets.delivery")
    (app / "lsp-render.yaml").unlink()
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"projects": {"*": {"paths": ["*"], "delivery": "x"}}}))
    result = _render(app, extra={"LSP_RENDER_POLICY": str(policy)})
    assert_failure(result, 2, "policy file", "delivery")
