"""Run the real ``lsp-render`` command in a subprocess, as Argo CD and a shell do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@dataclass(frozen=True)
class Result:
    """What one run printed and returned."""

    code: int
    stdout: str
    stderr: str

    def objects(self) -> list[dict[str, object]]:
        """Parse stdout as a YAML stream of objects."""
        return [doc for doc in yaml.safe_load_all(self.stdout) if doc is not None]


def base_env(home: Path | None = None) -> dict[str, str]:
    """A minimal environment: PATH and HOME only (no Vault, no Argo CD variables)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env["HOME"] = str(home) if home is not None else os.environ.get("HOME", "/tmp")
    env["PYTHONPATH"] = str(REPO / "plugin")
    return env


def fresh_python(
    script: str, *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (``python -c``) in a fresh interpreter with ``env`` and capture it.

    For what must not happen in the test process: loading Helm's Go library
    (later forks would inherit it), forking with pytest's threads, exiting.
    ``env`` should come from :func:`base_env` (this tree's package first).
    """
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
        timeout=timeout,
    )


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``lsp-render ARGS`` and capture everything."""
    environ = dict(env) if env is not None else base_env()
    environ.update(extra_env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "lsp_render", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_failure(result: Result, code: int, *needles: str) -> None:
    """Check a failure: the exit code, empty stdout, one stderr line naming the culprit."""
    assert result.code == code, (result.code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


_MODULES_PROBE = """
import io, json, sys
from lsp_render.cli.main import main
sys.stdout = io.TextIOWrapper(io.BytesIO())
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def modules_after(args: Sequence[str], home: Path) -> tuple[object, set[str]]:
    """Run ``lsp-render ARGS`` in a fresh interpreter; return its exit code and ``sys.modules``."""
    proc = subprocess.run(
        [sys.executable, "-c", _MODULES_PROBE, *args],
        env=base_env(home),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])
