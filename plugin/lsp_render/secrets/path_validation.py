r"""``AVP_PATH_VALIDATION``: a Go regular expression every secret path must match.

AVP compiles the variable with Go's ``regexp`` package (RE2 syntax) and refuses a
path for which ``MatchString`` is false. Python's ``re`` reads the same text
differently (``[[:alnum:]]`` is a nested set with a FutureWarning, ``\z`` is an
error, ``(?!...)`` is accepted where Go refuses it), so the pattern is compiled by
RE2 itself (``google-re2``), with the options that make it Go's dialect: UTF-8,
Perl classes and ``\b``, ``$`` only at the end of the text. RE2's own error
logging is off, so a bad pattern is one line of ours on stderr, exit 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lsp_render.core.errors import InputError, PolicyError

__all__ = ["VARIABLE", "compile_go_regexp", "validate_paths"]

VARIABLE = "AVP_PATH_VALIDATION"


def compile_go_regexp(pattern: str, *, name: str = VARIABLE) -> Any:
    """Compile ``pattern`` as Go's ``regexp.Compile`` would.

    Parameters
    ----------
    pattern
        The expression, in Go (RE2) syntax.
    name
        What the pattern is, for the message.

    Returns
    -------
    re2._Regexp
        The compiled expression (``search`` is Go's ``MatchString``).

    Raises
    ------
    InputError
        RE2 refuses the pattern; the message names RE2's reason (``invalid perl
        operator: (?!``).
    """
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print to the process's stderr itself
    try:
        return re2.compile(pattern, options=options)
    except re2.error as err:
        reason = err.args[0] if err.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        msg = f"{name} is not a valid regular expression (Go RE2 syntax): {reason}"
        raise InputError(msg) from None


def validate_paths(paths: Sequence[str], environ: Mapping[str, str]) -> None:
    """Refuse any path ``AVP_PATH_VALIDATION`` does not match (no traffic before this).

    Parameters
    ----------
    paths
        Every distinct secret path of the render.
    environ
        The sidecar's environment.

    Raises
    ------
    InputError
        The pattern is not valid Go RE2 syntax.
    PolicyError
        A path does not match it.
    """
    pattern_text = environ.get(VARIABLE)
    if not pattern_text:
        return
    pattern = compile_go_regexp(pattern_text)
    for path in paths:
        if pattern.search(path) is None:
            raise PolicyError(f"the path {path} is disallowed by the {VARIABLE} restriction")
