"""Mutation check: break each guard on purpose and expect a test to fail.

Every ``tests/mutation/*.json`` is a list of edits::

    [{"file": "plugin/lsp_render/...py", "find": "<exact text>", "replace": "<broken text>",
      "tests": ["tests/x_test.py::test_name", ...], "why": "what guard this breaks"}]

For each edit the repository (without ``.git``, virtual environments and caches) is copied
into a temporary directory, ``find`` is replaced by ``replace`` in the copy (``find`` must
occur exactly once, or the run stops before mutating anything), and the listed tests run
with pytest in the copy, whose ``plugin/`` comes first on ``PYTHONPATH``. A failing run
kills the mutant; a passing one means it SURVIVED. The working tree is never written.

Before the mutants, the tests of each JSON file run once on an unmutated copy: a mutant
"killed" by tests that fail anyway proves nothing, so a red baseline stops the run.

Usage::

    python tests/mutation/run.py                     # every tests/mutation/*.json
    python tests/mutation/run.py tests/mutation/h16.json

Exit status: 0 every mutant killed, 1 a mutant survived, 2 a bad edit list or a red
baseline. Slow (one pytest run per edit), so not part of ``python -m pytest``;
docs/mutation.md records the score.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutation", "Outcome", "load_mutations", "main", "run_mutation"]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# Not copied: version control, environments, caches, build output.
_SKIP = {".git", ".venv", "venv", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_SKIP_PATTERNS = ("__pycache__", "*.egg-info", "*.pyc")
_KEYS = {"file", "find", "replace", "tests", "why"}
TIMEOUT = 900.0


class EditListError(ValueError):
    """An edit list is malformed, or an edit's ``find`` is not in its file exactly once."""


@dataclass(frozen=True)
class Mutation:
    """One deliberate break of a guard and the tests expected to notice it."""

    source: str  # the JSON file and index, for messages
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Outcome:
    """What became of one mutant."""

    mutation: Mutation
    verdict: str  # "killed", "SURVIVED" or "timeout" (counted as killed)
    seconds: float
    detail: str


def load_mutations(path: Path, root: Path = ROOT) -> list[Mutation]:
    """Read and check one edit list.

    Parameters
    ----------
    path
        A ``tests/mutation/*.json`` file.
    root
        The repository whose files the edits name.

    Returns
    -------
    list of Mutation
        The edits, in file order.

    Raises
    ------
    EditListError
        Not a list of objects with exactly the keys above, a file missing, a test
        file missing, or ``find`` not occurring exactly once (or equal to ``replace``).
    """
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: not readable JSON ({exc})"
        raise EditListError(msg) from None
    if not isinstance(entries, list):
        msg = f"{path}: must hold a JSON list of edits"
        raise EditListError(msg)
    mutations = []
    for index, entry in enumerate(entries):
        where = f"{path.name}[{index}]"
        if not isinstance(entry, dict) or set(entry) != _KEYS:
            msg = f"{where}: an edit has exactly the keys {sorted(_KEYS)}"
            raise EditListError(msg)
        tests = entry["tests"]
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            msg = f"{where}: tests must be a non-empty list of pytest node ids"
            raise EditListError(msg)
        if not all(isinstance(entry[key], str) for key in ("file", "find", "replace", "why")):
            msg = f"{where}: file, find, replace and why are strings"
            raise EditListError(msg)
        target = root / entry["file"]
        if not target.is_file():
            msg = f"{where}: no file {entry['file']}"
            raise EditListError(msg)
        count = target.read_text(encoding="utf-8").count(entry["find"])
        if count != 1:
            msg = f"{where}: find occurs {count} times in {entry['file']} (must be exactly once)"
            raise EditListError(msg)
        if entry["find"] == entry["replace"]:
            msg = f"{where}: replace equals find"
            raise EditListError(msg)
        for test in tests:
            if not (root / test.split("::")[0]).is_file():
                msg = f"{where}: no test file {test.split('::')[0]}"
                raise EditListError(msg)
        mutations.append(
            Mutation(
                where,
                entry["file"],
                entry["find"],
                entry["replace"],
                tuple(tests),
                entry["why"],
            )
        )
    return mutations


def _copy_repository(root: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns(*_SKIP_PATTERNS)
    for entry in sorted(root.iterdir()):
        if entry.name in _SKIP or entry.name.endswith(".egg-info"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target / entry.name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(entry, target / entry.name, follow_symlinks=False)
    # The copy is still a repository (an empty .git marks its root, as in Argo CD's copy):
    # tests that render the examples find the repository root by it.
    (target / ".git").mkdir(exist_ok=True)


def _pytest(copy: Path, tests: tuple[str, ...]) -> tuple[int | None, str, float]:
    """Run ``tests`` in ``copy``; return the exit status (None on timeout), its tail, seconds."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(copy / "plugin"), str(copy), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT:g} s", time.monotonic() - started
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return proc.returncode, lines[-1] if lines else "", time.monotonic() - started


def run_mutation(mutation: Mutation, root: Path = ROOT) -> Outcome:
    """Apply one edit to a fresh copy of ``root`` and run its tests there.

    Parameters
    ----------
    mutation
        The edit.
    root
        The repository (never written).

    Returns
    -------
    Outcome
        ``killed`` when pytest failed, ``SURVIVED`` when it passed.
    """
    with tempfile.TemporaryDirectory(prefix="lsp-render-mutant-") as scratch:
        copy = Path(scratch)
        _copy_repository(root, copy)
        target = copy / mutation.file
        text = target.read_text(encoding="utf-8")
        if text.count(mutation.find) != 1:  # checked when loading; the copy must agree
            msg = f"{mutation.source}: find is not in the copy exactly once"
            raise EditListError(msg)
        target.write_text(text.replace(mutation.find, mutation.replace), encoding="utf-8")
        code, tail, seconds = _pytest(copy, mutation.tests)
    if code is None:
        return Outcome(mutation, "timeout", seconds, tail)
    if code == 5:  # pytest collected nothing: a wrong node id, not a kill
        msg = f"{mutation.source}: pytest collected no test from {list(mutation.tests)}"
        raise EditListError(msg)
    return Outcome(mutation, "killed" if code != 0 else "SURVIVED", seconds, tail)


def _baseline(tests: tuple[str, ...], root: Path) -> tuple[int | None, str]:
    with tempfile.TemporaryDirectory(prefix="lsp-render-baseline-") as scratch:
        _copy_repository(root, Path(scratch))
        code, tail, _ = _pytest(Path(scratch), tests)
    return code, tail


def _table(outcomes: list[Outcome]) -> str:
    rows = [("mutant", "file", "verdict", "s", "why")]
    for outcome in outcomes:
        m = outcome.mutation
        why = m.why if len(m.why) <= 70 else m.why[:67] + "..."
        seconds = f"{outcome.seconds:.0f}"
        rows.append((m.source, m.file.removeprefix("plugin/"), outcome.verdict, seconds, why))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4]]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the mutation check and print a table and a score.

    Parameters
    ----------
    argv
        Edit lists to run (default: every ``tests/mutation/*.json``).

    Returns
    -------
    int
        0 every mutant killed, 1 one survived, 2 a bad edit list or a red baseline.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("lists", nargs="*", type=Path, help="edit lists (default: all)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the run of the unmutated tests"
    )
    options = parser.parse_args(argv)
    lists = [p.resolve() for p in options.lists] or sorted(HERE.glob("*.json"))
    try:
        loaded = {path: load_mutations(path) for path in lists}
    except EditListError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    total = sum(len(m) for m in loaded.values())
    print(f"{total} mutants from {len(lists)} edit lists", flush=True)
    outcomes: list[Outcome] = []
    try:
        for path, mutations in loaded.items():
            if not options.no_baseline and mutations:
                tests = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
                code, tail = _baseline(tests, ROOT)
                if code != 0:
                    print(f"mutation: {path.name}: unmutated tests fail: {tail}", file=sys.stderr)
                    return 2
            for mutation in mutations:
                outcome = run_mutation(mutation)
                outcomes.append(outcome)
                seconds = f"{outcome.seconds:.0f} s"
                print(f"{outcome.verdict:8} {mutation.source} ({seconds})", flush=True)
    except EditListError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    killed = sum(o.verdict != "SURVIVED" for o in outcomes)
    print()
    print(_table(outcomes))
    print()
    score = 100.0 * killed / len(outcomes) if outcomes else 100.0
    print(f"score: {killed}/{len(outcomes)} killed ({score:.0f}%)")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
