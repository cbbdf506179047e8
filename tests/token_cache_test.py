"""The Vault token cache trusts only a private file of its own user, in a private directory.

Real files, a real second user: where a test needs someone else's file, a process
running as ``nobody`` (uid 65534, through ``setpriv``) plants it. The ownership checks
matter for a process that can open other users' files, which is root (the test runner
here); for any other user the file permissions already refuse them, so those tests
need root to run and say so when they cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_render.secrets.token_cache import TokenCache

IDENTITY = ("http://127.0.0.1:8200", "", "kubernetes", "kubernetes", "role")
NOBODY = 65534
SETPRIV = shutil.which("setpriv")


def _record(token: str) -> str:
    return json.dumps({"format": 1, "token": token, "expires_at": None})


def test_an_existing_cache_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    cache = TokenCache(directory, IDENTITY)
    cache.store("hvs.mine", 3600)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert cache.path is not None
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert cache.load() == "hvs.mine"


def test_a_cache_file_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    planted = tmp_path / "planted.json"  # private, ours, well-formed: only the link is wrong
    planted.write_text(_record("hvs.planted"))
    planted.chmod(0o600)
    cache = TokenCache(directory, IDENTITY)
    assert cache.path is not None
    cache.path.symlink_to(planted)
    assert cache.load() is None


@pytest.fixture
def shared() -> Iterator[Path]:
    """A world-writable sticky directory, like /tmp, that both users can reach."""
    if SETPRIV is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot run a second user")
    if os.geteuid() != 0:
        pytest.skip("acting as a second user (setpriv --reuid) needs root")
    path = Path(tempfile.mkdtemp(prefix="lsp-render-shared-", dir="/tmp"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _as_nobody(script: str, *args: str) -> None:
    assert SETPRIV is not None
    subprocess.run(
        [
            SETPRIV,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "/bin/sh",
            "-c",
            script,
            "sh",
            *args,
        ],
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_a_token_file_of_another_user_is_ignored(shared: Path) -> None:
    directory = shared / "cache"
    cache = TokenCache(directory, IDENTITY)
    assert cache.path is not None
    # nobody prepares the directory and a private, well-formed token file in it
    _as_nobody(
        'umask 077 && mkdir -m 0700 "$1" && chmod 0777 "$1" && printf %s "$3" > "$1/$2"',
        str(directory),
        cache.path.name,
        _record("hvs.planted"),
    )
    info = cache.path.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (NOBODY, 0o600)
    assert cache.load() is None


def test_no_token_is_written_into_another_users_directory(shared: Path) -> None:
    directory = shared / "cache"
    _as_nobody('mkdir -m 0700 "$1"', str(directory))
    cache = TokenCache(directory, IDENTITY)
    cache.store("hvs.mine", 3600)
    assert list(directory.iterdir()) == []
    assert directory.stat().st_uid == NOBODY
