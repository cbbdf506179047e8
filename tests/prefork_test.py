"""The embedded engine's child is forked before the render path is imported, and never left behind.

Each test runs the real CLI in a fresh interpreter whose ``os.fork`` only records,
in the parent, the child's pid and whether ``lsp_render.pipeline`` was imported
yet; the render itself is the real one (real Helm engine in the real child).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import base_env

# Every probe records, in the parent, each child's pid and whether the render path was
# imported when it was forked; the fork itself is the real one.
_FORKS = """
import io, json, os, sys, time
forks = []
real_fork = os.fork
def fork():
    pid = real_fork()
    if pid:
        forks.append({"pid": pid, "pipeline": "lsp_render.pipeline" in sys.modules})
    return pid
os.fork = fork
"""

_PROBE = (
    _FORKS
    + """
from lsp_render.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps({"code": code, "forks": forks}) + "\\n")
"""
)

CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "web"
    (app / "templates").mkdir(parents=True)
    (app / "Chart.yaml").write_text(CHART)
    (app / "templates" / "cm.yaml").write_text(TEMPLATE)
    return app


def _run(app: Path, tmp_path: Path, *args: str) -> tuple[dict[str, object], str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = base_env(tmp_path)
    env["TMPDIR"] = str(scratch)
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in path if not (Path(d) / "helm").exists())
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "render", str(app), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    report = json.loads(lines[-1])
    return report, proc.stdout, "\n".join(lines[:-1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_engine_child_is_forked_before_the_render_path_is_imported(tmp_path: Path) -> None:
    app = _repo(tmp_path)
    report, stdout, stderr = _run(app, tmp_path, "--release-name", "early")
    assert report["code"] == 0, stderr
    assert "name: early" in stdout
    forks = report["forks"]
    assert isinstance(forks, list)
    assert [fork["pipeline"] for fork in forks] == [False]  # one child, forked first thing
    assert _gone(forks[0]["pid"])
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("config", "code"),
    [
        ("kind: [broken\n", 2),  # an input error before the engine is reached
        ("kind: plain\n", 2),  # another kind: the chart is never rendered
    ],
    ids=["input-error", "other-kind"],
)
def test_an_early_child_the_render_never_uses_is_killed_at_exit(
    tmp_path: Path, config: str, code: int
) -> None:
    app = _repo(tmp_path)
    (app / "lsp-render.yaml").write_text(config)
    report, stdout, stderr = _run(app, tmp_path)
    assert report["code"] == code, stderr
    assert stdout == ""
    forks = report["forks"]
    assert isinstance(forks, list)
    assert len(forks) == 1
    assert _gone(forks[0]["pid"])
    assert list((tmp_path / "tmp").iterdir()) == []  # its directory went with it


def test_no_child_is_forked_for_a_kustomize_app(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "k"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k\n")
    report, stdout, stderr = _run(app, tmp_path)
    assert report["code"] == 0, stderr
    assert "name: k" in stdout
    assert report["forks"] == []


_ONE_SHOT_PROBE = (
    _FORKS
    + """
seen = []
class Out(io.RawIOBase):
    def writable(self):
        return True
    def write(self, data):
        if not seen:  # is the engine child gone (a zombie) when the output is written?
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                info = os.waitid(os.P_PID, forks[0]["pid"], os.WEXITED | os.WNOHANG | os.WNOWAIT)
                if info is not None:
                    break
                time.sleep(0.01)
            seen.append(info is not None)
        return len(data)
sys.stdout = io.TextIOWrapper(io.BufferedWriter(Out()))
from lsp_render.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\n" + json.dumps({"code": code, "dead_before_output": seen}) + "\\n")
"""
)


def test_the_child_of_one_render_is_killed_before_the_output_is_written(tmp_path: Path) -> None:
    """``lsp-render render`` needs Helm once: its child's memory is freed while output is made."""
    app = _repo(tmp_path)
    env = base_env(tmp_path)
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in path if not (Path(d) / "helm").exists())
    proc = subprocess.run(
        [sys.executable, "-c", _ONE_SHOT_PROBE, "render", str(app)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "dead_before_output": [True]}, proc.stderr


def test_the_private_directory_follows_tmpdir_and_is_the_owners_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lsp_render.core.prefork import _private_directory

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    made = Path(_private_directory())
    assert made.parent == tmp_path
    assert made.name.startswith("lsp-render-engine-")
    assert made.stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))  # tempfile's rule: the next candidate
    fallback = Path(_private_directory())
    try:
        assert fallback.parent != tmp_path / "missing"
        assert fallback.stat().st_mode & 0o777 == 0o700
    finally:
        fallback.rmdir()


_WORKER_PROBE = """
import json, sys
from lsp_render.core.context import SecretOptions
from lsp_render.sources.helm import engine_child
from lsp_render.workflows.worker import RenderJob, init_worker
job = RenderJob(environ={}, secrets=SecretOptions(None, no_secrets=True, mask_secrets=False))
init_worker(job, None, sys.argv[1] == "charts")
started = engine_child._child is not None
engine_child.stop_engine_child()
print(json.dumps(started))
"""


@pytest.mark.parametrize(("charts", "started"), [("charts", True), ("none", False)])
def test_a_render_all_worker_starts_helm_when_it_starts(
    tmp_path: Path, charts: str, started: bool
) -> None:
    """Its first chart then waits for nothing: Helm loaded while the worker planned."""
    env = base_env(tmp_path)
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in path if not (Path(d) / "helm").exists())
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER_PROBE, charts],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(proc.stdout) is started
