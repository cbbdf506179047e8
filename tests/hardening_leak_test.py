"""No secret value leaks: every secret-related failure, at --verbose, scanned everywhere.

Each case renders with known secret values (the file backend or the Vault test
server) and then scans stdout, stderr, the token cache directory and the scratch
directory (``TMPDIR``) for every value, credential and token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import Case, check_case, write_app
from tests.vault_fixtures import PASSWORD, SECRET_ID, Seeded, vault, vault_env

__all__ = ["CASES", "vault"]

FILE_SECRETS = {
    "password": "S3CR3T-file-password",
    "plain": "S3CR3T-file-not-base64!",
    "json": '{"a": "S3CR3T-file-json"}',
    "yaml": "S3CR3T-file-yaml: [unclosed",
    "pem": "-----BEGIN S3CR3T-file-pem-----\nline\n-----END-----",
}
FILE_VALUES = [
    FILE_SECRETS["password"],
    FILE_SECRETS["plain"],
    "S3CR3T-file-json",
    "S3CR3T-file-yaml",
    "S3CR3T-file-pem",
]


def _secret(*placeholders: str, annotations: str = "") -> str:
    data = "".join(f'  k{i}: "{p}"\n' for i, p in enumerate(placeholders))
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n{annotations}stringData:\n{data}"


CASES = [
    Case(
        "leak-file-missing-key",
        "file backend: missing key",
        1,
        ("Secret/s", "missing Vault value for placeholder nope"),
    ),
    Case(
        "leak-file-missing-path",
        "file backend: missing path",
        1,
        ("Could not find secrets at path secret/data/nope",),
    ),
    Case(
        "leak-file-base64decode",
        "file backend: base64decode of a non-base64 value",
        1,
        ("base64decode", "<path:secret/data/app#plain>"),
    ),
    Case(
        "leak-file-jsonparse",
        "file backend: jsonParse of a non-JSON value",
        1,
        ("jsonParse", "<path:secret/data/app#password>"),
    ),
    Case(
        "leak-file-jsonpath",
        "file backend: jsonPath to a missing key",
        1,
        ("jsonPath", "<path:secret/data/app#json"),
    ),
    Case(
        "leak-file-yamlparse",
        "file backend: yamlParse of invalid YAML",
        1,
        ("yamlParse", "<path:secret/data/app#yaml>"),
    ),
    Case(
        "leak-file-policy",
        "file backend: path refused by the operator policy",
        1,
        ("secret/data/app", "is not allowed"),
    ),
    Case(
        "leak-no-backend",
        "placeholders without any backend configured",
        3,
        ("apps/app/secret.yaml", "no secret backend is configured"),
    ),
    Case(
        "leak-helm-fail-with-value",
        "Helm `fail` quoting a value resolved from a secret (resolveInValues)",
        1,
        ("bad password <redacted>",),
    ),
    Case(
        "leak-set-parse-error",
        "malformed --set holding a secret",
        2,
        ("failed parsing --set 'password=...'",),
    ),
    Case("leak-mask-secrets", "--mask-secrets: resolved but never printed", 0),
    Case(
        "leak-vault-403",
        "Vault: 403 on a read",
        1,
        ("Vault refused to read path", "permission denied"),
    ),
    Case(
        "leak-vault-404",
        "Vault: missing path",
        1,
        ("Could not find secrets at path secret/data/nope",),
    ),
    Case(
        "leak-vault-deleted-version",
        "Vault: deleted version",
        1,
        ("The secret version 2 for Vault path secret/data/gone is nil",),
    ),
    Case(
        "leak-vault-destroyed-version",
        "Vault: destroyed version",
        1,
        ("secret version 1 for Vault path secret/data/burnt is nil",),
    ),
    Case("leak-vault-sealed", "Vault: sealed", 3, ("sealed",)),
    Case(
        "leak-vault-login-refused",
        "Vault: userpass login refused (wrong password)",
        1,
        ("userpass",),
    ),
    Case(
        "leak-vault-approle-mid-render",
        "Vault: fresh approle login token expiring mid-render",
        1,
        ("secret/app", "permission denied"),
    ),
]
_BY_ID = {case.id: case for case in CASES}
FILE_CASES = [
    c
    for c in CASES
    if c.id.startswith(("leak-file", "leak-no-backend", "leak-helm", "leak-set", "leak-mask"))
]
VAULT_CASES = [c for c in CASES if c.id.startswith("leak-vault")]

_FILE_PLACEHOLDERS = {
    "leak-file-missing-key": "<path:secret/data/app#nope>",
    "leak-file-missing-path": "<path:secret/data/nope#password>",
    "leak-file-base64decode": "<path:secret/data/app#plain | base64decode>",
    "leak-file-jsonparse": "<path:secret/data/app#password | jsonParse>",
    "leak-file-jsonpath": "<path:secret/data/app#json | jsonPath {.b}>",
    "leak-file-yamlparse": "<path:secret/data/app#yaml | yamlParse>",
    "leak-file-policy": "<path:secret/data/app#password>",
    "leak-no-backend": "<path:secret/data/app#password>",
}

CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
FAILING_TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n"
    '  x: {{ if ne .Values.password "x" }}'
    '{{ fail (printf "bad password %s" .Values.password) }}{{ end }}\n'
)


def _scan(tmp_path: Path, result: Result, values: list[str], home: Path) -> None:
    """Fail if any value shows in the output, the cache, or is left in the scratch dir."""
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    cache = home / ".cache"
    if cache.is_dir():
        for path in cache.rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_text(errors="replace")
    scratch = tmp_path / "scratch"
    left = list(scratch.rglob("*"))
    assert left == [], f"scratch left behind: {left}"
    for where, text in texts.items():
        for value in values:
            assert value not in text, f"{value} leaked in {where}"


def _file_setup(case: Case, repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    secrets = write_app(tmp, {"secrets.yaml": json.dumps({"secret/data/app": FILE_SECRETS})})
    args = ["--verbose", "--secrets-file", str(secrets / "secrets.yaml")]
    env: dict[str, str] = {}
    if case.id in _FILE_PLACEHOLDERS:
        write_app(repo, {"apps/app/secret.yaml": _secret(_FILE_PLACEHOLDERS[case.id])})
    if case.id == "leak-no-backend":
        args = ["--verbose"]
    if case.id == "leak-file-policy":
        policy = write_app(
            tmp, {"policy.yaml": "projects:\n  '*':\n    paths: ['secret/data/other/*']\n"}
        )
        env["LSP_RENDER_POLICY"] = str(policy / "policy.yaml")
    if case.id == "leak-helm-fail-with-value":
        config = (
            "helm:\n  values:\n    password: '<path:secret/data/app#password>'\n"
            "secrets:\n  resolveInValues: true\n"
        )
        write_app(
            repo,
            {
                "apps/app/Chart.yaml": CHART,
                "apps/app/templates/cm.yaml": FAILING_TEMPLATE,
                "apps/app/lsp-render.yaml": config,
            },
        )
    if case.id == "leak-set-parse-error":
        write_app(
            repo, {"apps/app/Chart.yaml": CHART, "apps/app/templates/cm.yaml": FAILING_TEMPLATE}
        )
        args += ["--set", f"password={FILE_SECRETS['password']},[bad"]
    if case.id == "leak-mask-secrets":
        placeholders = [f"<path:secret/data/app#{key}>" for key in FILE_SECRETS]
        write_app(repo, {"apps/app/secret.yaml": _secret(*placeholders)})
        args.append("--mask-secrets")
    return args, env


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_file_backend_failures_leak_nothing(case: Case, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (tmp_path / "scratch").mkdir()
    home = tmp_path / "home"
    args, env = _file_setup(case, repo, tmp_path)
    environ = {**base_env(home), "TMPDIR": str(tmp_path / "scratch"), **env}
    result = run(["render", "apps/app", *args], cwd=repo, env=environ)
    check_case(case, result, forbidden=FILE_VALUES)
    _scan(tmp_path, result, FILE_VALUES, home)


def _vault_setup(case: Case, seeded: Seeded, repo: Path) -> tuple[list[str], dict[str, str]]:
    env = vault_env(seeded, LSP_RENDER_VAULT_RETRIES="2")
    placeholder = {
        "leak-vault-403": "<path:secret/data/app#password>",
        "leak-vault-404": "<path:secret/data/nope#password>",
        "leak-vault-deleted-version": "<path:secret/data/gone#k>",
        "leak-vault-destroyed-version": "<path:secret/data/burnt#k#1>",
    }.get(case.id, "<path:secret/app#password>")
    write_app(repo, {"apps/app/secret.yaml": _secret(placeholder, "<path:kv/legacy#pass>")})
    if case.id == "leak-vault-403":
        seeded.server.queue_status(403)
    if case.id == "leak-vault-sealed":
        seeded.server.sealed = True
    if case.id == "leak-vault-login-refused":
        env = vault_env(
            seeded,
            VAULT_TOKEN="",
            LSP_RENDER_VAULT_AUTH="userpass",
            LSP_RENDER_VAULT_USERNAME="alice",
            LSP_RENDER_VAULT_PASSWORD=PASSWORD + "-wrong",
        )
    if case.id == "leak-vault-approle-mid-render":
        env = vault_env(
            seeded,
            VAULT_TOKEN="",
            LSP_RENDER_VAULT_AUTH="approle",
            LSP_RENDER_VAULT_ROLE_ID="3d9b2a10-role-id",
            LSP_RENDER_VAULT_SECRET_ID=SECRET_ID,
        )
        original = seeded.server.may_read

        def may_read(token: object, api_path: str) -> bool:
            allowed = original(token, api_path)  # type: ignore[arg-type]
            token.expired = True  # type: ignore[attr-defined]
            return allowed

        seeded.server.may_read = may_read  # type: ignore[method-assign]
    return ["--verbose"], env


@pytest.mark.parametrize("case", VAULT_CASES, ids=lambda c: c.id)
def test_vault_failures_leak_nothing(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (tmp_path / "scratch").mkdir()
    args, env = _vault_setup(case, vault, repo)
    environ = {**base_env(vault.home), **env, "TMPDIR": str(tmp_path / "scratch")}
    result = run(["render", "apps/app", *args], cwd=repo, env=environ)
    credentials = [PASSWORD, PASSWORD + "-wrong", SECRET_ID, vault.server.root_token]
    tokens = [t for t in vault.server.tokens if t != vault.server.root_token]
    check_case(case, result, forbidden=[*vault.values, *credentials, *tokens])
    # The cache may hold a login token (that is its job), never a value or a credential.
    _scan(
        tmp_path, Result(0, result.stdout, result.stderr), [*vault.values, *credentials], vault.home
    )
