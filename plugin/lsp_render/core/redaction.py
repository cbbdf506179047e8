"""Scrub secret values from text that an engine wrote, in every form a template can give them.

A Helm template or a schema error may quote a value resolved from Vault
(``resolveInValues``) after transforming it. :func:`secret_forms` lists the
forms this module recognises for one value:

- exact;
- whitespace-collapsed (every run of blanks as one space, runs of spaces and
  tabs only, and with no blanks at all);
- Go-quoted (``%q``, ``printf "%q"``, ``quote`` escapes) and JSON-escaped
  (``toJson``, a schema error) in their inner form, and with only the line
  breaks and tabs written as escapes (a schema ``pattern`` error);
- base64 (``b64enc``), standard and URL-safe, with and without padding, and the
  three alignments of a value embedded in a longer encoded string;
- upper and lower case of each (``upper``, ``lower``).

:func:`redact` replaces every occurrence with ``<redacted>``. It also says whether
the result is *safe*: a text still holding a long fragment of a value (ten
characters or more, in any of the forms above) is not, and the caller then
prints a line naming the app and file without the engine's text.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

from lsp_render.core.errors import LspRenderError

__all__ = ["REDACTED", "redact", "redacted_error", "secret_forms"]

REDACTED = "<redacted>"
"""What a scrubbed value reads as."""

_BLANKS = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t]+")
_FRAGMENT = 10  # characters: a shorter piece (an ordinary word) is not taken as a leak


def _go_quoted(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def _base64_forms(data: bytes) -> set[str]:
    forms: set[str] = set()
    for shift in range(3):
        # The value starts at an offset of `shift` bytes into a longer encoded string:
        # encode it behind `shift` filler bytes and keep the characters it alone decides.
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii")
        skip = {0: 0, 1: 2, 2: 3}[shift]
        tail = len(data) + shift
        keep = (tail // 3) * 4 - skip if tail % 3 else len(encoded.rstrip("=")) - skip
        inner = encoded[skip : skip + max(0, keep)]
        if len(inner) >= _FRAGMENT:
            forms.add(inner)
        forms.add(encoded if shift == 0 else inner)
    forms |= {f.replace("+", "-").replace("/", "_") for f in forms}
    forms |= {f.rstrip("=") for f in forms}
    return {f for f in forms if f}


def _shapes(value: str) -> set[str]:
    """Return the value as it is, trimmed, and with its blanks collapsed in the usual ways."""
    spaced = _SPACES.sub(" ", value)  # runs of spaces and tabs, line breaks kept
    return {value, value.strip(), _BLANKS.sub(" ", value).strip(), spaced, spaced.strip()}


def _escaped(texts: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for text in texts:
        forms.add(text)
        forms.add(_go_quoted(text))
        forms.add(json.dumps(text)[1:-1])
        forms.add(json.dumps(text, ensure_ascii=False)[1:-1])
        forms.add(text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r"))
    return forms


def secret_forms(value: str) -> set[str]:
    """Return the forms of ``value`` that an engine's message may hold.

    Parameters
    ----------
    value
        A value resolved from a secret.

    Returns
    -------
    set of str
        Non-empty forms: exact, blanks collapsed or removed, Go-quoted and
        JSON-escaped, base64 (aligned three ways, standard and URL-safe), and
        the upper and lower case of each.
    """
    forms = _escaped(_shapes(value) | {_BLANKS.sub("", value)})
    forms |= _base64_forms(value.encode("utf-8"))
    forms |= {f.upper() for f in forms} | {f.lower() for f in forms}
    return {f for f in forms if f}


def _telling_forms(value: str) -> set[str]:
    """Return the forms whose fragments betray a value (no case or blank-free variants)."""
    return {f for f in _escaped(_shapes(value)) | _base64_forms(value.encode()) if f}


def redact(text: str, values: Iterable[str]) -> tuple[str, bool]:
    """Replace every form of every value in ``text`` with ``<redacted>``.

    Parameters
    ----------
    text
        An engine's message.
    values
        The values resolved from secrets.

    Returns
    -------
    tuple
        The scrubbed text, and whether it is safe to show: ``False`` when a
        fragment of ten characters or more of some value (in any recognised
        form; of the innermost values, those that hold no other) is still in it.
    """
    values = list(values)
    forms: set[str] = set()
    for value in values:
        forms |= secret_forms(value)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    # Fragments of the innermost values only: "postgres://VALUE@db" shares its
    # harmless prefix with the message; VALUE, also in the list, is what matters.
    telling: set[str] = set()
    for value in values:
        if not any(other != value and other in value for other in values):
            telling |= _telling_forms(value)
    return text, not _holds_fragment(text, telling)


def _holds_fragment(text: str, forms: Iterable[str]) -> bool:
    squeezed = _BLANKS.sub("", text)
    for form in forms:
        if len(form) < _FRAGMENT:
            continue
        for start in range(len(form) - _FRAGMENT + 1):
            piece = form[start : start + _FRAGMENT]
            bare = _BLANKS.sub("", piece)
            if piece in text or (len(bare) >= _FRAGMENT - 2 and bare in squeezed):
                return True
    return False


_FILE = re.compile(r"[\w.-]+(?:/[\w.-]+)*\.(?:ya?ml|tpl|json|txt)\b")


def _file_named(text: str, values: Iterable[str]) -> str | None:
    """Return the first file name in an engine's message that holds nothing of a value."""
    for match in _FILE.finditer(text):
        name = match.group(0)
        if redact(name, values) == (name, True):
            return name
    return None


def redacted_error(exc: LspRenderError, values: Iterable[str], label: str) -> LspRenderError:
    """Return ``exc`` with every form of every value scrubbed, or withheld when that is unsure.

    Parameters
    ----------
    exc
        An engine's error (Helm, Kustomize) after values were resolved into its input.
    values
        The strings resolved from secrets.
    label
        The app, for the line that replaces a message that cannot be scrubbed.

    Returns
    -------
    LspRenderError
        Of the same type: the scrubbed message, or a line naming the app and the
        file without the engine's text when a fragment of a value might remain.
    """
    values = list(values)
    message, safe = redact(exc.message, values)
    detail: str | None = None
    if exc.detail:
        detail, detail_safe = redact(exc.detail, values)
        detail = detail if detail_safe else None
    if not safe:
        name = _file_named(exc.message, values)
        where = f" about {name}" if name else ""
        message = (
            f"{label}: the engine failed{where}; its message is withheld because it may "
            "quote a value resolved from a secret (resolveInValues) in a form that cannot "
            "be masked: render with --no-secrets or --mask-secrets to see it"
        )
    return type(exc)(message, detail=detail)
