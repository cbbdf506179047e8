"""The exception hierarchy; every error carries the exit code SPEC section 9 gives it.

Messages are one line, name the culprit (file, document, placeholder) and never
contain a secret value. The CLI prefixes them with the application's name.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import ClassVar

__all__ = [
    "BackendUnavailableError",
    "ExitCode",
    "InputError",
    "LspRenderError",
    "PolicyError",
    "RenderError",
    "SecretError",
    "innermost_frame",
]


class ExitCode(IntEnum):
    """Process exit codes (SPEC section 9)."""

    OK = 0
    RENDER_FAILED = 1
    BAD_INPUT = 2
    BACKEND_UNAVAILABLE = 3


class LspRenderError(Exception):
    """Base of every error lsp-render reports to its user.

    Parameters
    ----------
    message
        One line naming the file, document or placeholder at fault. Never a
        secret value.
    detail
        Optional extra context shown only with ``--verbose``; never a secret
        value either.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.RENDER_FAILED

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split()) if "\n" in message else message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class InputError(LspRenderError):
    """Bad usage or bad input: no app, malformed config or YAML, path outside the repo."""

    exit_code = ExitCode.BAD_INPUT


class RenderError(LspRenderError):
    """A render failed: engine error, template error, invalid output."""

    exit_code = ExitCode.RENDER_FAILED


class SecretError(RenderError):
    """A secret is missing, deleted, or Vault refused to hand it out."""


class PolicyError(RenderError):
    """The operator's policy does not allow a placeholder's path."""


class BackendUnavailableError(LspRenderError):
    """The secret backend could not be reached (after retries) or none is configured."""

    exit_code = ExitCode.BACKEND_UNAVAILABLE


def innermost_frame(exc: BaseException) -> str:
    """Name where an unexpected exception was raised (``file.py:LINE``), never its message.

    An unexpected exception's text may quote data it was handed (a secret value
    among them), so reports of internal errors show only this location.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
