"""The ``secrets`` command group: ``lsp-render secrets audit ROOT`` (registered by ``commands.py``).

Thin: parse the flags, call :mod:`lsp_render.workflows.audit`, print, exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

__all__ = ["secrets"]


def _environ(ctx: click.Context) -> Mapping[str, str]:
    environ = getattr(ctx.obj, "environ", None)
    return environ if isinstance(environ, Mapping) else os.environ


@click.group("secrets")
def secrets() -> None:
    """Check the secrets a deployment repository names."""


@secrets.command("audit")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Only this environment (repeatable); apps without environment are then skipped.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes rendering the applications (default: the number of CPUs).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per missing secret; json: one JSON document (for CI).",
)
@click.pass_context
def audit(
    ctx: click.Context,
    *,
    root: Path,
    envs: tuple[str, ...],
    jobs: int | None,
    output_format: str,
) -> None:
    """Check that every Vault path and key the applications of ROOT use exists.

    Renders every application and environment as render-all does, placeholders
    unresolved, then reads each distinct secret once (never printing a value).
    Exit 0 when all exist, 1 when some are missing (or an app failed to render),
    3 when Vault cannot be reached.
    """
    from lsp_render.workflows.audit import audit as run_audit
    from lsp_render.workflows.audit import format_json, format_text
    from lsp_render.workflows.discovery import default_jobs

    report = run_audit(root, environ=_environ(ctx), envs=envs, jobs=jobs or default_jobs())
    text = format_json(report) if output_format == "json" else format_text(report)
    sys.stdout.write(text)
    sys.stdout.flush()
    ctx.exit(report.exit_code)
