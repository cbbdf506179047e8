"""``lsp-render helm ...``: the subset of ``helm`` Kustomize's ``--helm-command`` calls.

lsp-render hands Kustomize a shim that runs ``lsp-render helm --root ROOT``
followed by Kustomize's own arguments, when an app opts in to ``helmCharts:``
(``kustomize.enableHelm`` in ``lsp-render.yaml``) and no helm binary exists
(:mod:`lsp_render.sources.helm.command`).
"""

from __future__ import annotations

from pathlib import Path

import click

from lsp_render.cli.run import write_stdout
from lsp_render.core.errors import InputError

__all__ = ["helm"]


@click.command(
    "helm",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    },
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def helm(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Answer Kustomize's helm calls (template, version, pull) with the embedded engine.

    ARGS: --root DIR (repeatable: where charts may be; default: the current
    directory), then what Kustomize passes to its helm command. lsp-render hands
    Kustomize a shim that calls this when an app or the policy enables helmCharts.
    """
    from lsp_render.sources.helm.command import helm_command

    rest = list(args)
    if rest in (["--help"], ["-h"]):
        click.echo(ctx.get_help())
        return
    roots: list[Path] = []
    while rest[:1] == ["--root"]:
        if len(rest) < 2:
            raise InputError("helm: --root needs a directory")
        roots.append(Path(rest[1]).resolve())
        rest = rest[2:]
    write_stdout(helm_command(rest, roots=roots or [Path.cwd().resolve()]))
