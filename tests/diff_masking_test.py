"""``diff`` never shows a secret value, wherever a template puts it, and agrees with ``render``.

A Helm chart with ``resolveInValues`` puts values read from the Vault test server
(through the real hvac client) into a Secret's name, namespace, labels,
annotations and keys, a ConfigMap key, a ``printf`` string, ``b64enc`` and
``sha256sum``; a plain app puts placeholders into names and annotations. Every
diff (``--against-env`` and ``--against-revision``) is scanned for every form of
every value, and a changed value must still show as changed.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import yaml

from lsp_render.core.redaction import secret_forms
from lsp_render.workflows.masking import CHANGED_NEW, CHANGED_OLD
from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import write_app
from tests.vault_fixtures import Seeded, vault, vault_env
from tests.workflow_fixtures import git

__all__ = ["vault"]

DEV = {"password": "dev-pw-Zq8xQ", "user": "alice-dev-usr"}
PROD = {"password": "prod-pw-Kd3mW", "user": "bob-prod-usr"}
TOKEN = "shared-tok-Wy7cP"

SECRET_TEMPLATE = """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Values.user }}-creds
  namespace: {{ .Values.user }}
  labels:
    owner: {{ .Values.user }}
  annotations:
    note: {{ printf "pw=%s" .Values.password | quote }}
stringData:
  {{ .Values.user }}: {{ .Values.password | quote }}
data:
  b64: {{ .Values.password | b64enc }}
"""
CONFIGMAP_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    checksum: {{ .Values.password | sha256sum }}
data:
  dsn: {{ printf "postgres://%s@db/%s" .Values.password (.Values.user | upper) | quote }}
  {{ .Values.user }}-key: "x"
  token-b64: {{ .Values.token | b64enc | quote }}
  plain: same-on-both-sides
"""


def _values(env: str) -> str:
    token_path = "shared" if env == "dev" else "shared2"  # same value, another path
    return (
        f'password: "<path:secret/data/{env}/app#password>"\n'
        f'user: "<path:secret/data/{env}/app#user>"\n'
        f'token: "<path:secret/data/{token_path}#token>"\n'
    )


CHART = {
    "apps/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    "apps/app/values.yaml": "password: x\nuser: x\ntoken: x\n",
    "apps/app/values-dev.yaml": _values("dev"),
    "apps/app/values-prod.yaml": _values("prod"),
    "apps/app/lsp-render.yaml": "secrets:\n  resolveInValues: true\n",
    "apps/app/templates/secret.yaml": SECRET_TEMPLATE,
    "apps/app/templates/configmap.yaml": CONFIGMAP_TEMPLATE,
}


@pytest.fixture
def seeded(vault: Seeded) -> Seeded:
    """The Vault test server with the two environments' secrets."""
    vault.server.put("secret/dev/app", DEV)
    vault.server.put("secret/prod/app", PROD)
    vault.server.put("secret/shared", {"token": TOKEN})
    vault.server.put("secret/shared2", {"token": TOKEN})
    return vault


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = write_app(tmp_path / "repo", files)
    (repo / ".git").mkdir(exist_ok=True)
    return repo


def _cli(repo: Path, seeded: Seeded, *args: str) -> Result:
    env = {**base_env(seeded.home), **vault_env(seeded)}
    return run(list(args), cwd=repo, env=env, timeout=120)


def _forms() -> set[str]:
    values = [*DEV.values(), *PROD.values(), TOKEN]
    forms = {f for v in values for f in secret_forms(v) if len(f) >= 6}
    forms |= {hashlib.sha256(v.encode()).hexdigest() for v in values}
    forms |= {base64.b64encode(f"pw={v}".encode()).decode() for v in values}
    return forms


def _leaks(result: Result) -> list[str]:
    return sorted(f for f in _forms() if f in result.stdout or f in result.stderr)


def test_diff_between_environments_shows_no_value_anywhere(seeded: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, CHART)
    result = _cli(
        repo, seeded, "diff", "apps/app", "--env", "prod", "--against-env", "dev", "-U", "50"
    )
    assert result.code == 1, result.stderr
    assert _leaks(result) == []
    out = result.stdout
    # The headers name the resources without their secret-derived name or namespace.
    assert "--- a/Secret/******** (hidden)/******** (hidden) (dev)" in out
    assert "+++ b/ConfigMap/settings (prod)" in out
    # Changed values still show as changed, in every place.
    for field in ("owner", "note", "checksum", "dsn", "b64"):
        assert f"-    {field}: {CHANGED_OLD}" in out or f"-  {field}: {CHANGED_OLD}" in out, field
        assert f"+    {field}: {CHANGED_NEW}" in out or f"+  {field}: {CHANGED_NEW}" in out, field
    # A key built from a secret is renamed, never printed.
    assert "******** (secret key)" in out
    # The same value from another path renders the same: no change, as `render` says.
    assert "token-b64" not in out.split("@@")[-1].replace(" token-b64:", "")
    assert "plain: same-on-both-sides" in out  # context, unmasked


def test_diff_agrees_with_render_for_resolved_values(seeded: Seeded, tmp_path: Path) -> None:
    """resolveInValues: the token comes from two paths with one value; render prints the same."""
    repo = _repo(tmp_path, CHART)
    dev = _cli(repo, seeded, "render", "apps/app", "--env", "dev")
    prod = _cli(repo, seeded, "render", "apps/app", "--env", "prod")
    assert dev.code == prod.code == 0, dev.stderr + prod.stderr

    def token(result: Result) -> str:
        docs = [d for d in yaml.safe_load_all(result.stdout) if d]
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
        return str(cm["data"]["token-b64"])

    assert token(dev) == token(prod) == base64.b64encode(TOKEN.encode()).decode()
    result = _cli(
        repo, seeded, "diff", "apps/app", "--env", "prod", "--against-env", "dev", "-U", "0"
    )
    assert result.code == 1, result.stderr
    assert "token-b64" not in result.stdout  # unchanged, as render shows
    assert _leaks(result) == []


PLAIN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: "cm-<path:secret/data/{env}/app#user>"
  annotations:
    owner: "<path:secret/data/{env}/app#user>"
    mixed: "token <path:secret/data/shared#token> here"
data:
  password: "<path:secret/data/{env}/app#password>"
  fixed: "same"
"""


def test_diff_against_revision_masks_names_and_annotations(seeded: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/cm.yaml": PLAIN.format(env="dev")})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dev")
    (repo / "apps/app/cm.yaml").write_text(PLAIN.format(env="prod"))
    result = _cli(
        repo, seeded, "diff", "apps/app", "--env", "dev", "--against-revision", "main", "-U", "50"
    )
    assert result.code == 1, result.stderr
    assert _leaks(result) == []
    out = result.stdout
    assert "--- a/ConfigMap/******** (hidden) (main " in out
    assert f"-    owner: {CHANGED_OLD}" in out
    assert f"+    owner: {CHANGED_NEW}" in out
    assert f"-  password: {CHANGED_OLD}" in out
    assert "    mixed: '******** (unchanged)'" in out  # the token is the same on both sides
    assert "  fixed: same" in out
    assert "<path:" not in out


def test_diff_masks_names_when_placeholders_cannot_render(seeded: Seeded, tmp_path: Path) -> None:
    """A values schema refuses the placeholder text: only the resolved render exists."""
    files = dict(CHART)
    files["apps/app/values.schema.json"] = (
        '{"type": "object", "properties": {"user": {"type": "string", "pattern": "^[a-z-]+$"}}}'
    )
    repo = _repo(tmp_path, files)
    result = _cli(
        repo, seeded, "diff", "apps/app", "--env", "prod", "--against-env", "dev", "-U", "50"
    )
    assert result.code == 1, result.stderr
    assert _leaks(result) == []
    assert "Secret/******** (hidden)/******** (hidden)" in result.stdout
