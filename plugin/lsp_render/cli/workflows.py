"""The ``diff`` and ``render-all`` commands (registered by ``cli.py``).

Thin: parse the flags, call :mod:`lsp_render.workflows`, print, exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import ExitCode, InputError

__all__ = ["diff", "render_all"]


def _environ(ctx: click.Context) -> Mapping[str, str]:
    environ = getattr(ctx.obj, "environ", None)
    return environ if isinstance(environ, Mapping) else os.environ


def _secret_options(
    secrets_file: Path | None, *, no_secrets: bool, mask_secrets: bool = False
) -> SecretOptions:
    if no_secrets and (secrets_file is not None or mask_secrets):
        msg = "--no-secrets cannot be combined with --secrets-file or --mask-secrets"
        raise InputError(msg)
    return SecretOptions(
        secrets_file=secrets_file.resolve() if secrets_file is not None else None,
        no_secrets=no_secrets,
        mask_secrets=mask_secrets,
    )


_secrets_file_option = click.option(
    "--secrets-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Resolve placeholders from this YAML file instead of Vault.",
)
_no_secrets_option = click.option(
    "--no-secrets", is_flag=True, help="Leave placeholders as they are."
)
_kube_version_option = click.option(
    "--kube-version",
    help="Render as Argo CD does for a cluster of this Kubernetes version (as KUBE_VERSION).",
)
_api_versions_option = click.option(
    "--api-versions",
    multiple=True,
    help="An API version the cluster serves (as KUBE_API_VERSIONS; repeatable).",
)


def _cluster_environ(
    environ: Mapping[str, str], kube_version: str | None, api_versions: tuple[str, ...]
) -> Mapping[str, str]:
    """Argo CD's view of a cluster: the flags become KUBE_VERSION and KUBE_API_VERSIONS."""
    if not kube_version and not api_versions:
        return environ
    out = dict(environ)
    if kube_version:
        out["KUBE_VERSION"] = kube_version
    if api_versions:
        out["KUBE_API_VERSIONS"] = ",".join(api_versions)
    return out


@click.command("render-all")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/<env>/<app>.yaml (DIR/<app>.yaml without environment) per pair.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the number of CPUs).",
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Only this environment (repeatable); apps without environment are then skipped.",
)
@_secrets_file_option
@_no_secrets_option
@click.option("--mask-secrets", is_flag=True, help="Resolve placeholders but write masked values.")
@_kube_version_option
@_api_versions_option
@click.pass_context
def render_all(
    ctx: click.Context,
    *,
    root: Path,
    output_dir: Path | None,
    jobs: int | None,
    envs: tuple[str, ...],
    secrets_file: Path | None,
    no_secrets: bool,
    mask_secrets: bool,
    kube_version: str | None = None,
    api_versions: tuple[str, ...] = (),
) -> None:
    """Render every application of ROOT for every environment it has a values file for.

    Progress goes to stderr, the summary and one FAILED line per failed pair to
    stdout. Exit 0 when every pair rendered, 1 when any failed, 2 on bad usage.
    """
    from lsp_render.workflows.discovery import default_jobs
    from lsp_render.workflows.progress import format_summary
    from lsp_render.workflows.render_all import render_all as run

    secrets = _secret_options(secrets_file, no_secrets=no_secrets, mask_secrets=mask_secrets)
    report = run(
        root,
        environ=_cluster_environ(_environ(ctx), kube_version, api_versions),
        jobs=jobs or default_jobs(),
        envs=envs,
        output_dir=output_dir,
        secrets=secrets,
        progress_stream=sys.stderr,
    )
    sys.stdout.write(format_summary(report.results, report.wall_seconds, report.jobs))
    sys.stdout.flush()
    ctx.exit(report.exit_code)


@click.command("diff")
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--env", "env", required=True, help="Environment of the new side.")
@click.option("--against-env", help="Compare with this environment (the old side).")
@click.option(
    "--against-revision",
    help="Compare with this git revision (branch, tag, commit), same environment.",
)
@_secrets_file_option
@_no_secrets_option
@click.option(
    "-U",
    "--context",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Lines of context.",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the diff (auto: when stdout is a terminal and NO_COLOR is unset).",
)
@_kube_version_option
@_api_versions_option
@click.pass_context
def diff(
    ctx: click.Context,
    *,
    app_dir: Path,
    env: str,
    against_env: str | None,
    against_revision: str | None,
    secrets_file: Path | None,
    no_secrets: bool,
    context: int,
    color: str,
    kube_version: str | None = None,
    api_versions: tuple[str, ...] = (),
) -> None:
    """Diff the rendered manifests of APP_DIR against another environment or a git revision.

    One unified diff per resource (matched by group, kind, namespace, name), secret
    values masked. Exit 0 when there is no difference, 1 when there is, 2 or more
    on error (2: bad usage or a side failed to render; 3: secret backend unreachable).
    """
    from lsp_render.workflows.diff import colorize, diff_app

    if (against_env is None) == (against_revision is None):
        msg = "give exactly one of --against-env and --against-revision"
        raise click.UsageError(msg)
    secrets = _secret_options(secrets_file, no_secrets=no_secrets)
    environ = _cluster_environ(_environ(ctx), kube_version, api_versions)
    ctx.meta["lsp_render.app"] = app_dir.as_posix().rstrip("/") or "."
    result = diff_app(
        app_dir,
        env=env,
        environ=environ,
        secrets=secrets,
        against_env=against_env,
        against_revision=against_revision,
        context=context,
    )
    use_color = color == "always" or (
        color == "auto" and sys.stdout.isatty() and not environ.get("NO_COLOR")
    )
    out: list[str] = []
    for item in result.diffs:
        out.extend(colorize(line) if use_color else line for line in item.lines)
    if out:
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()
    for note in result.notes:
        sys.stderr.write(f"lsp-render: {note}\n")
    sys.stderr.write(f"lsp-render: {result.summary()}\n")
    ctx.exit(ExitCode.RENDER_FAILED if result.different else ExitCode.OK)
