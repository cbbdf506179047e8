"""``render-all --changed-since REV``: only the pairs whose inputs changed are rendered.

The miniature repository (tests/data/workflows/repo): web depends on charts/common
through file://, worker-a and worker-b use charts/worker (which depends on
charts/common), environments/values-<env>.yaml are the data files, and
lsp-render-repo.yaml applies to every pair.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import assert_failure, base_env, run
from tests.workflow_fixtures import ALL_PAIRS, SECRETS_FILE, git, git_repo, repo

__all__ = ["git_repo", "repo"]  # fixtures


def _rendered(root: Path, tmp_path: Path, *args: str) -> tuple[list[str], str]:
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    result = run(
        [
            "render-all",
            str(root),
            "--output-dir",
            str(out),
            "--secrets-file",
            str(SECRETS_FILE),
            "-j",
            "1",
            *args,
        ],
        env=base_env(),
    )
    assert result.code == 0, result.stdout + result.stderr
    labels = sorted(p.relative_to(out).with_suffix("").as_posix() for p in out.rglob("*.yaml"))
    return labels, result.stderr


def _touch(path: Path) -> None:
    path.write_text(path.read_text() + "\n# changed\n")


def test_nothing_changed_renders_nothing(git_repo: Path, tmp_path: Path) -> None:
    labels, stderr = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == []
    assert "--changed-since HEAD: 0 changed files, 0 of 8 pairs to render" in stderr


def test_an_apps_value_file_renders_that_app_and_environment(
    git_repo: Path, tmp_path: Path
) -> None:
    _touch(git_repo / "applications" / "web" / "values-dev.yaml")
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == ["dev/applications/web"]
    _touch(git_repo / "applications" / "web" / "values.yaml")
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == ["dev/applications/web", "prod/applications/web"]


def test_a_shared_local_chart_renders_the_apps_depending_on_it(
    git_repo: Path, tmp_path: Path
) -> None:
    _touch(git_repo / "charts" / "common" / "templates" / "_labels.tpl")
    git(git_repo, "commit", "-qam", "change the shared chart")  # committed changes count too
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD~1")
    assert labels == [
        "dev/applications/web",
        "dev/applications/worker-a",
        "dev/applications/worker-b",
        "prod/applications/web",
        "prod/applications/worker-a",
    ]


def test_an_environment_file_renders_that_environment(git_repo: Path, tmp_path: Path) -> None:
    _touch(git_repo / "environments" / "values-prod.yaml")
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == [
        "prod/applications/api",
        "prod/applications/web",
        "prod/applications/worker-a",
    ]


def test_the_repository_configuration_renders_everything(git_repo: Path, tmp_path: Path) -> None:
    _touch(git_repo / "lsp-render-repo.yaml")
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == sorted(ALL_PAIRS)


def test_untracked_files_and_a_new_application(git_repo: Path, tmp_path: Path) -> None:
    new = git_repo / "applications" / "extra"
    new.mkdir()
    (new / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    labels, _ = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == ["applications/extra"]


def test_unattributable_inputs_are_included_and_said(git_repo: Path, tmp_path: Path) -> None:
    config = git_repo / "applications" / "worker-b" / "lsp-render.yaml"
    config.write_text("helm:\n  chart: \"../../charts/{{ 'worker' }}\"\n")
    git(git_repo, "commit", "-qam", "a templated chart path")
    _touch(git_repo / "applications" / "api" / "values.yaml")
    labels, stderr = _rendered(git_repo, tmp_path, "--changed-since", "HEAD")
    assert labels == ["dev/applications/api", "dev/applications/worker-b", "prod/applications/api"]
    assert "dev/applications/worker-b: included, its inputs are not fully known" in stderr


def test_bad_revision(git_repo: Path) -> None:
    result = run(["render-all", str(git_repo), "--changed-since", "no-such-rev"])
    assert_failure(result, 2, "--changed-since")
    assert_failure(run(["render-all", str(git_repo), "--changed-since", "--all"]), 2)


@pytest.fixture
def aoa_repo(tmp_path: Path) -> Path:
    """The Applications test repository as a git repository."""
    target = tmp_path / "aoa"
    shutil.copytree(Path(__file__).parent / "data" / "applications" / "repo", target)
    git(target, "init", "-q", "-b", "main")
    git(target, "remote", "add", "origin", "https://git.example.org/deploy.git")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "initial")
    return target


def test_app_of_apps_changes(aoa_repo: Path, tmp_path: Path) -> None:
    args = ["--from-applications", str(aoa_repo / "environments"), "--changed-since", "HEAD"]
    args += ["--no-secrets"]
    _touch(aoa_repo / "environments" / "values-prod.yaml")
    out = tmp_path / "out"
    result = run(["render-all", str(aoa_repo / "apps"), "--output-dir", str(out), *args])
    assert result.code == 0, result.stdout + result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml")) == ["prod/web.yaml"]
    git(aoa_repo, "checkout", "-q", "--", ".")
    _touch(aoa_repo / "shared" / "values-common.yaml")  # a value file of web and multi
    shutil.rmtree(out)
    result = run(["render-all", str(aoa_repo / "apps"), "--output-dir", str(out), *args])
    assert result.code == 0, result.stdout + result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == ["dev/multi.yaml", "dev/web.yaml", "prod/web.yaml"]


def test_file_dependencies_are_followed_transitively(tmp_path: Path) -> None:
    from lsp_render.workflows.changes import pair_inputs
    from lsp_render.workflows.discovery import Pair

    root = tmp_path / "r"
    chain = {
        "applications/app": "file://../../charts/a",
        "charts/a": "file://../b",
        "charts/b": "file://../c",
        "charts/c": None,
    }
    for rel, dep in chain.items():
        directory = root / rel
        directory.mkdir(parents=True)
        text = f"apiVersion: v2\nname: {directory.name}\nversion: 1.0.0\n"
        if dep is not None:
            text += f"dependencies:\n  - name: x\n    version: 1.0.0\n    repository: {dep}\n"
        (directory / "Chart.yaml").write_text(text)
    (root / "charts" / "unused").mkdir()
    app = (root / "applications" / "app").resolve()
    inputs = pair_inputs(Pair("applications/app", None, app), root.resolve(), base_env())
    deep = (root / "charts" / "c" / "templates" / "x.yaml").resolve()
    unused = (root / "charts" / "unused" / "x.yaml").resolve()
    assert inputs.touched_by([deep, unused]) == [deep]
    assert inputs.unknown == []
