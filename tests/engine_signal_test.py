"""Argo CD's deadline (SIGTERM) kills every engine, wherever the signal lands.

The handler raises an exception in the main thread at whatever Python is doing. Two
places lost an engine: inside ``subprocess.Popen`` after the fork (the child existed,
its handle did not) and inside a class body's ``__set_name__`` (Python wraps the
exception in a RuntimeError, reported as an internal error). Here the engine itself
sends SIGTERM to lsp-render the moment it starts, so the signal arrives while lsp-render
is still starting it or already waiting for it; either way lsp-render must say it was
terminated and leave nothing running.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from tests.cli_helpers import assert_failure, base_env, run

# Starts a child that outlives the engine unless its whole process group is killed,
# then signals lsp-render (its parent) as Argo CD's deadline would.
SIGNALLING_ENGINE = 'sleep 300 &\necho $! > "{pid}"\nkill -TERM $PPID\nwait\n'


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.parametrize("attempt", range(5))
def test_sigterm_while_an_engine_starts_leaves_nothing_running(
    attempt: int, tmp_path: Path
) -> None:
    del attempt  # the signal lands at a different point each time; every one must hold
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "app"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
    pid_file = tmp_path / "child.pid"
    engine = tmp_path / "kustomize"
    engine.write_text("#!/bin/sh\n" + SIGNALLING_ENGINE.format(pid=pid_file))
    engine.chmod(engine.stat().st_mode | stat.S_IXUSR)
    env = {**base_env(tmp_path / "home"), "LSP_RENDER_KUSTOMIZE": str(engine)}

    result = run(["render", "apps/app"], cwd=repo, env=env, timeout=60)

    assert_failure(result, 1, "terminated by SIGTERM", "nothing was printed")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _dead(child):
        if time.monotonic() > deadline:
            pytest.fail(f"the engine's child {child} outlived the render")
        time.sleep(0.02)


def test_sigterm_wrapped_by_python_is_still_a_termination() -> None:
    """Python 3.11 wraps an exception raised in ``__set_name__`` in a RuntimeError."""
    from lsp_render.cli.main import Terminated, _terminated

    class Field:
        def __set_name__(self, owner: type, name: str) -> None:
            raise Terminated("SIGTERM")  # where the signal handler happened to run

    with pytest.raises(BaseException) as caught:

        class Model:
            field = Field()

    assert _terminated(caught.value) is not None
    assert _terminated(RuntimeError("unrelated")) is None
