"""A/B timing of two trees of ``plugin/`` on one command (for commit messages of fixes).

Usage: ``python bench/ab.py CWD OLD_PLUGIN_DIR NEW_PLUGIN_DIR N -- ARGS...``

Runs ``lsp-render ARGS`` (the console script beside the interpreter) in ``CWD``
with each tree first on PYTHONPATH, interleaved, N times each after one warm-up,
and prints both medians and whether the outputs are identical. Make the old tree
with ``git archive HEAD plugin | tar -x -C /tmp/before``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _once(script: Path, cwd: str, plugin: str, args: list[str]) -> tuple[float, bytes]:
    env = dict(os.environ, PYTHONPATH=plugin)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode(errors="replace")[-300:])
    return time.perf_counter() - start, proc.stdout


def main() -> int:
    cwd, old, new, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    args = sys.argv[sys.argv.index("--") + 1 :]
    script = Path(sys.executable).parent / "lsp-render"
    before: list[float] = []
    after: list[float] = []
    outputs = (_once(script, cwd, old, args)[1], _once(script, cwd, new, args)[1])
    for _ in range(runs):
        before.append(_once(script, cwd, old, args)[0])
        after.append(_once(script, cwd, new, args)[0])
    print(
        f"before {statistics.median(before) * 1000:.0f} ms  "
        f"after {statistics.median(after) * 1000:.0f} ms  (median of {runs}, interleaved)"
    )
    print("same output:", outputs[0] == outputs[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
