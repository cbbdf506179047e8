"""Shared helpers for the benchmarks: paths, commands, timing, the result table."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BENCH",
    "PLUGIN",
    "REPO",
    "Measured",
    "Result",
    "bench_env",
    "compare_commands",
    "copy_tree",
    "lsp_render_argv",
    "measure_command",
    "median_interleaved",
    "print_table",
    "run",
    "same_objects",
    "shared_dir",
]

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PLUGIN = REPO / "plugin"


@dataclass
class Result:
    """One row of the table: ``ours`` and ``baseline`` in ``unit``; ``ratio`` is ours/baseline.

    ``goal`` is a text such as ``<= 1.15x``; ``ok`` is None when there is no goal to meet
    (an informational row) and ``note`` says what the numbers are.
    """

    scenario: str
    ours: float | None
    baseline: float | None
    unit: str
    goal: str
    ok: bool | None
    ratio: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline


def shared_dir() -> Path | None:
    """Return ``../shared`` beside the repository, else ``/work/shared``, else None."""
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if (candidate / "corpus" / "phalanx").is_dir():
            return candidate
    return None


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a clean environment: this tree's ``plugin/`` first on PYTHONPATH, no Vault/Argo."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAULT_", "AVP_", "LSP_RENDER_", "ARGOCD_", "KUBE_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGIN), str(REPO)])
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed packages have their .pyc
    if extra:
        env.update(extra)
    return env


def lsp_render_argv() -> list[str]:
    """Return the command that runs this tree's CLI the way Argo CD runs it.

    The console script beside the interpreter (not a pyenv shim, which adds a bash
    process), importing this tree's package through PYTHONPATH; else ``python -m``.
    """
    script = Path(sys.executable).parent / "lsp-render"
    if script.is_file():
        with script.open("rb") as handle:
            if handle.read(2) == b"#!" and b"python" in handle.readline():
                return [sys.executable, str(script)]
    found = shutil.which("lsp-render")
    if found and "shims" not in found:
        return [found]
    return [sys.executable, "-m", "lsp_render"]


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capture its output, and fail loudly (with its stderr) if asked."""
    proc = subprocess.run(
        list(argv), env=dict(env or bench_env()), cwd=cwd, capture_output=True, check=False
    )
    if check and proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {proc.returncode}: {tail}")
    return proc


def median_interleaved(
    sides: Sequence[Callable[[], object]], runs: int, warmup: int = 1
) -> list[float]:
    """Time each callable ``runs`` times, alternating between them; return each median."""
    for _ in range(warmup):
        for side in sides:
            side()
    samples: list[list[float]] = [[] for _ in sides]
    for _ in range(runs):
        for index, side in enumerate(sides):
            start = time.perf_counter()
            side()
            samples[index].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


@dataclass
class Measured:
    """One side of a whole-command comparison: median wall time, peak RSS, last output."""

    seconds: float
    rss_mb: float
    stdout: bytes


_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None


def measure_command(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
) -> tuple[float, float, bytes]:
    """Run a command once; return its wall seconds, its peak RSS in MB and its stdout.

    The peak RSS is GNU time's (``/usr/bin/time -f %M``: the command and the children it
    waited for): a child forked from this large process would inherit its high-water
    mark in ``ru_maxrss``. NaN where GNU time is missing. Its fork and exec are in both
    sides' times alike.
    """
    with tempfile.NamedTemporaryFile(prefix="lsp-render-bench-rss-") as report:
        wrapper = [_TIME, "-q", "-f", "%M", "-o", report.name] if _TIME else []
        start = time.perf_counter()
        proc = subprocess.run(
            [*wrapper, *argv], env=dict(env), cwd=cwd, capture_output=True, check=False
        )
        seconds = time.perf_counter() - start
        text = Path(report.name).read_text().strip()
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {proc.returncode}: {tail}")
    rss_mb = int(text.splitlines()[-1]) / 1024 if text else float("nan")
    return seconds, rss_mb, proc.stdout


def compare_commands(
    sides: Sequence[tuple[Sequence[str], Mapping[str, str], Path | None]],
    runs: int,
    warmup: int = 1,
) -> list[Measured]:
    """Run each side ``runs`` times, interleaved after ``warmup`` rounds; return medians.

    Each side is ``(argv, env, cwd)``. The RSS reported is the largest seen.
    """
    for _ in range(warmup):
        for argv, env, cwd in sides:
            measure_command(argv, env=env, cwd=cwd)
    seconds: list[list[float]] = [[] for _ in sides]
    rss: list[float] = [0.0 for _ in sides]
    outputs: list[bytes] = [b"" for _ in sides]
    for _ in range(runs):
        for index, (argv, env, cwd) in enumerate(sides):
            took, peak, out = measure_command(argv, env=env, cwd=cwd)
            seconds[index].append(took)
            rss[index] = max(rss[index], peak)
            outputs[index] = out
    return [
        Measured(statistics.median(s), r, o) for s, r, o in zip(seconds, rss, outputs, strict=True)
    ]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.2f} {unit}".strip()


def print_table(rows: Sequence[Result]) -> bool:
    """Print the table and return True when every row with a goal passed."""
    header = ("scenario", "ours", "baseline", "ratio", "goal", "result")
    table = [header]
    for row in rows:
        status = "info" if row.ok is None else ("PASS" if row.ok else "FAIL")
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        table.append(
            (
                row.scenario,
                _fmt(row.ours, row.unit),
                _fmt(row.baseline, row.unit),
                ratio,
                row.goal,
                status,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    notes = [row for row in rows if row.note]
    if notes:
        print()
        for row in notes:
            print(f"{row.scenario}: {row.note}")
    return all(row.ok is not False for row in rows)


def same_objects(ours: bytes, theirs: bytes) -> tuple[bool, int, int]:
    """Tell whether two YAML streams hold the same objects in the same order.

    Returns the verdict and both object counts (empty documents are not objects).
    """
    import yaml

    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # strings: no tag surprises
    left = [d for d in yaml.load_all(ours, Loader=loader) if d not in (None, "")]
    right = [d for d in yaml.load_all(theirs, Loader=loader) if d not in (None, "")]
    return left == right, len(left), len(right)


def copy_tree(source: Path, dest: Path) -> Path:
    """Copy a read-only corpus directory to a writable ``dest`` and return it."""
    shutil.copytree(source, dest, symlinks=True)
    for path in (dest, *dest.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return dest
