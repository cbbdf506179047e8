"""The command leaves without the interpreter's teardown, but nothing is left behind or unsaid.

``lsp-render`` (not a caller of ``main()`` with arguments) runs the atexit
handlers, flushes both streams and ends with ``os._exit``. A render through the
real entry point must still print its whole stream, give the exit code, and
leave no engine-child directory behind, on success and on failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import base_env

_MANY = (
    "{{ range until 3000 }}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
    "  name: cm-{{ . }}\ndata:\n  k: {{ $.Values.big | quote }}\n{{ end }}"
)


def _chart(tmp_path: Path, template: str) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "web"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (app / "values.yaml").write_text(f"big: {'x' * 500}\n")
    (app / "templates" / "cm.yaml").write_text(template)
    return app


def _lsp_render(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env = base_env(tmp_path)
    env["TMPDIR"] = str(scratch)
    env["PATH"] = str(tmp_path / "no-helm")
    return subprocess.run(
        [sys.executable, "-m", "lsp_render", *args],
        env=env,
        capture_output=True,
        check=False,
        timeout=300,
    )


def test_a_render_prints_everything_and_leaves_nothing(tmp_path: Path) -> None:
    app = _chart(tmp_path, _MANY)
    proc = _lsp_render(tmp_path, "render", str(app))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(b"kind: ConfigMap") == 3000  # ~1.7 MB, all of it
    assert proc.stdout.endswith(b"\n")
    assert not any((tmp_path / "scratch").iterdir())  # the engine child's directory went


@pytest.mark.parametrize(
    ("template", "code"),
    [('{{ fail "no" }}', 1), ("a: [\n", 1)],
    ids=["template-error", "bad-yaml"],
)
def test_a_failed_render_says_why_and_leaves_nothing(
    tmp_path: Path, template: str, code: int
) -> None:
    app = _chart(tmp_path, template)
    proc = _lsp_render(tmp_path, "render", str(app))
    assert (proc.returncode, proc.stdout) == (code, b"")
    assert proc.stderr.decode().count("\n") == 1 and b"web" in proc.stderr
    assert not any((tmp_path / "scratch").iterdir())


def test_click_exits_keep_their_codes(tmp_path: Path) -> None:
    assert _lsp_render(tmp_path, "--version").returncode == 0
    usage = _lsp_render(tmp_path, "render", "--no-such-option")
    assert usage.returncode == 2 and usage.stderr


def test_what_is_still_buffered_on_stdout_is_printed(tmp_path: Path) -> None:
    """render-all writes its summary to stdout without flushing it (a pipe buffers it)."""
    app = tmp_path / "repo" / "apps" / "plain"
    app.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    proc = _lsp_render(tmp_path, "render-all", str(tmp_path / "repo"), "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert b"1 pairs in " in proc.stdout or b"1 pair in " in proc.stdout, proc.stdout
