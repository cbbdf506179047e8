"""Exposure paths through the real CLI: an abused Vault client, Argo CD's streamed sources, kinds.

Vault cases render a plain app against the test server (``tests/vaultserver.py``)
through the real hvac client: a redirect to another host, a body that drips, a
truncated answer, SIGTERM during slow reads, a 403 that is a policy refusal.
Argo CD cases set ``ARGOCD_APP_REVISION=streamed`` (``argocd app manifests
--local``) or an operator policy with ``kinds``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_render.secrets.backends.vault_auth import cache_identity
from lsp_render.secrets.backends.vault_config import VaultConfig
from lsp_render.secrets.token_cache import TokenCache
from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import Case, check_case, write_app
from tests.vault_fixtures import K8S_JWT, Seeded, vault, vault_env
from tests.vaultserver import VaultServer

__all__ = ["CASES", "vault"]

SECRET_V2 = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n"
    "    avp.kubernetes.io/kv-version: '2'\n"
    'stringData:\n  password: "<path:secret/data/app#password>"\n'
)

CASES = [
    Case(
        "vault-redirect-other-host",
        "Vault redirects (307) to another host: not followed, no token sent there",
        3,
        ("apps/app", "redirected the read of secret/app", "same scheme, host and port"),
    ),
    Case("vault-redirect-same-origin", "Vault redirects (307) within its own origin: followed", 0),
    Case(
        "vault-drip",
        "Vault drips its answer one byte a second: the budget still ends the render",
        3,
        ("apps/app", "2 s budget", "read of secret/app"),
    ),
    Case(
        "vault-drip-headers",
        "Vault drips its status line and headers one byte a second: the budget still ends it",
        3,
        ("apps/app", "2 s budget", "read of secret/app"),
    ),
    Case(
        "vault-truncated-json",
        "Vault's answer is truncated JSON (matching Content-Length)",
        3,
        ("apps/app", "malformed or truncated answer to the read of secret/app"),
    ),
    Case(
        "vault-short-body",
        "Vault closes the connection before the announced Content-Length",
        3,
        ("apps/app", "malformed or truncated answer to the read of secret/app"),
    ),
    Case(
        "vault-sigterm-slow-reads",
        "SIGTERM while several Vault reads hang: exit within 2 s",
        1,
        ("terminated by SIGTERM", "nothing was printed"),
    ),
    Case(
        "vault-403-keeps-cached-token",
        "403 policy refusal with a cached login token: token kept, no new login",
        1,
        ("Secret/s", "secret/data/team-b/db", "permission denied"),
    ),
    Case(
        "streamed-fails",
        "ARGOCD_APP_REVISION=streamed (argocd --local): no Vault request, one line",
        1,
        ("Secret/s", "ARGOCD_APP_REVISION=streamed", "streamed: mask"),
    ),
    Case("streamed-mask", "ARGOCD_APP_REVISION=streamed with policy streamed: mask", 0),
    Case(
        "kinds-configmap",
        "policy kinds [Secret]: a placeholder in a ConfigMap",
        1,
        ("ConfigMap/settings", "data.token", "only in Secret"),
    ),
    Case(
        "kinds-secret-annotation",
        "policy kinds [Secret]: a placeholder in a Secret's annotation",
        1,
        ("Secret/s", "metadata.annotations.note", "data and stringData"),
    ),
    Case("kinds-configmap-allowed", "policy kinds [Secret, ConfigMap]: a ConfigMap renders", 0),
    Case(
        "kinds-resolved-value-in-configmap",
        "policy kinds [Secret], resolveInValues: a value lands base64 in a ConfigMap",
        1,
        ("ConfigMap/leak", "data.blob", "only in Secret"),
    ),
    Case(
        "redact-printf-part",
        "Helm fail() prints part of a longer resolved value (printf, splitList)",
        1,
        ("apps/app", "execution error", "<redacted>"),
    ),
    Case(
        "redact-b64enc",
        "Helm fail() prints a resolved value through b64enc",
        1,
        ("apps/app", "execution error", "<redacted>"),
    ),
    Case(
        "redact-quoted",
        "Helm fail() prints a resolved value with %q (Go-quoted)",
        1,
        ("apps/app", "execution error", "<redacted>"),
    ),
    Case(
        "redact-collapsed",
        "Helm fail() prints a resolved value with its whitespace collapsed",
        1,
        ("apps/app", "execution error", "<redacted>"),
    ),
    Case(
        "redact-schema-pattern",
        "values.schema.json pattern error quoting a resolved value with \\n escapes",
        1,
        ("apps/app", "does not match pattern", "<redacted>"),
    ),
    Case(
        "redact-withheld",
        "Helm fail() prints a slice of a resolved value: the engine's text is withheld",
        1,
        ("apps/app", "the engine failed about app/templates/cm.yaml", "withheld"),
    ),
]
_BY_ID = {case.id: case for case in CASES}


def _params(*ids: str) -> list[Case]:
    return [_BY_ID[i] for i in ids]


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = write_app(tmp_path / "repo", files)
    (repo / ".git").mkdir(exist_ok=True)
    return repo


def _env(seeded: Seeded, **extra: str) -> dict[str, str]:
    env = {**base_env(seeded.home), **vault_env(seeded)}
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def _render(repo: Path, env: dict[str, str], *args: str, timeout: float = 60) -> Result:
    return run(["render", "apps/app", *args], cwd=repo, env=env, timeout=timeout)


# -- the Vault client ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("vault-redirect-other-host"), ids=lambda c: c.id)
def test_redirect_to_another_host(case: Case, vault: Seeded, tmp_path: Path) -> None:
    elsewhere = VaultServer().start()
    try:
        repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
        vault.server.redirect_to = elsewhere.address
        result = _render(repo, _env(vault))
        check_case(case, result, forbidden=[*vault.values, vault.server.root_token])
        assert elsewhere.log == []  # no request at all reached the other host
        assert [r.status for r in vault.server.requests("GET")] == [307]
    finally:
        elsewhere.stop()


@pytest.mark.parametrize("case", _params("vault-redirect-same-origin"), ids=lambda c: c.id)
def test_redirect_within_the_origin(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    vault.server.redirect_to = vault.server.address
    vault.server.redirect_limit = 1
    result = _render(repo, _env(vault))
    check_case(case, result)
    assert vault.values[2] in result.stdout
    reads = vault.server.requests("GET", "/v1/secret/data/app")
    assert [(r.status, r.sent_token) for r in reads] == [(307, True), (200, True)]


@pytest.mark.parametrize("case", _params("vault-drip", "vault-drip-headers"), ids=lambda c: c.id)
def test_dripping_answer_is_bounded_by_the_budget(
    case: Case, vault: Seeded, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    vault.server.drip = 1.0  # the answer (~400 bytes) would take minutes
    vault.server.drip_headers = case.id == "vault-drip-headers"
    env = _env(vault, LSP_RENDER_VAULT_BUDGET="2", LSP_RENDER_VAULT_TIMEOUT="10")
    result = _render(repo, env, timeout=30)  # a hang guard, not a measurement
    check_case(case, result, forbidden=vault.values)


@pytest.mark.parametrize(
    ("case", "fault"),
    [
        pytest.param(_BY_ID["vault-truncated-json"], "truncated", id="vault-truncated-json"),
        pytest.param(_BY_ID["vault-short-body"], "short", id="vault-short-body"),
    ],
)
def test_truncated_answers_are_unreachable_not_missing(
    case: Case, fault: str, vault: Seeded, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    vault.server.queue_fault(fault)
    result = _render(repo, _env(vault))
    check_case(case, result, forbidden=vault.values)
    assert "Could not find secrets" not in result.stderr


@pytest.mark.parametrize("case", _params("vault-sigterm-slow-reads"), ids=lambda c: c.id)
def test_sigterm_during_slow_vault_reads(case: Case, vault: Seeded, tmp_path: Path) -> None:
    """Argo CD's deadline: SIGTERM to the process group while three reads hang in Vault."""
    docs = "".join(
        f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{n}\n  annotations:\n"
        f"    avp.kubernetes.io/kv-version: '2'\n"
        f'stringData:\n  p: "<path:secret/data/team-{n}/db#password>"\n'
        for n in ("a", "b", "c")
    )
    vault.server.put("secret/team-c/db", {"password": vault.value("team-c")})
    repo = _repo(tmp_path, {"apps/app/secrets.yaml": docs})
    vault.server.latency = 30.0
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsp_render", "render", "apps/app"],
        cwd=repo,
        env=_env(vault, LSP_RENDER_VAULT_TIMEOUT="60", LSP_RENDER_VAULT_BUDGET="60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until(lambda: vault.server.in_flight >= 3)
        os.killpg(proc.pid, signal.SIGTERM)
        # Argo CD sends SIGKILL 5 s after SIGTERM; the render must be gone well before.
        out, err = proc.communicate(timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    check_case(case, Result(proc.returncode, out, err), forbidden=vault.values)


def _wait_until(predicate: object, seconds: float = 30) -> None:
    import time

    assert callable(predicate)
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("case", _params("vault-403-keeps-cached-token"), ids=lambda c: c.id)
def test_policy_refusal_keeps_the_cached_token(case: Case, vault: Seeded, tmp_path: Path) -> None:
    jwt = tmp_path / "sa-token"
    jwt.write_text(K8S_JWT + "\n")
    env = _env(
        vault,
        VAULT_TOKEN="",
        LSP_RENDER_VAULT_AUTH="kubernetes",
        LSP_RENDER_VAULT_ROLE="team-a-reader",
        LSP_RENDER_VAULT_K8S_TOKEN_PATH=str(jwt),
    )
    allowed = SECRET_V2.replace("secret/data/app#", "secret/data/team-a/db#")
    refused = SECRET_V2.replace("secret/data/app#", "secret/data/team-b/db#")
    repo = _repo(tmp_path, {"apps/app/secret.yaml": allowed})
    assert _render(repo, env).code == 0  # logs in, caches the token
    assert len(vault.server.logins_served()) == 1
    config = VaultConfig.from_environ(env, role=None)
    cache = TokenCache(config.cache_dir, cache_identity(config)).path
    assert cache is not None
    cached = json.loads(cache.read_text())["token"]

    (repo / "apps/app/secret.yaml").write_text(refused)
    result = _render(repo, env)
    check_case(case, result, forbidden=[*vault.values, cached])
    assert json.loads(cache.read_text())["token"] == cached  # kept
    assert len(vault.server.logins_served()) == 1  # no new login
    assert vault.server.requests("GET", "/v1/auth/token/lookup-self")  # asked, not assumed

    (repo / "apps/app/secret.yaml").write_text(allowed)
    assert _render(repo, env).code == 0
    assert len(vault.server.logins_served()) == 1  # the next render reuses it


# -- Argo CD's exposure paths -------------------------------------------------------------------

CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
    'data:\n  token: "<path:secret/data/app#password>"\n'
)
SECRET_ANNOTATED = SECRET_V2.replace(
    "    avp.kubernetes.io/kv-version: '2'\n",
    "    avp.kubernetes.io/kv-version: '2'\n    note: \"<path:secret/data/app#user>\"\n",
)


def _policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case", _params("streamed-fails", "streamed-mask"), ids=lambda c: c.id)
def test_streamed_sources_never_read_vault(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    extra = {"ARGOCD_APP_REVISION": "streamed", "ARGOCD_APP_PROJECT_NAME": "team-a"}
    if case.id == "streamed-mask":
        extra["LSP_RENDER_POLICY"] = _policy(
            tmp_path,
            'streamed: fail\nprojects:\n  "*":\n    paths: ["secret/*"]\n'
            '  team-a:\n    paths: ["secret/*"]\n    streamed: mask\n',
        )
    result = _render(repo, _env(vault, **extra))
    check_case(case, result, forbidden=vault.values)
    assert vault.server.log == []  # not even a login or a mount lookup
    if case.code == 0:
        assert result.objects()[0]["stringData"] == {"password": "********"}


def test_a_committed_revision_still_reads_vault(vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    result = _render(repo, _env(vault, ARGOCD_APP_REVISION="0123abcd" * 5))
    assert result.code == 0, result.stderr
    assert vault.values[2] in result.stdout


_KINDS_SECRET = 'projects:\n  "*":\n    paths: ["secret/*"]\n    kinds: [Secret]\n'


@pytest.mark.parametrize(
    ("case", "files", "policy"),
    [
        pytest.param(
            _BY_ID["kinds-configmap"],
            {"apps/app/cm.yaml": CONFIGMAP, "apps/app/secret.yaml": SECRET_V2},
            _KINDS_SECRET,
            id="kinds-configmap",
        ),
        pytest.param(
            _BY_ID["kinds-secret-annotation"],
            {"apps/app/secret.yaml": SECRET_ANNOTATED},
            _KINDS_SECRET,
            id="kinds-secret-annotation",
        ),
        pytest.param(
            _BY_ID["kinds-configmap-allowed"],
            {"apps/app/cm.yaml": CONFIGMAP},
            _KINDS_SECRET.replace("[Secret]", "[Secret, ConfigMap]"),
            id="kinds-configmap-allowed",
        ),
    ],
)
def test_policy_kinds(
    case: Case, files: dict[str, str], policy: str, vault: Seeded, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, files)
    result = _render(repo, _env(vault, LSP_RENDER_POLICY=_policy(tmp_path, policy)))
    check_case(case, result, forbidden=vault.values if case.code else ())
    if case.code:
        assert vault.server.log == []  # refused before any Vault request
    else:
        assert vault.values[2] in result.stdout


RESOLVING_CHART = {
    "apps/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    "apps/app/lsp-render.yaml": (
        "helm:\n  valueFiles: [values.yaml]\nsecrets:\n  resolveInValues: true\n"
    ),
    "apps/app/values.yaml": 'password: "<path:secret/data/app#password>"\n',
    "apps/app/templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ok\n"
        "stringData:\n  password: {{ .Values.password | quote }}\n"
    ),
    "apps/app/templates/leak.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n"
        'data:\n  blob: {{ printf "prefix-%s" .Values.password | b64enc | quote }}\n'
    ),
}


@pytest.mark.parametrize("case", _params("kinds-resolved-value-in-configmap"), ids=lambda c: c.id)
def test_policy_kinds_with_resolved_values(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, RESOLVING_CHART)
    result = _render(repo, _env(vault, LSP_RENDER_POLICY=_policy(tmp_path, _KINDS_SECRET)))
    check_case(case, result, forbidden=vault.values)


# -- redaction of engine errors (resolveInValues) --------------------------------------------

VALUE = 'S3cr3t  Pa55\nw0rd"q'  # two spaces, a line break, a quote
_FAILING = {
    "redact-printf-part": (
        '{{ fail (printf "dsn starts %s" (index (splitList "@" .Values.dsn) 0)) }}'
    ),
    "redact-b64enc": '{{ fail (printf "encoded %s" (.Values.password | b64enc)) }}',
    "redact-quoted": '{{ fail (printf "quoted %q" .Values.password) }}',
    "redact-collapsed": (
        '{{ fail (printf "flat %s" (regexReplaceAll "\\\\s+" .Values.password " ")) }}'
    ),
    "redact-schema-pattern": "{{ .Values.password }}",
    "redact-withheld": '{{ fail (printf "slice %s" (.Values.password | substr 1 12)) }}',
}
_SCHEMA = (
    '{"type": "object", "properties": {"password": {"type": "string", "pattern": "^[a-z]+$"}}}'
)


def _leaky_forms() -> list[str]:
    import base64

    quoted = VALUE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    collapsed = " ".join(VALUE.split())
    pieces = [VALUE[i : i + 8] for i in range(len(VALUE) - 7)]
    return [
        VALUE,
        base64.b64encode(VALUE.encode()).decode(),
        base64.b64encode(VALUE.encode()).decode()[:12],
        quoted,
        collapsed,
        "S3cr3t Pa55\\nw0rd",
        *pieces,
    ]


@pytest.mark.parametrize("case", _params(*_FAILING), ids=lambda c: c.id)
def test_engine_errors_never_show_a_resolved_value(
    case: Case, vault: Seeded, tmp_path: Path
) -> None:
    vault.server.put("secret/red", {"password": VALUE})
    files = {
        "apps/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        "apps/app/lsp-render.yaml": (
            "helm:\n  valueFiles: [values.yaml]\nsecrets:\n  resolveInValues: true\n"
        ),
        # printf-part: the value only inside a longer string, never a whole value.
        "apps/app/values.yaml": (
            'dsn: "postgres://<path:secret/data/red#password>@db"\n'
            if case.id == "redact-printf-part"
            else 'password: "<path:secret/data/red#password>"\n'
        ),
        "apps/app/templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n"
            f"  a: {_FAILING[case.id]}\n"
        ),
    }
    if case.id == "redact-schema-pattern":
        files["apps/app/values.schema.json"] = _SCHEMA
    repo = _repo(tmp_path, files)
    result = _render(repo, _env(vault), "--verbose")
    check_case(case, result, forbidden=_leaky_forms())
