"""A Kustomize app's build starts before the render path is imported, and is used only when safe.

Each case runs the real CLI in a fresh interpreter whose ``subprocess.Popen``
records, for every program started, its argv, its pid and whether
``lsp_render.pipeline`` was imported yet; the programs are the real ones
(real ``kubectl kustomize``, in a real empty network namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.cli_helpers import base_env, fresh_python

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is on the machine (BRIEF)")

_PROBE = """
import json, subprocess, sys
started = []
real_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    real_init(self, args, *a, **k)
    started.append({"argv": [str(x) for x in args], "pid": self.pid,
                    "pipeline": "lsp_render.pipeline" in sys.modules})
subprocess.Popen.__init__ = init
from lsp_render.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps({"code": code, "started": started}) + "\\n")
"""

_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def _run(app: Path, tmp_path: Path, **extra: str) -> tuple[dict[str, object], str, str]:
    env = base_env(tmp_path)
    env.update(extra)
    proc = fresh_python(_PROBE, "render", str(app), env=env, timeout=120)
    *lines, last = proc.stderr.rstrip("\n").split("\n")
    report: dict[str, object] = json.loads(last)
    return report, proc.stdout, "\n".join(lines)


def _builds(report: dict[str, object]) -> list[dict[str, object]]:
    started = report["started"]
    assert isinstance(started, list)
    return [s for s in started if "kustomize" in s["argv"]]


def _app(tmp_path: Path, kustomization: str, **files: str) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "web"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text(textwrap.dedent(kustomization))
    for name, text in files.items():
        (app / name).write_text(text)
    return app


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_build_starts_first_and_its_output_is_the_render(tmp_path: Path) -> None:
    app = _app(
        tmp_path, "resources: [cm.yaml]\nnamePrefix: x-\n", **{"cm.yaml": _CM.format(name="a")}
    )
    report, stdout, stderr = _run(app, tmp_path)
    assert report["code"] == 0, stderr
    assert KUBECTL is not None
    expected = subprocess.run(
        [KUBECTL, "kustomize", str(app)], capture_output=True, text=True, check=True
    ).stdout
    assert stdout == expected
    builds = _builds(report)
    assert len(builds) == 1  # the early one was used, not run again
    assert builds[0]["pipeline"] is False


def test_a_refused_tree_is_never_shown_and_its_build_is_killed(tmp_path: Path) -> None:
    """The early build blocks on a FIFO; the check refuses the tree; the build dies with it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (outside / "cm.yaml").write_text(_CM.format(name="secret-stuff"))
    app = _app(tmp_path, "resources: [fifo.yaml, ../../../outside]\n")
    os.mkfifo(app / "fifo.yaml")
    report, stdout, stderr = _run(app, tmp_path)
    assert (report["code"], stdout) == (2, "")
    assert "outside" in stderr and "secret-stuff" not in stderr
    builds = _builds(report)
    assert len(builds) == 1 and builds[0]["pipeline"] is False
    pid = builds[0]["pid"]
    assert isinstance(pid, int)
    assert not _alive(pid)


@pytest.mark.parametrize("case", ["config-file", "policy", "chart"])
def test_no_early_build_where_the_files_alone_do_not_decide(tmp_path: Path, case: str) -> None:
    app = _app(tmp_path, "resources: [cm.yaml]\n", **{"cm.yaml": _CM.format(name="a")})
    extra: dict[str, str] = {}
    if case == "config-file":
        (app / "lsp-render.yaml").write_text("kind: kustomize\n")
    elif case == "policy":
        policy = tmp_path / "policy.yaml"
        policy.write_text('projects:\n  "*":\n    paths: ["*"]\n')
        extra["LSP_RENDER_POLICY"] = str(policy)
    else:
        (app / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
        extra["PATH"] = str(tmp_path / "no-helm") + os.pathsep + str(Path(KUBECTL or "").parent)
    report, stdout, stderr = _run(app, tmp_path, **extra)
    assert report["code"] == 0 and "name: a" in stdout, stderr
    builds = _builds(report)
    assert len(builds) == 1 and builds[0]["pipeline"] is True


_CLAIM = """
import json, sys
from pathlib import Path
from lsp_render.core.engines import wait_engine
from lsp_render.sources import kustomize_start as ks
app = Path(sys.argv[1])
argv = [*ks.kustomize_argv({"PATH": sys.argv[2]}), str(app.resolve())]
report = {}
ks.prestart(app, {"PATH": sys.argv[2]})
proc = ks._early[1]
report["other"] = ks.claim(["kustomize", "build", "/elsewhere"], network=False) is None
report["other_ended"] = proc.returncode is not None
ks.prestart(app, {"PATH": sys.argv[2]})
proc = ks._early[1]
report["network"] = ks.claim(argv, network=True) is None
report["network_ended"] = proc.returncode is not None
ks.prestart(app, {"PATH": sys.argv[2]})
claimed = ks.claim(argv, network=False)
report["same"] = wait_engine(claimed, what="t", timeout=60) if claimed is not None else None
print(json.dumps(report))
"""


def test_only_the_very_build_the_render_would_run_is_claimed(tmp_path: Path) -> None:
    app = _app(tmp_path, "resources: [cm.yaml]\n", **{"cm.yaml": _CM.format(name="a")})
    path = str(Path(KUBECTL or "").parent)
    proc = fresh_python(_CLAIM, str(app), path, env=base_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["other"] and report["other_ended"]
    assert report["network"] and report["network_ended"]
    assert "name: a" in report["same"]


def test_a_deadline_passed_before_the_start_starts_nothing(tmp_path: Path) -> None:
    """Argo CD unpacked the copy 20 s ago; with a 15 s deadline no build starts, even early."""
    copy = tmp_path / "workdir" / "_cmp_server" / "abc123"
    app = copy / "apps" / "web"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (app / "cm.yaml").write_text(_CM.format(name="a"))
    old = time.time() - 20
    for path in (copy, app):
        os.utime(path, (old, old))
    report, stdout, stderr = _run(
        app,
        tmp_path,
        LSP_RENDER_DEADLINE="15",
        ARGOCD_APP_SOURCE_PATH="apps/web",
        ARGOCD_APP_NAME="web",
    )
    assert (report["code"], stdout) == (1, ""), stderr
    assert "not started" in stderr
    assert _builds(report) == []


def test_a_deadline_passed_while_planning_ends_the_early_build(tmp_path: Path) -> None:
    """The early build started in time; the deadline passed before the render needed it."""
    app = _app(tmp_path, "resources: [cm.yaml]\n", **{"cm.yaml": _CM.format(name="a")})
    report, stdout, stderr = _run(app, tmp_path, LSP_RENDER_DEADLINE="0.001")
    assert (report["code"], stdout) == (1, ""), stderr
    assert "not started" in stderr
    builds = _builds(report)
    assert len(builds) == 1 and builds[0]["pipeline"] is False
    pid = builds[0]["pid"]
    assert isinstance(pid, int)
    assert not _alive(pid)


def test_the_hybrid_starts_kustomize_in_a_namespace_without_the_unshare_program(
    tmp_path: Path,
) -> None:
    """Its child enters the namespace itself: no `unshare` probe, no `unshare` in front."""
    app = _app(
        tmp_path,
        "patches:\n  - target: {kind: ConfigMap}\n    patch: |-\n"
        "      - op: add\n        path: /data\n        value: {k: v}\n",
    )
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (app / "templates").mkdir()
    (app / "templates" / "cm.yaml").write_text(_CM.format(name="{{ .Release.Name }}"))
    path = str(tmp_path / "no-helm") + os.pathsep + str(Path(KUBECTL or "").parent)
    report, stdout, stderr = _run(app, tmp_path, PATH=path)
    assert report["code"] == 0, stderr
    assert "k: v" in stdout
    started = report["started"]
    assert isinstance(started, list)
    assert not any("unshare" in Path(s["argv"][0]).name for s in started), started
    assert len(_builds(report)) == 1


_THREADED = """
import json, threading
from lsp_render.core.engines import start_isolated_engine, wait_engine
alone = start_isolated_engine(["/bin/echo", "ok"], what="t")
stop = threading.Event()
other = threading.Thread(target=stop.wait)
other.start()
crowded = start_isolated_engine(["/bin/echo", "ok"], what="t")
stop.set()
other.join()
print(json.dumps({"alone": wait_engine(alone, what="t", timeout=30) if alone else None,
                  "crowded": crowded is None}))
"""


def test_a_process_with_threads_starts_nothing_that_way(tmp_path: Path) -> None:
    """Python between fork and exec is safe only with one thread: with more, None."""
    proc = fresh_python(_THREADED, env=base_env(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"alone": "ok\n", "crowded": True}
