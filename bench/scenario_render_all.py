"""Scenario 5: ``lsp-render render-all`` over the Phalanx corpus, --jobs 1 vs --jobs 2.

``bench/corpus.py`` (the workflows engineer's) copies the corpus and adds its
``lsp-render-repo.yaml``; every environment of ``environments/`` is rendered with
``--no-secrets``, as ``.ci/corpus-check`` does (Phalanx's secrets live in Vault).
Each run is a subprocess writing ``--output-dir``; the wall time includes start-up
and discovery. Pairs/s = pairs rendered successfully / wall seconds (failed pairs
do not count); the speed-up is pairs/s at --jobs 2 over --jobs 1.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from pathlib import Path

from benchlib import BENCH, Result, bench_env, lsp_render_argv, run

__all__ = ["GOAL", "RATE_GOAL", "measure"]

GOAL = 1.6
RATE_GOAL = 120.0
_SUMMARY = re.compile(r"(\d+) pairs in ")
_FAILED = re.compile(r"^FAILED (\S+?):? ", re.MULTILINE)


def _copy_corpus(shared: Path, tmp: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("lsp_bench_corpus", BENCH / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.copy_corpus(tmp, source=shared / "corpus" / "phalanx")  # type: ignore[no-any-return]


def _once(root: Path, out: Path, jobs: int) -> tuple[float, int, list[str]]:
    shutil.rmtree(out, ignore_errors=True)
    envs = sorted(
        p.stem.removeprefix("values-") for p in (root / "environments").glob("values-*.yaml")
    )
    argv = [*lsp_render_argv(), "render-all", str(root), "--jobs", str(jobs)]
    argv += ["--output-dir", str(out), "--no-secrets", *(a for e in envs for a in ("--env", e))]
    start = time.perf_counter()
    proc = run(argv, env=bench_env(), check=False)
    seconds = time.perf_counter() - start
    text = proc.stdout.decode(errors="replace")
    found = _SUMMARY.search(text)
    if proc.returncode not in (0, 1) or found is None:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-2:]
        raise RuntimeError(f"render-all --jobs {jobs} exited {proc.returncode}: {tail}")
    failed = _FAILED.findall(text)
    return seconds, int(found.group(1)) - len(failed), failed


def measure(shared: Path, tmp: Path, runs: int) -> list[Result]:
    """Return the --jobs 1 and --jobs 2 rows (pairs/s) and the speed-up row."""
    if not (BENCH / "corpus.py").is_file():
        return [
            Result("render-all", None, None, "", f">= {GOAL}x", None, note="no bench/corpus.py")
        ]
    root = _copy_corpus(shared, tmp)
    times: dict[int, list[float]] = {1: [], 2: []}
    pairs = 0
    failed: list[str] = []
    _once(root, tmp / "out-warm-up", 2)  # page cache, .pyc files: not part of either side
    for _ in range(runs):
        for jobs, samples in times.items():
            seconds, pairs, failed = _once(root, tmp / f"out-{jobs}", jobs)
            samples.append(seconds)
    rate = {jobs: pairs / statistics.median(samples) for jobs, samples in times.items()}
    same = _same_outputs(tmp / "out-1", tmp / "out-2")
    speedup = rate[2] / rate[1]
    return [
        Result(
            "render-all --jobs 2 vs 1",
            rate[2],
            rate[1],
            "pairs/s",
            f">= {GOAL}x, >= {RATE_GOAL:.0f}/s",
            speedup >= GOAL and rate[2] >= RATE_GOAL and same and not failed,
            ratio=speedup,
            note=(
                f"{pairs} pairs rendered ({len(failed)} failed: {', '.join(failed) or 'none'}); "
                f"median wall of {runs} runs each: --jobs 1 {statistics.median(times[1]):.2f} s, "
                f"--jobs 2 {statistics.median(times[2]):.2f} s; "
                f"outputs identical: {same}"
            ),
        )
    ]


def _same_outputs(one: Path, two: Path) -> bool:
    files = sorted(p.relative_to(one) for p in one.rglob("*.yaml"))
    others = sorted(p.relative_to(two) for p in two.rglob("*.yaml"))
    return files == others and all((one / f).read_bytes() == (two / f).read_bytes() for f in files)
