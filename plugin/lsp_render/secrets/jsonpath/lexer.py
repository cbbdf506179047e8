"""Reading a JSONPath template character by character (client-go's ``jsonpath/parser.go`` lexing).

:class:`Cursor` is the scanner the parser moves over the text: a position, the start of
the current token, and the one-character look-ahead and backup client-go's parser uses.
:func:`unquote` decodes a quoted string literal with Go's escapes.
"""

from __future__ import annotations

from lsp_render.secrets.jsonpath.nodes import JSONPathSyntaxError

__all__ = ["EOF", "TERMINATORS", "Cursor", "unquote"]

EOF = ""
"""What :meth:`Cursor.next` returns past the end of the text."""

TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
"""Characters that end a field name or an identifier."""


class Cursor:
    """A scanner over ``text``: ``text[start:pos]`` is the token read so far.

    Parameters
    ----------
    text
        The template.
    """

    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0

    def next(self) -> str:
        """Return the next character and move past it (:data:`EOF` at the end)."""
        if self.pos >= len(self.input):
            self.pos += 1
            return EOF
        char = self.input[self.pos]
        self.pos += 1
        return char

    def peek(self) -> str:
        """Return the next character without moving (:data:`EOF` at the end)."""
        return self.input[self.pos] if self.pos < len(self.input) else EOF

    def backup(self) -> None:
        """Step back over the character :meth:`next` returned."""
        self.pos -= 1

    def consume(self) -> str:
        """Return the token read since the last call, and start the next one here."""
        value = self.input[self.start : self.pos]
        self.start = self.pos
        return value


_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def unquote(quoted: str) -> str:
    """Unquote a Go-style string literal (``"..."`` or ``'...'``) with Go's escapes.

    Parameters
    ----------
    quoted
        The literal with its quotes.

    Returns
    -------
    str
        The decoded text.

    Raises
    ------
    JSONPathSyntaxError
        An escape is incomplete or unknown.
    """
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(body):
            raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
        esc = body[i + 1]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise JSONPathSyntaxError(f"unquote string {quoted} error invalid syntax")
    return "".join(out)
