"""The YAML stream: split into documents, pass them through, join them again.

A :class:`Document` holds the exact text of one YAML document. Nothing here
parses a document unless asked: untouched documents go out byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Document",
    "is_blank",
    "join_stream",
    "split_stream",
]

# A document separator: "---" at column 0, alone or followed by blanks, a comment,
# or inline content ("--- !tag" / "--- {a: 1}").
_SEPARATOR = re.compile(r"^---(?=[ \t]|$)[ \t]*(.*)$")
_END_MARKER = re.compile(r"^\.\.\.[ \t]*(#.*)?$")
_COMMENT_OR_BLANK = re.compile(r"^[ \t]*(#.*)?$")


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a stream.

    Attributes
    ----------
    text
        The document's text without its ``---`` separator line, ending in
        exactly one newline.
    source
        Where it came from, for error messages: a template path
        (``web/templates/deployment.yaml``) or a file relative to the app.
    """

    text: str
    source: str

    def with_text(self, text: str) -> Document:
        """Return a copy holding ``text`` (normalised to end in a newline)."""
        return Document(_terminate(text), self.source)


def _terminate(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def is_blank(text: str) -> bool:
    """Tell whether a document holds nothing but blanks and comments (an empty document)."""
    return all(_COMMENT_OR_BLANK.match(line) for line in text.splitlines())


def split_stream(text: str, source: str, *, keep_blank: bool = False) -> list[Document]:
    """Split a YAML stream into documents, keeping each document's text exactly.

    Parameters
    ----------
    text
        The whole stream.
    source
        Name used for every document (a file or engine name).
    keep_blank
        Keep documents that hold only comments and blanks (dropped by default,
        as Argo CD drops them).

    Returns
    -------
    list of Document
        The documents in stream order.
    """
    docs: list[Document] = []
    current: list[str] = []
    directives_done = False

    def flush() -> None:
        body = "".join(current)
        if body and (keep_blank or not is_blank(body)):
            docs.append(Document(_terminate(body), source))
        current.clear()

    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if stripped.startswith("%") and not current and not directives_done:
            continue
        match = _SEPARATOR.match(stripped)
        if match is not None:
            flush()
            directives_done = True
            rest = match.group(1)
            if rest and not rest.startswith("#"):
                current.append(rest + "\n")
            continue
        if _END_MARKER.match(stripped):
            flush()
            directives_done = False
            continue
        current.append(line)
    flush()
    return docs


def join_stream(docs: Iterable[Document] | Sequence[Document]) -> str:
    """Join documents into one stream, each preceded by a ``---`` line."""
    return "".join(f"---\n{doc.text}" for doc in docs)
