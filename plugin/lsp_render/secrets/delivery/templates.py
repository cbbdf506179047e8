"""Go template text for the operators' templates (ESO's target template, VSO's transformations).

Both operators run Go's text/template with Sprig functions, so AVP's modifiers
that have an exact Sprig twin map to it; every other modifier is refused with
exit 2, naming it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

from lsp_render.core.errors import InputError
from lsp_render.secrets.delivery.model import (
    LiteralValue,
    SecretKey,
    Use,
    escape_template_text,
    go_string,
)
from lsp_render.secrets.modifiers import Modifier

__all__ = [
    "GO_DELIMS",
    "GO_FUNCTIONS",
    "gjson_path",
    "key_template",
    "literal_template",
    "pipeline",
    "secrets_lookup",
]

GO_DELIMS = ("{{", "}}")
"""Go's default template delimiters (ESO, HashiCorp VSO)."""

GO_FUNCTIONS = {"base64encode": "b64enc", "base64decode": "b64dec", "sha256sum": "sha256sum"}
"""AVP modifiers and the Sprig functions that do exactly the same."""

_SIMPLE_JSONPATH = re.compile(r"\{\s*\$?((?:\.[A-Za-z0-9_-]+|\[[0-9]+\])+)\s*\}")
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")
_GJSON_PLAIN = re.compile(r"[A-Za-z0-9_-]")


def _gjson_escape(name: str) -> str:
    return "".join(ch if _GJSON_PLAIN.fullmatch(ch) else "\\" + ch for ch in name)


def gjson_path(key: str, modifier: Modifier) -> str | None:
    """Return the gjson property path for ``key | jsonPath {...}``, when one expresses it.

    Only a chain of plain names and list indices (``{.a.b[0].c}``) has an exact
    gjson twin (``key.a.b.0.c``); filters, wildcards, unions, ranges and
    recursive descent do not.

    Parameters
    ----------
    key
        The Vault key.
    modifier
        The ``jsonPath`` modifier.

    Returns
    -------
    str or None
        The property path, or ``None``.
    """
    match = _SIMPLE_JSONPATH.fullmatch(modifier.argument.strip())
    if match is None:
        return None
    steps = [name or index for name, index in _STEP.findall(match.group(1))]
    return ".".join([_gjson_escape(key), *steps])


def pipeline(
    start: str,
    modifiers: tuple[Modifier, ...],
    *,
    decode: bool,
    where: str,
    delims: tuple[str, str] = GO_DELIMS,
) -> str:
    """Return a Go template action: ``start`` piped through the modifiers' functions.

    Parameters
    ----------
    start
        The expression of the value (``index . "password"``).
    modifiers
        The modifiers left to apply.
    decode
        Finish with ``b64dec`` (a placeholder written directly in ``data``).
    where
        Names the key in messages.
    delims
        The template's delimiters.

    Returns
    -------
    str
        ``{{ start | f | g }}``.

    Raises
    ------
    InputError
        A modifier without a Sprig twin.
    """
    functions = []
    for modifier in modifiers:
        function = GO_FUNCTIONS.get(modifier.name)
        if function is None:
            raise InputError(
                f"{where}: modifier {modifier.name} has no equivalent in the operator's "
                "templates; use inline delivery or store the value as it must be delivered"
            )
        functions.append(function)
    if decode:
        functions.append("b64dec")
    return f"{delims[0]} {' | '.join([start, *functions])} {delims[1]}"


def key_template(
    key: SecretKey,
    value: Callable[[Use], tuple[str, tuple[Modifier, ...]]],
    delims: tuple[str, str] = GO_DELIMS,
) -> str:
    """Return the template text of a key holding placeholders.

    Parameters
    ----------
    key
        The key.
    value
        Gives, for each placeholder, the expression of its value and the
        modifiers still to apply.
    delims
        The template's delimiters.

    Returns
    -------
    str
        Literal text escaped, each placeholder an action.
    """
    where = f"{key.field}.{key.name}"
    whole = key.whole
    if key.decode and whole is not None:  # model.py refuses decoding anything else
        start, rest = value(whole)
        return pipeline(start, rest, decode=True, where=where, delims=delims)
    out = []
    for part in key.parts:
        if isinstance(part, str):
            out.append(escape_template_text(part, delims))
            continue
        start, rest = value(part)
        out.append(pipeline(start, rest, decode=False, where=where, delims=delims))
    return "".join(out)


def literal_template(literal: LiteralValue, delims: tuple[str, str] = GO_DELIMS) -> str:
    """Return template text that prints a literal key's bytes."""
    text = literal.text
    if text is not None:
        return escape_template_text(text, delims)
    encoded = json.dumps(base64.b64encode(literal.data).decode("ascii"))
    return f"{delims[0]} {encoded} | b64dec {delims[1]}"


def secrets_lookup(use: Use, *, where: str, function: str) -> tuple[str, tuple[Modifier, ...]]:
    """Read ``use``'s key from a Vault operator's ``.Secrets`` map with ``function``.

    The Vault operators (``get`` for HashiCorp's, ``index`` for ricoberger's) template
    over the secret's keys, so ``jsonPath`` has no equivalent there.

    Raises
    ------
    InputError
        The use applies ``jsonPath`` (exit 2), naming ``where``.
    """
    if any(modifier.name == "jsonPath" for modifier in use.modifiers):
        raise InputError(
            f"{where}: modifier jsonPath has no equivalent in the operator's templates; "
            "use inline or external-secrets delivery"
        )
    return f"{function} .Secrets " + go_string(use.key), use.modifiers
