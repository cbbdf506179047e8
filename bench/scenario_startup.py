"""Scenario 2: start-up cost and what a plain render imports.

- ``lsp-render --version`` vs ``python -c "import click"`` (subprocesses, median of N
  interleaved runs);
- a render of a plain app without placeholders, run in a subprocess that reports
  which heavy modules ended up in ``sys.modules``: hvac, requests, helm_python and
  jinja2 must not be there; pydantic, ruamel.yaml and yaml are reported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchlib import Result, bench_env, lsp_render_argv, median_interleaved, run

__all__ = ["FORBIDDEN", "REPORTED", "imported_modules", "measure"]

GOAL = 1.3
FORBIDDEN = ("hvac", "requests", "helm_python", "jinja2")
REPORTED = ("pydantic", "ruamel.yaml", "yaml", "urllib3", "lsp_render.secrets.document")

_PROBE = """
import io, json, sys
from lsp_render.cli.main import main
sys.stdout = io.TextIOWrapper(io.BytesIO())
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""

PLAIN_APP = {
    "configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n"
    ),
    "deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: web\n"
        "          image: nginx:1.27\n"
    ),
}


def imported_modules(argv: list[str], cwd: Path | None = None) -> tuple[int, set[str]]:
    """Run the CLI with ``argv`` in a fresh interpreter; return its exit code and modules."""
    proc = run([sys.executable, "-c", _PROBE, *argv], cwd=cwd, check=False)
    last = proc.stderr.decode().strip().splitlines()[-1]
    report = json.loads(last)
    return int(report["code"] or 0), set(report["modules"])


def _top(modules: set[str], name: str) -> bool:
    return name in modules


def measure(tmp: Path, runs: int) -> list[Result]:
    """Return the --version row and the import-check row."""
    env = bench_env()
    ours = [*lsp_render_argv(), "--version"]
    theirs = [sys.executable, "-c", "import click"]
    ours_s, theirs_s = median_interleaved(
        [lambda: run(ours, env=env), lambda: run(theirs, env=env)], runs
    )
    rows = [
        Result(
            "lsp-render --version",
            ours_s,
            theirs_s,
            "s",
            f"<= {GOAL}x",
            ours_s / theirs_s <= GOAL,
            note=f"vs python -c 'import click'; median of {runs} interleaved runs",
        )
    ]
    app = tmp / "plain-app"
    app.mkdir()
    (app / ".git").mkdir()
    for name, text in PLAIN_APP.items():
        (app / name).write_text(text)
    code, modules = imported_modules(["render", str(app)])
    forbidden = [m for m in FORBIDDEN if _top(modules, m)]
    reported = [m for m in REPORTED if _top(modules, m)]
    ok = code == 0 and not forbidden
    rows.append(
        Result(
            "plain render imports",
            None,
            None,
            "",
            f"none of {', '.join(FORBIDDEN)}",
            ok,
            ratio=None,
            note=(
                f"exit {code}; forbidden imported: {forbidden or 'none'}; "
                f"also imported: {reported or 'none'}"
            ),
        )
    )
    return rows
