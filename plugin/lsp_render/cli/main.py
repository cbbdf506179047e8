"""The command line: parse flags, call the pipeline, map errors to exit codes.

Kept thin and light. ``lsp-render render`` with plain options -- the way Argo
CD runs it -- is parsed here without click: importing click costs a render
about 20 ms (it pulls in inspect, uuid, platform and datetime; bench/ scenario
1). Everything else (help, the other commands, any option this parser does not
know in exactly this form, every usage error) goes to the click commands of
:mod:`lsp_render.cli.commands`, so help texts, usage errors and exit codes are
click's own. Heavy modules are imported inside the commands, so ``lsp-render
--version`` costs little more than importing click.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from lsp_render.cli.run import APP_META_KEY, report_error, run_render
from lsp_render.core.errors import ExitCode, LspRenderError, innermost_frame

__all__ = ["DEBUG_PREFIX", "Terminated", "main", "parse_plain_render"]


# `render`'s options as parse_plain_render accepts them: must match the click command
# in cli_commands.py (tests/cli_fast_path_test.py compares them).
_RENDER_VALUES = {
    "--env": "env",
    "--release-name": "release_name",
    "--namespace": "namespace",
    "--kube-version": "kube_version",
    "--secrets-file": "secrets_file",
    "--application": "application",
}
_RENDER_MULTIPLE = {
    "--api-versions": "api_versions",
    "-f": "values",
    "--values": "values",
    "--set": "set_values",
}
_RENDER_FLAGS = {
    "--no-secrets": "no_secrets",
    "--mask-secrets": "mask_secrets",
    "-v": "verbose",
    "--verbose": "verbose",
    "--validate": "validate",
    "--strict": "strict",
}


DEBUG_PREFIX = "lsp-render: debug: "
"""How ``--verbose`` debug lines start (an error stays one line without it)."""


class Terminated(BaseException):
    """Raised in the main thread when Argo CD's deadline sends SIGTERM."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    engines = sys.modules.get("lsp_render.core.engines")  # none started if not imported
    if engines is not None and engines.defer_signal(signum):
        return  # an engine is being started: raised again as soon as it is tracked
    raise Terminated(signal.Signals(signum).name)


def _kill_engines() -> None:
    engines = sys.modules.get("lsp_render.core.engines")
    if engines is not None:
        engines.kill_engines()


def _terminated(exc: BaseException) -> Terminated | None:
    """Find SIGTERM behind another exception (Python wraps it raised inside ``__set_name__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Terminated):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class _NotPlainError(Exception):
    """The arguments need click (help, an unusual form, a usage error)."""


def _check_path(value: str, *, want_dir: bool) -> str:
    """Pass ``value`` if click's ``Path`` type would take it without a word.

    Missing paths are taken as they are; existing ones must be of the wanted
    kind and readable. Anything else is left to click, which reports it.
    """
    if not value:
        raise _NotPlainError
    try:
        mode = Path(value).stat().st_mode
    except OSError:
        return value
    kind_ok = stat.S_ISDIR(mode) if want_dir else stat.S_ISREG(mode)
    if not (kind_ok and os.access(value, os.R_OK)):
        raise _NotPlainError
    return value


def _option_value(token: str, rest: list[str]) -> tuple[str, str]:
    """Split ``--opt=value`` or take the next token as the value of a value option."""
    if token.startswith("--") and "=" in token:
        token, value = token.split("=", 1)
        if token not in _RENDER_VALUES and token not in _RENDER_MULTIPLE:
            raise _NotPlainError
        return token, value
    if token not in _RENDER_VALUES and token not in _RENDER_MULTIPLE:
        raise _NotPlainError
    if not rest or rest[-1].startswith("-"):
        raise _NotPlainError
    return token, rest.pop()


def _scan(tokens: Sequence[str]) -> dict[str, Any]:
    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {name: [] for name in _RENDER_MULTIPLE.values()}
    flags = dict.fromkeys(_RENDER_FLAGS.values(), False)
    app_dir: str | None = None
    rest = list(reversed(tokens))
    while rest:
        token = rest.pop()
        if token in _RENDER_FLAGS:
            flags[_RENDER_FLAGS[token]] = True
        elif not token.startswith("-"):
            if app_dir is not None:
                raise _NotPlainError
            app_dir = token
        else:
            option, value = _option_value(token, rest)
            if option in _RENDER_VALUES:
                single[_RENDER_VALUES[option]] = value
            else:
                multiple[_RENDER_MULTIPLE[option]].append(value)
    secrets_file = single.pop("secrets_file", None)
    application = single.pop("application", None)
    return {
        "application": Path(application) if application is not None else None,
        "app_dir": Path(_check_path("." if app_dir is None else app_dir, want_dir=True)),
        "secrets_file": (
            Path(_check_path(secrets_file, want_dir=False)) if secrets_file is not None else None
        ),
        "env": single.get("env"),
        "release_name": single.get("release_name"),
        "namespace": single.get("namespace"),
        "kube_version": single.get("kube_version"),
        **{name: tuple(values) for name, values in multiple.items()},
        **flags,
    }


def parse_plain_render(args: Sequence[str]) -> dict[str, Any] | None:
    """Parse ``render`` arguments that need nothing of click, or return None.

    Accepted: ``render``, then the render command's options as separate
    ``--opt value`` / ``-f value`` tokens or ``--opt=value``, flags, and at most
    one application directory. Values must not start with ``-``; paths must be
    what click's ``Path`` type takes silently. Anything else (help, clustered
    short options, ``--``, unknown options, a usage error) returns None and goes
    to click.

    Parameters
    ----------
    args
        The arguments without the program name.

    Returns
    -------
    dict or None
        Keyword arguments for :func:`lsp_render.cli.run.run_render`, or None.
    """
    if not args or args[0] != "render":
        return None
    try:
        return _scan(args[1:])
    except _NotPlainError:
        return None


def main(args: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Run the command line and exit with SPEC section 9's exit code.

    The command itself (no arguments given) leaves without the interpreter's
    teardown (:func:`_leave`); a caller that passes ``args`` or ``environ``
    (tests, embedding) gets ``SystemExit`` as usual.

    Parameters
    ----------
    args
        Arguments without the program name (default: ``sys.argv[1:]``).
    environ
        The environment (default: ``os.environ``); tests pass their own.
    """
    command = args is None and environ is None  # the command itself, not a test calling main()
    if not command:
        _run(args, environ)
    from lsp_render.cli.goenv import reexec_with_go_environ

    reexec_with_go_environ(sys.argv[1:], os.environ)
    try:
        _run(None, None)
    except SystemExit as exc:
        _leave(exc.code)


def _leave(code: str | int | None) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would, skipping the teardown of every module.

    The atexit handlers run (the engine child is reaped and its directory
    removed, logging is flushed), then both streams are flushed; only the
    interpreter's teardown of the modules and objects a render loaded is
    skipped: about 10 ms of every command (measured on a Kustomize app and on
    kube-prometheus-stack). With another thread still running, the exit is
    the usual one, which waits for it.
    """
    from lsp_render.core.prefork import single_threaded

    if not single_threaded():
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        sys.stderr.write(f"{code}\n")
        status = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def _run(args: Sequence[str] | None, environ: Mapping[str, str] | None) -> NoReturn:
    """Run the command line and exit with ``sys.exit`` (:func:`main`'s body)."""
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    argv = list(sys.argv[1:] if args is None else args)
    env = os.environ if environ is None else environ
    verbose = "-v" in argv or "--verbose" in argv
    if verbose:
        _log_to_stderr()
    meta: dict[str, Any] = {}
    try:
        plain = parse_plain_render(argv)
        if plain is not None and plain.pop("application") is None:
            run_render(env, meta, **plain)
        else:
            from lsp_render.cli.commands import invoke

            invoke(argv, env, meta)  # exits itself on click's usage errors, help and --version
    except LspRenderError as exc:
        report_error(exc.message, meta.get(APP_META_KEY))
        if verbose and exc.detail:
            sys.stderr.write(f"lsp-render: detail: {exc.detail}\n")
        sys.exit(exc.exit_code)
    except Terminated as exc:
        _kill_engines()
        report_error(f"terminated by {exc} before the render finished; nothing was printed", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except KeyboardInterrupt:
        report_error("interrupted; nothing was printed", None)
        sys.exit(ExitCode.RENDER_FAILED)
    except BrokenPipeError:
        sys.exit(ExitCode.RENDER_FAILED)
    except Exception as exc:
        _kill_engines()
        signalled = _terminated(exc)
        if signalled is not None:
            report_error(
                f"terminated by {signalled} before the render finished; nothing was printed", None
            )
            sys.exit(ExitCode.RENDER_FAILED)
        where = innermost_frame(exc)
        report_error(f"internal error ({type(exc).__name__} at {where}); please report it", None)
        sys.exit(ExitCode.RENDER_FAILED)
    sys.exit(ExitCode.OK)


def _log_to_stderr() -> None:
    """``--verbose``: debug lines of lsp-render's modules (never a value) on stderr."""
    import logging

    logger = logging.getLogger("lsp_render")
    logger.setLevel(logging.DEBUG)
    if any(getattr(h, "lsp_render_verbose", False) for h in logger.handlers):
        return  # main() called again in one process (tests, embedding)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(DEBUG_PREFIX + "%(message)s"))
    handler.lsp_render_verbose = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def threading_main() -> bool:
    """Tell whether we run in the main thread (signal handlers can only be set there)."""
    import threading

    return threading.current_thread() is threading.main_thread()
