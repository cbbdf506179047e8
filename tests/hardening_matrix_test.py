"""The fault matrix: shared helpers of the hardening tests, and docs/fault-matrix.md's check.

Every hardening case is a :class:`Case` in the ``CASES`` list of its module
(``hardening_input_test``, ``hardening_faults_test``, ``hardening_leak_test``),
run through the real CLI in a subprocess. ``docs/fault-matrix.md`` holds one row
per case; :func:`test_doc_matches_the_cases` fails when a row names a test that
does not exist, when its exit code or message disagrees with the case, or when
a case has no row.

Regenerate the table from real runs (messages as printed, temporary paths
replaced by ``<tmp>``)::

    HARDENING_RECORD=/tmp/record.jsonl python -m pytest tests/hardening_*_test.py -q
    python -m tests.hardening_matrix_test /tmp/record.jsonl
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lsp_render.cli.main import DEBUG_PREFIX
from tests.cli_helpers import REPO, Result, assert_failure, base_env

__all__ = [
    "DOC",
    "Case",
    "Limited",
    "all_cases",
    "check_case",
    "run_limited",
    "write_app",
]

DOC = REPO / "docs" / "fault-matrix.md"
_RECORD = os.environ.get("HARDENING_RECORD")
_MODULES = (
    "hardening_input_test",
    "hardening_faults_test",
    "hardening_leak_test",
    "hardening_exposure_test",
    "hardening_confine_test",
)


@dataclass(frozen=True)
class Case:
    """One row of the fault matrix.

    Attributes
    ----------
    id
        The pytest parameter id (``malformed-yaml``).
    title
        What the case tries, for the table.
    code
        The exit code the CLI must return (0: the render must succeed).
    needles
        Text the one stderr line must contain (the file, key, placeholder...).
    """

    id: str
    title: str
    code: int
    needles: tuple[str, ...] = ()


def write_app(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> content) under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def check_case(case: Case, result: Result, *, forbidden: Iterable[str] = ()) -> None:
    """Assert the case's outcome; never a forbidden text (secret values) anywhere.

    A failure: the exit code, empty stdout, exactly one stderr line holding every
    needle (``--verbose`` debug lines aside). A success (code 0): a non-empty
    stream on stdout.
    """
    forbidden = list(forbidden)
    result = _without_debug_lines(result, forbidden)
    _record(case, result)
    for text in forbidden:
        assert text not in result.stdout, f"secret value leaked on stdout ({case.id})"
        assert text not in result.stderr, f"secret value leaked on stderr ({case.id})"
    if case.code == 0:
        assert result.code == 0, result.stderr
        assert result.stdout.strip(), result.stdout[:200]
        return
    assert_failure(result, case.code, *case.needles)


def _without_debug_lines(result: Result, forbidden: Iterable[str]) -> Result:
    """Scan ``--verbose`` debug lines for forbidden text, then set them aside."""
    debug = [line for line in result.stderr.splitlines() if line.startswith(DEBUG_PREFIX)]
    for line in debug:
        for text in forbidden:
            assert text not in line, "secret value leaked in a debug line"
    if not debug:
        return result
    rest = [line for line in result.stderr.splitlines() if not line.startswith(DEBUG_PREFIX)]
    stderr = "".join(f"{line}\n" for line in rest)
    return Result(result.code, result.stdout, stderr)


def _record(case: Case, result: Result) -> None:
    if not _RECORD:
        return
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    line = result.stderr.strip().splitlines()[0] if result.stderr.strip() else ""
    with Path(_RECORD).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": case.id, "node": node, "line": line}) + "\n")


@dataclass(frozen=True)
class Limited(Result):
    """A run under resource limits, with the peak memory of the process."""

    max_rss_mb: float = 0.0


def run_limited(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    cpu_seconds: int = 20,
    memory_mb: int | None = 1536,
    timeout: float = 60,
) -> Limited:
    """Run ``lsp-render ARGS`` under RLIMIT_CPU (and RLIMIT_AS) and measure its peak RSS.

    A blow-up in time or memory then ends the process (SIGXCPU, MemoryError)
    instead of the machine, and the test sees it.
    """

    def limit() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        if memory_mb is not None:
            cap = memory_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    rss_file = Path(cwd or REPO) / f".maxrss-{os.getpid()}"
    if cwd is None:
        import tempfile

        rss_file = Path(tempfile.mkdtemp()) / "maxrss"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(rss_file), *args],
        cwd=cwd,
        env=dict(env) if env is not None else base_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit,
    )
    err = proc.stderr
    if proc.returncode < 0:
        err += f"\n(killed by {signal.Signals(-proc.returncode).name})"
    try:
        peak = int(rss_file.read_text()) / 1024
        rss_file.unlink()
    except (OSError, ValueError):
        peak = float("inf")
    return Limited(proc.returncode, proc.stdout, err, max_rss_mb=peak)


# Runs lsp-render's __main__ and writes its peak RSS (KiB) to argv[1] at exit.
_MEASURED = """
import atexit, resource, runpy, sys
out = sys.argv.pop(1)
def _peak():
    with open(out, "w") as handle:
        handle.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(_peak)
sys.argv[0] = "lsp-render"
runpy.run_module("lsp_render", run_name="__main__", alter_sys=True)
"""


# -- the table and its check -----------------------------------------------------------------

_ROW = re.compile(r"^\|(?P<cells>.*)\|\s*$")


def all_cases() -> dict[str, tuple[str, Case]]:
    """Return every case of every hardening module: id -> (module, case)."""
    import importlib

    cases: dict[str, tuple[str, Case]] = {}
    for name in _MODULES:
        module = importlib.import_module(f"tests.{name}")
        for case in module.CASES:
            assert case.id not in cases, f"duplicate case id {case.id}"
            cases[case.id] = (name, case)
    return cases


def _doc_rows() -> list[dict[str, str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        cells = [c.strip() for c in _split_cells(match.group("cells"))]
        if len(cells) != 4 or cells[0] in ("case", "") or set(cells[0]) <= {"-", ":"}:
            continue
        rows.append({"case": cells[0], "code": cells[1], "message": cells[2], "test": cells[3]})
    return rows


def _split_cells(text: str) -> list[str]:
    # "|" inside a cell is written "\|" (Markdown); split on the others.
    return [cell.replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", text)]


def _collected_ids() -> set[str]:
    files = [f"tests/{name}.py" for name in _MODULES]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HARDENING_RECORD": ""},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines() if "::" in line}


def test_doc_matches_the_cases() -> None:
    rows = _doc_rows()
    cases = all_cases()
    collected = _collected_ids()
    assert rows, f"no table rows in {DOC}"
    seen: set[str] = set()
    for row in rows:
        node = row["test"].strip("`")
        assert node in collected, f"{DOC.name}: no test {node}"
        param = re.search(r"\[(.+)\]$", node)
        assert param is not None, f"{DOC.name}: {node} is not a case of the matrix"
        case_id = param.group(1)
        module, case = cases[case_id]
        assert node.startswith(f"tests/{module}.py::"), (node, module)
        assert row["code"] == str(case.code), (node, row["code"], case.code)
        message = row["message"].strip("`")
        for needle in case.needles:
            assert needle in message, f"{DOC.name}: {case_id}: message lacks {needle!r}"
        assert row["case"] == case.title, (case_id, row["case"], case.title)
        seen.add(case_id)
    missing = sorted(set(cases) - seen)
    assert not missing, f"{DOC.name} has no row for: {', '.join(missing)}"


def test_every_case_is_collected_once() -> None:
    collected = _collected_ids()
    params = [re.search(r"\[(.+)\]$", node) for node in collected]
    ids = [m.group(1) for m in params if m is not None]
    for case_id in all_cases():
        assert ids.count(case_id) == 1, case_id


# -- regeneration ------------------------------------------------------------------------------

_HEADER = """# Fault matrix

What `lsp-render render` does with bad input, faults and hostile repositories. Every row
is a test that runs the real CLI in a subprocess and fails if the behaviour regresses:
the exit code (SPEC section 9), an empty stdout on failure, exactly one stderr line naming
the app, file, document or placeholder, and never a secret value (the leak cases scan
stdout, stderr, the token cache and the scratch directory at `--verbose`).

`tests/hardening_matrix_test.py::test_doc_matches_the_cases` checks this table against
the tests' parametrisation (test ids, exit codes, the text each message must hold).
Regenerate it from real runs with

```
HARDENING_RECORD=/tmp/record.jsonl python -m pytest tests/hardening_*_test.py -q
python -m tests.hardening_matrix_test /tmp/record.jsonl
```

Messages are as printed, with temporary paths shown as `<tmp>` and the test Vault's port
as `<port>`. Exit 0 rows are faults the render survives (or hostile input it renders as
plain data).
"""

_SECTIONS = {
    "hardening_input_test": "## Bad input and hostile repositories",
    "hardening_faults_test": "## Faults: Vault, the token cache, engines, Argo CD's deadline",
    "hardening_leak_test": "## Secret-related failures (leak scan)",
    "hardening_exposure_test": (
        "## Exposure paths: the Vault client, Argo CD's streamed sources, kinds, diff, redaction"
    ),
    "hardening_confine_test": "## Confinement and bounds: no network, nothing outside",
}


def _clean(line: str) -> str:
    """Show a recorded line without this machine's temporary paths and ports."""
    line = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/ ]+", "<tmp>", line)
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line)
    line = re.sub(r"E\d{4} \d\d:\d\d:\d\d\.\d+ +\d+", "<klog>", line)
    return line.replace("|", "\\|")


def write_doc(records: Iterable[Mapping[str, str]]) -> str:
    """Build docs/fault-matrix.md from recorded runs (the first record of each case)."""
    recorded: dict[str, tuple[str, str]] = {}
    for record in records:
        recorded.setdefault(record["id"], (record["node"], record["line"]))
    out = [_HEADER]
    current = ""
    for case_id, (module, case) in all_cases().items():
        if module != current:
            current = module
            out.append(
                f"\n{_SECTIONS[module]}\n\n| case | exit | message | test |\n|---|---|---|---|\n"
            )
        node, line = recorded[case_id]
        text = _clean(line)
        fence = "``" if "`" in text else "`"  # a code span that may hold backticks
        pad = " " if fence == "``" else ""
        message = "(renders)" if case.code == 0 else f"{fence}{pad}{text}{pad}{fence}"
        out.append(f"| {case.title} | {case.code} | {message} | `{node}` |\n")
    return "".join(out)


if __name__ == "__main__":
    record_file = Path(sys.argv[1])
    entries = [json.loads(x) for x in record_file.read_text(encoding="utf-8").splitlines() if x]
    DOC.write_text(write_doc(entries), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
