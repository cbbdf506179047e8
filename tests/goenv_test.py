"""render-all starts again with GOGC=400 in the environment Go reads; nothing else does.

Go reads its settings from the environment a process was started with (the
block ``/proc/self/environ`` shows), never from ``os.environ`` changed later,
so render-all replaces itself by the same command with GOGC set. Each case runs
the real CLI entry point in a fresh interpreter; the probe notes each start of
the interpreter and, at exit, what ``/proc/self/environ`` says of GOGC.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import base_env, fresh_python

_PROBE = """
import atexit, json, os, sys
log = sys.argv.pop(1)
with open(log, "a") as f:
    f.write(json.dumps({"start": os.getpid()}) + "\\n")
def report():
    with open("/proc/self/environ", "rb") as f:
        block = dict(e.split(b"=", 1) for e in f.read().split(b"\\0") if b"=" in e)
    gogc = (block.get(b"GOGC") or b"").decode()
    with open(log, "a") as f:
        f.write(json.dumps({"exit": os.getpid(), "GOGC": gogc}) + "\\n")
atexit.register(report)
from lsp_render.cli.main import main
sys.argv[0] = "lsp-render"
main()
"""


def _run(tmp_path: Path, *args: str, gogc: str | None = None) -> list[dict[str, object]]:
    env = base_env(tmp_path)
    if gogc is not None:
        env["GOGC"] = gogc
    log = tmp_path / "probe.log"
    proc = fresh_python(_PROBE, str(log), *args, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_render_all_starts_again_with_gogc(tmp_path: Path) -> None:
    events = _run(tmp_path, "render-all", "--help")
    starts = [e["start"] for e in events if "start" in e]
    assert len(starts) == 2 and starts[0] == starts[1]  # the same process, started twice
    assert [e["GOGC"] for e in events if "exit" in e] == ["400"]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_the_operators_gogc_is_kept(tmp_path: Path) -> None:
    events = _run(tmp_path, "render-all", "--help", gogc="150")
    assert len([e for e in events if "start" in e]) == 1
    assert [e["GOGC"] for e in events if "exit" in e] == ["150"]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_render_is_not_started_again(tmp_path: Path) -> None:
    events = _run(tmp_path, "render", "--help")
    assert len([e for e in events if "start" in e]) == 1
    assert [e["GOGC"] for e in events if "exit" in e] == [""]
