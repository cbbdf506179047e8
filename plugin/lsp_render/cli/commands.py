"""The click commands of the command line (``lsp-render --help`` lists them).

:func:`lsp_render.cli.main.main` comes here for everything but a plain ``render``.
``diff`` and ``render-all`` live in :mod:`lsp_render.cli.workflows`, imported
only when one of them runs or help lists them.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import click

from lsp_render import __version__
from lsp_render.cli.run import APP_META_KEY, report_error, run_render, write_stdout
from lsp_render.core.errors import ExitCode, LspRenderError

__all__ = ["cli", "invoke"]

# Commands of other modules, by name: (module, attribute).
_LAZY_COMMANDS = {
    "diff": ("lsp_render.cli.workflows", "diff"),
    "helm": ("lsp_render.cli.helmcommand", "helm"),
    "render-all": ("lsp_render.cli.workflows", "render_all"),
    "secrets": ("lsp_render.cli.audit", "secrets"),
    "migrate": ("lsp_render.cli.migrate", "migrate"),
}


class _State:
    """What ``invoke`` hands to the commands: the environment and the error-line metadata."""

    def __init__(self, environ: Mapping[str, str], meta: MutableMapping[str, Any]) -> None:
        self.environ = environ
        self.meta = meta


class _LazyGroup(click.Group):
    """A group that imports the commands of ``_LAZY_COMMANDS`` when first asked for them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in _LAZY_COMMANDS:
            return command
        module_name, attribute = _LAZY_COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - while the workflows are being written
            return None
        lazy: click.Command = getattr(module, attribute)
        self.add_command(lazy, cmd_name)
        return lazy


def _environ(ctx: click.Context) -> Mapping[str, str]:
    state = ctx.find_object(_State)
    return state.environ if state is not None else os.environ


def _meta(ctx: click.Context) -> MutableMapping[str, Any]:
    state = ctx.find_object(_State)
    return state.meta if state is not None else ctx.meta


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="lsp-render", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Render Helm, Kustomize, plain and hybrid apps with Vault placeholders substituted."""


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--env", "env", help="Environment: value files values.yaml then values-ENV.yaml.")
@click.option(
    "--release-name", help="Helm release name (default: ARGOCD_APP_NAME or the dir name)."
)
@click.option("--namespace", help="Namespace (default: ARGOCD_APP_NAMESPACE or 'default').")
@click.option("--kube-version", help="Kubernetes version for Helm (default: KUBE_VERSION).")
@click.option(
    "--api-versions", multiple=True, help="API versions for Helm, repeatable or comma-separated."
)
@click.option("-f", "--values", "values", multiple=True, help="Extra Helm value file, repeatable.")
@click.option("--set", "set_values", multiple=True, help="Helm --set parameter, repeatable.")
@click.option(
    "--secrets-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Resolve placeholders from this YAML file instead of Vault.",
)
@click.option("--no-secrets", is_flag=True, help="Leave placeholders as they are.")
@click.option("--mask-secrets", is_flag=True, help="Resolve placeholders but print masked values.")
@click.option("-v", "--verbose", is_flag=True, help="More detail on stderr (never secret values).")
@click.option(
    "--application",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Render the Argo CD Application this manifest describes, as Argo CD would.",
)
@click.option("--validate", is_flag=True, help="Check objects against Kubernetes and CRD schemas.")
@click.option("--strict", is_flag=True, help="With --validate: fail on kinds without a schema.")
@click.pass_context
def render(
    ctx: click.Context,
    *,
    app_dir: Path,
    env: str | None,
    release_name: str | None,
    namespace: str | None,
    kube_version: str | None,
    api_versions: tuple[str, ...],
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    secrets_file: Path | None,
    no_secrets: bool,
    mask_secrets: bool,
    verbose: bool,
    application: Path | None,
    validate: bool,
    strict: bool,
) -> None:
    """Render APP_DIR (default: the current directory) to one YAML stream on stdout."""
    if application is not None:
        from lsp_render.cli.application import run_application_render
        from lsp_render.cli.workflows import secret_options

        if str(app_dir) != "." or release_name or namespace or values or set_values:
            msg = "--application takes no APP_DIR, --release-name, --namespace, -f or --set"
            raise click.UsageError(msg)
        run_application_render(
            _environ(ctx),
            _meta(ctx),
            application=application,
            env=env,
            kube_version=kube_version,
            api_versions=api_versions,
            secrets=secret_options(secrets_file, no_secrets=no_secrets, mask_secrets=mask_secrets),
        )
        return
    run_render(
        _environ(ctx),
        _meta(ctx),
        app_dir=app_dir,
        env=env,
        release_name=release_name,
        namespace=namespace,
        kube_version=kube_version,
        api_versions=api_versions,
        values=values,
        set_values=set_values,
        secrets_file=secrets_file,
        no_secrets=no_secrets,
        mask_secrets=mask_secrets,
        verbose=verbose,
        validate=validate or strict,
        strict=strict,
    )


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def parameters(ctx: click.Context, *, app_dir: Path) -> None:
    """Print the Argo CD parameter announcements of APP_DIR as a JSON array."""
    import json

    from lsp_render.argocd.parameters import announcements

    write_stdout(json.dumps(announcements(app_dir.resolve(), _environ(ctx))) + "\n")


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, *, app_dir: Path) -> None:
    """Build local chart dependencies offline (Argo CD's init step); a no-op for other kinds."""
    from lsp_render.argocd.request import build_request
    from lsp_render.core import deadline
    from lsp_render.detect import AppKind
    from lsp_render.pipeline import helm_inputs, plan
    from lsp_render.sources.helm import build_dependencies

    request = build_request(app_dir, environ=_environ(ctx))
    _meta(ctx)[APP_META_KEY] = request.label
    deadline.begin(_environ(ctx), request.app_dir, request.repo_root)  # shared with render
    the_plan = plan(request)
    if the_plan.kind in (AppKind.HELM, AppKind.HYBRID):
        chart_dir = helm_inputs(request, the_plan, resolve_secrets=False).chart_dir
        build_dependencies(chart_dir, request.repo_root)


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def discover(ctx: click.Context, *, app_dir: Path) -> None:
    """Print the kind of APP_DIR and exit 0 if lsp-render can render it; exit 1 silently if not."""
    from lsp_render.argocd.request import build_request
    from lsp_render.pipeline import plan

    try:
        request = build_request(app_dir, environ=_environ(ctx))
        kind = plan(request).kind
    except LspRenderError:
        ctx.exit(1)
    write_stdout(f"{kind.value}\n")


def invoke(args: Sequence[str], environ: Mapping[str, str], meta: MutableMapping[str, Any]) -> None:
    """Run one command line through click.

    Click's own outcomes end the process here: help and ``--version`` (exit 0),
    ``ctx.exit(n)``, usage errors (one line, exit 2) and aborts (exit 1).

    Parameters
    ----------
    args
        Arguments without the program name.
    environ
        The environment the commands see.
    meta
        Receives :data:`lsp_render.cli.run.APP_META_KEY` once a command knows its app
        (``diff`` and ``render-all`` record it in the click context's ``meta``).

    Raises
    ------
    LspRenderError
        A command's failure, for :func:`lsp_render.cli.main.main` to report.
    """
    state = _State(environ, meta)
    try:
        with cli.make_context("lsp-render", list(args), obj=state) as ctx:
            try:
                cli.invoke(ctx)
            finally:
                if APP_META_KEY in ctx.meta and APP_META_KEY not in meta:
                    meta[APP_META_KEY] = ctx.meta[APP_META_KEY]
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a bare `lsp-render`: the help as click formats it, on stderr (exit 2)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        report_error("aborted", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except click.ClickException as exc:
        report_error(exc.format_message().replace("\n", " "), None)
        sys.exit(ExitCode.BAD_INPUT)
