"""The last-resort handler: an exception nobody anticipated still ends in exit 1 and one line.

The trigger is a real environment, not a patched function: a caller that starts
``lsp-render`` with its standard output closed. Python then sets ``sys.stdout`` to
``None``, and writing the rendered stream raises ``AttributeError``, which no handler
of ours expects. The command must still exit 1 (SPEC section 9: a render failed), print
exactly one stderr line that names where it broke and asks for a report, and never
print the exception's message (an unexpected exception's text may quote a secret).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import base_env

_INTERNAL = re.compile(
    r"^lsp-render: internal error \((\w+) at ([\w.]+\.py:\d+)\); please report it$"
)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "app"
    app.mkdir(parents=True)
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
    return repo


def _run_with_stdout_closed(repo: Path, tmp_path: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        # The shell closes file descriptor 1, then becomes lsp-render.
        ["/bin/sh", "-c", 'exec "$0" "$@" >&-', sys.executable, "-m", "lsp_render", *args],
        cwd=repo,
        env=base_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stderr


def test_an_unexpected_exception_exits_1_with_one_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, stderr = _run_with_stdout_closed(repo, tmp_path, "render", "apps/app")
    assert code == 1, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    match = _INTERNAL.match(lines[0])
    assert match, lines[0]
    assert match.group(1) == "AttributeError"
    assert "NoneType" not in stderr  # the exception's message stays out
    assert "Traceback" not in stderr


def test_the_click_commands_share_the_last_resort_handler(tmp_path: Path) -> None:
    """Through click (``--verbose`` leaves the fast path), the same line and exit code."""
    repo = _repo(tmp_path)
    code, stderr = _run_with_stdout_closed(repo, tmp_path, "render", "apps/app", "--verbose")
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if "internal error" in line]
    assert len(lines) == 1, stderr
    assert _INTERNAL.match(lines[0]), lines[0]
    assert "Traceback" not in stderr
