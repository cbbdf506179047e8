"""Run the real ``lsp-render`` command in a subprocess, as Argo CD and a shell do."""

from __future__ import annotations

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
