"""AVP_PATH_VALIDATION is a Go RE2 pattern (issue 11, case 6), checked before any backend.

Run through the real command: exit codes, empty stdout, and exactly one stderr
line (RE2's own error log must not reach stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsp_render.core.errors import InputError
from lsp_render.secrets.path_validation import compile_go_regexp
from tests.cli_helpers import assert_failure, base_env, run


def _app(tmp_path: Path, path: str) -> tuple[Path, Path]:
    app = tmp_path / "app"
    app.mkdir()
    (app / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: <path:{path}#k>\n",
        encoding="utf-8",
    )
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({path: {"k": "v"}}), encoding="utf-8")
    return app, secrets


@pytest.mark.parametrize(
    ("pattern", "path", "allowed"),
    [
        (r"^secret/[[:alnum:]]+/[[:alnum:]-]+$", "secret/team1/db-main", True),
        (r"^secret/[[:alnum:]]+/[[:alnum:]]+$", "secret/team1/db-main", False),
        (r"^secret/[[:^digit:]]+\z", "secret/app", True),
        (r"^secret/[a-z]+\z", "secret/app9", False),
        (r"^secret/\pL+$", "secret/äpp", True),
        (r"(?i)^SECRET/", "secret/app", True),
    ],
)
def test_case6_go_patterns_allow_and_refuse_as_go_does(
    pattern: str, path: str, allowed: bool, tmp_path: Path
) -> None:
    app, secrets = _app(tmp_path, path)
    env = base_env(tmp_path) | {"AVP_PATH_VALIDATION": pattern}
    result = run(["render", str(app), "--secrets-file", str(secrets)], env=env)
    if allowed:
        assert result.code == 0, result.stderr
        assert result.objects()[0]["stringData"] == {"k": "v"}
        assert result.stderr == ""
    else:
        assert_failure(result, 1, path, "AVP_PATH_VALIDATION")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"^\/(?!\/)(.*?)", "invalid perl operator: (?!"),
        (r"secret/(", "missing )"),
        (r"^secret/\Z", r"invalid escape sequence: \Z"),
        (r"(a)\1", r"invalid escape sequence: \1"),
    ],
)
def test_case6_patterns_go_refuses_are_exit_2_in_one_line(
    pattern: str, reason: str, tmp_path: Path
) -> None:
    app, secrets = _app(tmp_path, "secret/app")
    env = base_env(tmp_path) | {"AVP_PATH_VALIDATION": pattern}
    result = run(["render", str(app), "--secrets-file", str(secrets)], env=env)
    assert_failure(result, 2, "AVP_PATH_VALIDATION", reason)


def test_case6_python_only_syntax_is_refused_in_process() -> None:
    with pytest.raises(InputError, match=r"invalid perl operator: \(\?P"):
        compile_go_regexp(r"(?P=name)")
    assert compile_go_regexp(r"(?P<name>x)").search("x") is not None
