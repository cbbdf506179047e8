"""diff: between environments and git revisions, per resource, with secret values masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.workflows.masking import (
    ADDED,
    CHANGED_NEW,
    CHANGED_OLD,
    REMOVED,
    UNCHANGED,
    mask_pair,
    secret_paths,
    substituted_paths,
)
from tests.cli_helpers import run
from tests.workflow_fixtures import SECRET_VALUES, SECRETS_FILE, git, git_repo, repo

__all__ = ["git_repo", "repo"]


def _diff(app: Path, *args: str) -> tuple[int, str, str]:
    result = run(["diff", str(app), *args])
    return result.code, result.stdout, result.stderr


def test_environments_differ_per_resource(repo: Path) -> None:
    code, out, err = _diff(repo / "applications" / "web", "--env", "prod", "--against-env", "dev")
    assert code == 1, err
    assert "--- a/Deployment.apps/web (dev)\n+++ b/Deployment.apps/web (prod)\n" in out
    assert "--- a/Service/web (dev)\n+++ b/Service/web (prod)\n" in out
    assert "-  replicas: 1\n+  replicas: 3\n" in out
    assert "-          value: https://dev.example.org/\n" in out
    assert "\x1b[" not in out  # not a terminal: no colour
    assert err.strip() == "lsp-render: 2 changed, 0 added, 0 removed"


def test_no_difference_exits_0(repo: Path) -> None:
    code, out, err = _diff(repo / "applications" / "web", "--env", "dev", "--against-env", "dev")
    assert (code, out) == (0, ""), err
    code, out, _ = _diff(repo / "applications" / "config", "--env", "dev", "--against-env", "prod")
    assert (code, out) == (0, "")


def test_color_always_and_context(repo: Path) -> None:
    web = repo / "applications" / "web"
    code, out, _ = _diff(web, "--env", "prod", "--against-env", "dev", "--color", "always")
    assert code == 1
    assert "\x1b[31m-  replicas: 1\x1b[0m" in out
    assert "\x1b[32m+  replicas: 3\x1b[0m" in out
    _, narrow, _ = _diff(web, "--env", "prod", "--against-env", "dev", "-U", "0")
    assert "image: nginx" not in narrow
    assert "+  replicas: 3" in narrow


def test_secret_values_are_masked_but_changes_show(repo: Path) -> None:
    code, out, err = _diff(
        repo / "applications" / "api",
        "--env",
        "prod",
        "--against-env",
        "dev",
        "--secrets-file",
        str(SECRETS_FILE),
        "--context",
        "50",
    )
    assert code == 1, err
    # The placeholder-substituted password differs between dev and prod.
    assert f"-  password: {CHANGED_OLD}\n+  password: {CHANGED_NEW}\n" in out
    # So does the connection string it is part of (a ConfigMap, not a Secret).
    assert f"\n-  DATABASE_URL: {CHANGED_OLD}\n" in out
    assert f"\n+  DATABASE_URL: {CHANGED_NEW}\n" in out
    # Equal on both sides: one context line, no change.
    assert f"   token: '{UNCHANGED}'\n" in out
    assert f"   apiKey: '{UNCHANGED}'\n" in out  # a literal Secret data value is masked too
    for value in (*SECRET_VALUES, "c3RhdGljLWtleQ==", "static-key"):
        assert value not in out
        assert value not in err


def test_secret_values_without_backend_keep_placeholders_masked(repo: Path) -> None:
    code, out, _ = _diff(
        repo / "applications" / "api",
        "--env",
        "prod",
        "--against-env",
        "dev",
        "--no-secrets",
        "-U",
        "50",
    )
    assert code == 1
    assert f"-  password: {CHANGED_OLD}\n+  password: {CHANGED_NEW}\n" in out
    assert "<path:" not in out.split("kind: Secret")[1]


def test_placeholders_without_a_backend_fail_with_exit_3(repo: Path) -> None:
    code, out, err = _diff(repo / "applications" / "api", "--env", "prod", "--against-env", "dev")
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_render_failure_exits_2_naming_the_side(repo: Path) -> None:
    (repo / "applications" / "web" / "values-dev.yaml").write_text("replicas: [\n")
    code, out, err = _diff(repo / "applications" / "web", "--env", "prod", "--against-env", "dev")
    assert code == 2
    assert out == ""
    assert "dev: " in err
    assert "values-dev.yaml" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--env", "dev"],
        ["--env", "dev", "--against-env", "prod", "--against-revision", "HEAD"],
        ["--against-env", "prod"],
        ["--env", "dev", "--against-env", "prod", "--color", "sometimes"],
    ],
)
def test_bad_usage_exits_2(repo: Path, args: list[str]) -> None:
    code, out, _ = _diff(repo / "applications" / "web", *args)
    assert (code, out) == (2, "")


def test_against_revision(git_repo: Path) -> None:
    web = git_repo / "applications" / "web"
    code, out, err = _diff(web, "--env", "prod", "--against-revision", "HEAD")
    assert (code, out) == (0, ""), err
    (web / "values-prod.yaml").write_text("replicas: 5\n")
    code, out, err = _diff(web, "--env", "prod", "--against-revision", "main")
    assert code == 1, err
    assert "-  replicas: 3\n+  replicas: 5\n" in out
    assert "(working tree, prod)" in out
    assert "(main " in out
    # The working tree and the index are untouched: only our own edit shows.
    assert git(git_repo, "status", "--porcelain").splitlines() == [
        " M applications/web/values-prod.yaml"
    ]


def test_against_revision_sees_committed_history(git_repo: Path) -> None:
    web = git_repo / "applications" / "web"
    (web / "templates" / "service.yaml").unlink()
    git(git_repo, "commit", "-q", "-am", "drop the service")
    code, out, err = _diff(web, "--env", "dev", "--against-revision", "HEAD~1")
    assert code == 1, err
    assert "--- a/Service/web (HEAD~1 " in out
    assert "+++ /dev/null" in out
    assert "lsp-render: 0 changed, 0 added, 1 removed" in err


def test_new_app_is_all_added_against_an_old_revision(git_repo: Path) -> None:
    git(git_repo, "mv", "applications/config", "applications/settings")
    code, out, err = _diff(
        git_repo / "applications" / "settings", "--env", "dev", "--against-revision", "HEAD"
    )
    assert code == 1, err
    assert "--- /dev/null\n+++ b/ConfigMap/platform/platform-settings" in out
    assert "does not exist at HEAD" in err


def test_unknown_revision_and_no_git_exit_2(git_repo: Path, tmp_path: Path) -> None:
    web = git_repo / "applications" / "web"
    code, out, err = _diff(web, "--env", "dev", "--against-revision", "no-such-branch")
    assert (code, out) == (2, "")
    assert "unknown revision 'no-such-branch'" in err
    code, _, err = _diff(web, "--env", "dev", "--against-revision", "--output=/tmp/x")
    assert code == 2
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    code, _, err = _diff(plain, "--env", "dev", "--against-revision", "HEAD")
    assert code == 2
    assert "not inside a git repository" in err


def test_mask_pair_markers() -> None:
    old = {"kind": "Secret", "apiVersion": "v1", "data": {"a": "eA==", "b": "eQ==", "gone": "1"}}
    new = {"kind": "Secret", "apiVersion": "v1", "data": {"a": "eA==", "b": "eg==", "new": "2"}}
    masked_old, masked_new = mask_pair(old, new, secret_paths(old), secret_paths(new))
    assert masked_old["data"] == {"a": UNCHANGED, "b": CHANGED_OLD, "gone": REMOVED}
    assert masked_new["data"] == {"a": UNCHANGED, "b": CHANGED_NEW, "new": ADDED}
    assert old["data"]["a"] == "eA=="  # inputs untouched


def test_secret_paths_only_for_core_secrets() -> None:
    assert secret_paths({"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "v"}}) == {
        ("stringData", "k")
    }
    assert secret_paths({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}) == set()


def test_substituted_paths_compares_before_and_after() -> None:
    raw = {"spec": {"env": [{"name": "A", "value": "<path:s#k>"}, {"name": "B", "value": "b"}]}}
    final = {"spec": {"env": [{"name": "A", "value": "v"}, {"name": "B", "value": "b"}]}}
    assert substituted_paths(raw, final) == {("spec", "env", 0, "value")}
    assert substituted_paths(raw, raw) == set()
