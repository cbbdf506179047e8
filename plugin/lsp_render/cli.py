"""The command line: parse flags, call the pipeline, map errors to exit codes.

Kept thin and light: heavy modules are imported inside the commands, so
``lsp-render --version`` costs little more than importing click.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from lsp_render import __version__
from lsp_render.errors import ExitCode, InputError, LspRenderError

__all__ = ["Terminated", "cli", "main"]


class Terminated(BaseException):
    """Raised in the main thread when Argo CD's deadline sends SIGTERM."""


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    del frame
    raise Terminated(signal.Signals(signum).name)


class _State:
    """What ``main`` hands to the commands: the environment and stderr verbosity."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ


def _environ(ctx: click.Context) -> Mapping[str, str]:
    state = ctx.find_object(_State)
    return state.environ if state is not None else os.environ


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
) -> None:
    """Render APP_DIR (default: the current directory) to one YAML stream on stdout."""
    from lsp_render.context import SecretOptions
    from lsp_render.manifests import join_stream
    from lsp_render.pipeline import render as run_pipeline
    from lsp_render.request_builder import build_request

    if no_secrets and (secrets_file is not None or mask_secrets):
        msg = "--no-secrets cannot be combined with --secrets-file or --mask-secrets"
        raise InputError(msg)
    if secrets_file is not None and not secrets_file.is_file():
        # A FIFO or a device would hang or never end; a directory cannot be read.
        what = "does not exist" if not secrets_file.exists() else "is not a regular file"
        msg = f"--secrets-file {secrets_file}: {what}"
        raise InputError(msg)
    request = build_request(
        app_dir,
        environ=_environ(ctx),
        env=env,
        release_name=release_name,
        namespace=namespace,
        kube_version=kube_version,
        api_versions=api_versions,
        value_files=values,
        set_values=set_values,
        secrets=SecretOptions(
            secrets_file=secrets_file.resolve() if secrets_file is not None else None,
            no_secrets=no_secrets,
            mask_secrets=mask_secrets,
        ),
        verbose=verbose,
    )
    ctx.meta["lsp_render.app"] = request.label
    docs = run_pipeline(request)
    if not docs:
        msg = "the render produced no Kubernetes objects (refusing an empty success)"
        raise LspRenderError(msg)
    _write_stdout(join_stream(docs))


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def parameters(ctx: click.Context, *, app_dir: Path) -> None:
    """Print the Argo CD parameter announcements of APP_DIR as a JSON array."""
    import json

    from lsp_render.parameters import announcements

    _write_stdout(json.dumps(announcements(app_dir.resolve(), _environ(ctx))) + "\n")


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, *, app_dir: Path) -> None:
    """Build local chart dependencies offline (Argo CD's init step); a no-op for other kinds."""
    from lsp_render.detect import AppKind
    from lsp_render.pipeline import helm_inputs, plan
    from lsp_render.request_builder import build_request
    from lsp_render.sources.helm import build_dependencies

    request = build_request(app_dir, environ=_environ(ctx))
    ctx.meta["lsp_render.app"] = request.label
    the_plan = plan(request)
    if the_plan.kind in (AppKind.HELM, AppKind.HYBRID):
        chart_dir = helm_inputs(request, the_plan, resolve_secrets=False).chart_dir
        build_dependencies(chart_dir, request.repo_root)


@cli.command()
@click.argument("app_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def discover(ctx: click.Context, *, app_dir: Path) -> None:
    """Print the kind of APP_DIR and exit 0 if lsp-render can render it; exit 1 silently if not."""
    from lsp_render.pipeline import plan
    from lsp_render.request_builder import build_request

    try:
        request = build_request(app_dir, environ=_environ(ctx))
        kind = plan(request).kind
    except LspRenderError:
        ctx.exit(1)
    _write_stdout(f"{kind.value}\n")


def _register_workflows() -> None:
    try:
        from lsp_render.cli_workflows import diff, render_all
    except ImportError:  # pragma: no cover - while the workflows are being written
        return
    cli.add_command(diff)
    cli.add_command(render_all)


def _write_stdout(text: str) -> None:
    data = text.encode("utf-8")
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def _report(message: str, app: str | None) -> None:
    if app and not message.startswith(app):
        message = f"{app}: {message}"
    sys.stderr.write(f"lsp-render: {message}\n")
    sys.stderr.flush()


def main(args: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Run the command line and exit with SPEC section 9's exit code.

    Parameters
    ----------
    args
        Arguments without the program name (default: ``sys.argv[1:]``).
    environ
        The environment (default: ``os.environ``); tests pass their own.
    """
    _register_workflows()
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    state = _State(os.environ if environ is None else environ)
    verbose = bool(args and ("-v" in args or "--verbose" in args))
    ctx_meta: dict[str, Any] = {}
    try:
        with cli.make_context(
            "lsp-render", list(sys.argv[1:] if args is None else args), obj=state
        ) as ctx:
            ctx_meta = ctx.meta
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _report("aborted", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except click.ClickException as exc:
        _report(exc.format_message().replace("\n", " "), None)
        sys.exit(ExitCode.BAD_INPUT)
    except LspRenderError as exc:
        _report(exc.message, ctx_meta.get("lsp_render.app"))
        if verbose and exc.detail:
            sys.stderr.write(f"lsp-render: detail: {exc.detail}\n")
        sys.exit(exc.exit_code)
    except Terminated as exc:
        _report(f"terminated by {exc} before the render finished; nothing was printed", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except KeyboardInterrupt:
        _report("interrupted; nothing was printed", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except BrokenPipeError:
        sys.exit(ExitCode.RENDER_FAILED)
    except Exception as exc:
        where = _innermost(exc)
        _report(f"internal error ({type(exc).__name__} at {where}); please report it", None)
        sys.exit(ExitCode.RENDER_FAILED)
    sys.exit(ExitCode.OK)


def threading_main() -> bool:
    """Tell whether we run in the main thread (signal handlers can only be set there)."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _innermost(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
