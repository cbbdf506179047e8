r"""The AVP placeholder grammar: find and parse placeholders in one string.

Forms (see ``reference/avp.md``):

- inline ``<path:PATH#KEY>`` and ``<path:PATH#KEY#VERSION>``; PATH holds no ``#``,
  KEY is trimmed of blanks, VERSION is a number (ignored on KV v1, whatever it is:
  :func:`kv_read_version`);
- generic ``<KEY>``, looked for only when the resource carries
  ``avp.kubernetes.io/path`` (``generic=True``);
- either followed by modifiers: ``<path:a#b | jsonPath {.x} | base64encode>``;
- JSON-escaped: the same with ``\u003c`` and ``\u003e`` as the angle brackets
  (what Helm's ``toJson`` makes of a placeholder); its text is JSON-unescaped
  before it is parsed, and its value must be written JSON-escaped.

Matching is non-greedy: a placeholder ends at the first ``>`` that is not inside a
``{...}`` of a modifier argument (AVP ends it at the first ``>`` of all, which cuts
``jsonPath {.a[?(@.n>1)]}`` short). Modifiers are split on ``|`` outside braces and
quotes for the same reason. Generic placeholders, like AVP's, do not span lines.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from lsp_render.secrets.modifiers import Modifier, parse_modifier

__all__ = [
    "Placeholder",
    "PlaceholderSyntaxError",
    "find_placeholders",
    "kv_read_version",
    "might_hold_placeholder",
]

_log = logging.getLogger(__name__)

_OPENERS = re.compile(r"<|\\u003[cC]")
_ESCAPED_CLOSE = re.compile(r"\\u003[eE]")
_VERSION = re.compile(r"[0-9]+")
# What follows "<path:" in a placeholder that lost its ">": PATH#KEY, no blanks in PATH.
_LOOKS_INLINE = re.compile(r"[^\s<>#|]+#[^\s<>#|]")


class PlaceholderSyntaxError(ValueError):
    """A placeholder is malformed (no key, a bad version, an unknown modifier or bad argument)."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    r"""One placeholder found in a string.

    Attributes
    ----------
    text
        The placeholder as written, brackets included (for messages).
    start, end
        Its span in the string.
    path
        The inline path, or ``None`` for a generic placeholder.
    key
        The secret key (trimmed).
    version
        The inline version (``"3"``), or ``None``.
    modifiers
        The modifier chain, in order.
    escaped
        Written JSON-escaped (``\u003c...\u003e``): the value must be escaped too.
    """

    text: str
    start: int
    end: int
    path: str | None
    key: str
    version: str | None
    modifiers: tuple[Modifier, ...]
    escaped: bool

    @property
    def label(self) -> str:
        """Name the placeholder in messages, unescaped and on one line."""
        inner = "path:" + self.path + "#" + self.key if self.path is not None else self.key
        if self.version is not None:
            inner += "#" + self.version
        return f"<{inner}>"


def might_hold_placeholder(text: str, *, generic: bool) -> bool:
    """Cheaply tell whether ``text`` may hold a placeholder (no false negatives)."""
    if generic:
        return "<" in text or "\\u003" in text
    return "<path:" in text or "u003cpath:" in text or "u003Cpath:" in text


def kv_read_version(version: str | None, kv_version: int | None, *, what: str) -> str | None:
    """Return the secret version a read uses: none on KV v1, else a number or none.

    KV v1 has no versions, and AVP ignores a version there (``pkg/backends/vault.go``:
    ``version`` is honoured only with KV v2), whatever its text: AVP's own fixtures
    write ``<path:secret/testing#key#version>`` under ``kv-version: "1"``. With KV v2,
    or a KV version detected per mount, the version must be a number.

    Parameters
    ----------
    version
        The version as written (a placeholder's third part, or the
        ``avp.kubernetes.io/secret-version`` annotation), or ``None``.
    kv_version
        ``1`` or ``2`` from the annotation or ``AVP_KV_VERSION``, or ``None``.
    what
        Names the version in the verbose note.

    Returns
    -------
    str or None
        The version to read, or ``None`` for the latest.

    Raises
    ------
    PlaceholderSyntaxError
        The version is not a number (and the KV version is not 1).
    """
    if version is None:
        return None
    if kv_version == 1:
        _log.debug("%s: version ignored, KV v1 has no versions (as in AVP)", what)
        return None
    if not _VERSION.fullmatch(version):
        raise PlaceholderSyntaxError("version must be a number")
    return version


def find_placeholders(text: str, *, generic: bool) -> list[Placeholder]:
    """Find every placeholder of ``text``, in order.

    Parameters
    ----------
    text
        A string value of a manifest (or of Helm values).
    generic
        Also find generic ``<KEY>`` placeholders (the resource has
        ``avp.kubernetes.io/path``).

    Returns
    -------
    list of Placeholder
        The placeholders, without overlaps.

    Raises
    ------
    PlaceholderSyntaxError
        A ``<path:...>`` placeholder is malformed, or a modifier is unknown or
        has bad arguments, or a ``<path:PATH#KEY`` lost its closing ``>``. An
        unterminated ``<path:`` followed by anything else is prose.
    """
    found: list[Placeholder] = []
    if not might_hold_placeholder(text, generic=generic):
        return found
    pos = 0
    while True:
        match = _OPENERS.search(text, pos)
        if match is None:
            return found
        start = match.start()
        escaped = match.group() != "<"
        body_start = match.end()
        is_inline = text.startswith("path:", body_start)
        if not is_inline and not generic:
            pos = body_start
            continue
        end = _closing(text, body_start, escaped=escaped, single_line=not is_inline)
        if end is None and is_inline:
            # unbalanced braces: end at the first ">" as AVP does (the parse then says why)
            end = _first_close(text, body_start, escaped=escaped)
        if end is None:
            if is_inline and _LOOKS_INLINE.match(text, body_start + len("path:")):
                # "<path:PATH#KEY" cut short: failing beats deploying the placeholder's text
                msg = f"unterminated placeholder {_excerpt(text[start:])}: no closing '>'"
                raise PlaceholderSyntaxError(msg)
            # "<path:" that is not followed by PATH#KEY is prose (a CRD description), as for AVP
            pos = body_start
            continue
        body_end, after = end
        raw = text[body_start:body_end]
        found.append(_parse(text[start:after], raw, start, after, escaped=escaped))
        pos = after


def _closing(  # noqa: PLR0912
    text: str, pos: int, *, escaped: bool, single_line: bool
) -> tuple[int, int] | None:
    r"""Return (end of body, end of placeholder), skipping ``>`` inside braces and quotes.

    Quotes are tracked inside braces only, and only in unescaped placeholders (in
    an escaped one they are written ``\"`` and cannot hide a ``\u003e``).
    """
    depth = 0
    quote = ""
    index = pos
    length = len(text)
    while index < length:
        char = text[index]
        if single_line and char in "\r\n":
            return None
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif depth > 0 and not escaped and char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
        elif depth == 0:
            if escaped:
                close = _ESCAPED_CLOSE.match(text, index)
                if close is not None:
                    return index, close.end()
            elif char == ">":
                return index, index + 1
            elif char == "<" and single_line:
                # ``a <b <c> d``: the innermost pair is the placeholder
                return None
        index += 1
    return None


def _first_close(text: str, pos: int, *, escaped: bool) -> tuple[int, int] | None:
    if escaped:
        match = _ESCAPED_CLOSE.search(text, pos)
        return (match.start(), match.end()) if match else None
    index = text.find(">", pos)
    return (index, index + 1) if index >= 0 else None


def _parse(written: str, raw: str, start: int, end: int, *, escaped: bool) -> Placeholder:
    body = raw
    if escaped:
        try:
            body = json.loads('"' + raw + '"')
        except ValueError:
            raise PlaceholderSyntaxError(
                f"malformed JSON-escaped placeholder {_excerpt(written)}"
            ) from None
    segments = _split_pipeline(body)
    head = segments[0].strip()
    if not head:
        raise PlaceholderSyntaxError(f"empty placeholder {_excerpt(written)}")
    modifiers = tuple(_modifier(segment, written) for segment in segments[1:])
    if head.startswith("path:"):
        parts = head[len("path:") :].split("#")
        if len(parts) not in (2, 3):
            raise PlaceholderSyntaxError(
                f"malformed placeholder {_excerpt(written)}: expected <path:PATH#KEY> "
                "or <path:PATH#KEY#VERSION>"
            )
        path, key = parts[0].strip(), parts[1].strip()
        version = parts[2].strip() if len(parts) == 3 else None
        if not path or not key:
            raise PlaceholderSyntaxError(
                f"malformed placeholder {_excerpt(written)}: empty path or key"
            )
        if version == "":
            raise PlaceholderSyntaxError(
                f"malformed placeholder {_excerpt(written)}: version must be a number"
            )
        # any other version text is checked against the KV version (kv_read_version)
        return Placeholder(written, start, end, path, key, version, modifiers, escaped)
    return Placeholder(written, start, end, None, head, None, modifiers, escaped)


def _modifier(segment: str, written: str) -> Modifier:
    try:
        return parse_modifier(segment)
    except ValueError as err:
        raise PlaceholderSyntaxError(f"{err} in placeholder {_excerpt(written)}") from None


def _split_pipeline(body: str) -> list[str]:
    """Split on ``|`` outside ``{...}`` and quotes inside them."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = 0
    index = 0
    while index < len(body):
        char = body[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif depth > 0 and char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[current:index])
            current = index + 1
        index += 1
    parts.append(body[current:])
    return parts


def _excerpt(text: str, limit: int = 120) -> str:
    """Shorten a placeholder for a one-line message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
