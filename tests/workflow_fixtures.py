"""Fixtures of the workflow tests: a writable copy of the miniature deployment repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "workflows"
SECRETS_FILE = DATA / "secrets.yaml"
SECRET_VALUES = ("dev-pw-Zq8x", "prod-pw-Kd3m", "shared-tok-Wy7c")

# The pairs of the miniature repository, as render-all labels them.
ALL_PAIRS = (
    "applications/config",
    "dev/applications/api",
    "dev/applications/web",
    "dev/applications/worker-a",
    "dev/applications/worker-b",
    "prod/applications/api",
    "prod/applications/web",
    "prod/applications/worker-a",
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A writable copy of ``tests/data/workflows/repo``."""
    target = tmp_path / "repo"
    shutil.copytree(DATA / "repo", target)
    return target


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; return stdout."""
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent / "home"),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    done = subprocess.run(
        [shutil.which("git") or "git", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def git_repo(repo: Path) -> Path:
    """The miniature repository as a git repository with one commit on ``main``."""
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo
