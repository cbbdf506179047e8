"""resolveInValues covers the chart's own values.yaml and never expands a value twice.

Issue 11, case 2: with no ``valueFiles`` configured, the placeholders in the
chart's own ``values.yaml`` reached Helm as text (``b64enc`` encoded the
placeholder, ``upper`` mangled it). Case 7: a secret value that itself holds
``<path:...>`` (or ``<key>`` in a resource annotated with ``avp.kubernetes.io/path``)
was expanded again in the rendered manifests; SPEC 5 says a resolved value is
never scanned again. Real command, real Helm engine, the real file backend.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import yaml

from tests.cli_helpers import assert_failure, base_env, run

DATA = Path(__file__).resolve().parent / "data" / "chart-values-secrets"
PASSWORD = "pa55-w0rd"
TEMPLATE = "<path:secret/other#x> and <b>bold</b>"
SECRETS = {
    "secret/app": {
        "password": PASSWORD,
        "host": "b.example",
        "template": TEMPLATE,
        "user": "alice",
    },
    # if the template's text were expanded again it would silently read this
    "secret/other": {"x": "EXPANDED-AGAIN"},
}


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    shutil.copytree(DATA, repo / "app")
    return repo


def _secrets(tmp_path: Path, data: object = None) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(SECRETS if data is None else data), encoding="utf-8")
    return path


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _objects(stdout: str) -> dict[str, dict[str, object]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(stdout) if doc}


def test_case2_the_charts_own_values_are_resolved(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    before = _snapshot(repo)
    result = run(
        ["render", str(repo / "app"), "--secrets-file", str(_secrets(tmp_path))],
        env=base_env(tmp_path),
    )
    assert result.code == 0, result.stderr
    secret = _objects(result.stdout)["Secret"]
    assert base64.b64decode(secret["data"]["password"]).decode() == PASSWORD  # type: ignore[index]
    assert secret["stringData"] == {
        "upper": PASSWORD.upper(),
        "dsn": f"postgres://app:{PASSWORD}@db:5432/app",
        "hosts": "A.EXAMPLE,B.EXAMPLE",
        "plain": "untouched",
    }
    assert PASSWORD not in result.stderr
    assert _snapshot(repo) == before  # nothing written into the repository
    assert not list(tmp_path.glob("repo/**/*.tmp"))


def test_case2_a_user_value_that_overrides_the_placeholder_reads_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    app = repo / "app"
    (app / "prod.yaml").write_text(
        "db:\n  password: from-file\n  dsn: x\nhosts: []\nnested:\n  template: t\n"
    )
    (app / "lsp-render.yaml").write_text(
        "helm:\n  valueFiles: [prod.yaml]\nsecrets:\n  resolveInValues: true\n"
    )
    # only the template's own placeholders need a secret now
    secrets = _secrets(tmp_path, {"secret/app": {"user": "alice"}})
    result = run(["render", str(app), "--secrets-file", str(secrets)], env=base_env(tmp_path))
    assert result.code == 0, result.stderr
    secret = _objects(result.stdout)["Secret"]
    assert base64.b64decode(secret["data"]["password"]).decode() == "from-file"  # type: ignore[index]


def test_case2_a_missing_secret_in_the_charts_values_fails(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    secrets = _secrets(tmp_path, {"secret/app": {"user": "alice", "host": "h", "template": "t"}})
    result = run(
        ["render", str(repo / "app"), "--secrets-file", str(secrets)], env=base_env(tmp_path)
    )
    assert_failure(result, 1, "password", "<path:secret/app#password>")


def test_case7_a_secret_holding_placeholders_is_never_expanded_again(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = run(
        ["render", str(repo / "app"), "--secrets-file", str(_secrets(tmp_path))],
        env=base_env(tmp_path),
    )
    assert result.code == 0, result.stderr
    assert "EXPANDED-AGAIN" not in result.stdout
    data = _objects(result.stdout)["ConfigMap"]["data"]
    assert data == {
        "template": TEMPLATE,
        # Helm's toJson escapes < and > (Go's encoder): the escaped form stays too
        "json": '{"template":"\\u003cpath:secret/other#x\\u003e and '
        '\\u003cb\\u003ebold\\u003c/b\\u003e"}',
        "own": "alice",
        "inline": "alice",
    }


def test_case7_in_the_values_alone_nothing_is_rescanned(tmp_path: Path) -> None:
    """A secret pointing at a missing secret must not make the render fail either."""
    repo = _repo(tmp_path)
    data = {"secret/app": dict(SECRETS["secret/app"], template="<path:secret/nowhere#x>")}
    result = run(
        ["render", str(repo / "app"), "--secrets-file", str(_secrets(tmp_path, data))],
        env=base_env(tmp_path),
    )
    assert result.code == 0, result.stderr
    configmap = _objects(result.stdout)["ConfigMap"]
    assert configmap["data"]["template"] == "<path:secret/nowhere#x>"  # type: ignore[index]
