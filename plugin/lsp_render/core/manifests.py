"""The YAML stream: split into documents, pass them through, join them again.

A :class:`Document` holds the exact text of one YAML document. Nothing here
parses a document unless asked: untouched documents go out byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "Document",
    "encode_stream",
    "is_blank",
    "join_stream",
    "simple_line_breaks",
    "split_stream",
]

# A document separator: "---" at column 0, alone or followed by blanks, a comment,
# or inline content ("--- !tag" / "--- {a: 1}").
_SEPARATOR = re.compile(r"^---(?=[ \t]|$)[ \t]*(.*)$")
_END_MARKER = re.compile(r"^\.\.\.[ \t]*(#.*)?$")
_COMMENT_OR_BLANK = re.compile(r"^[ \t]*(#.*)?$")
# What makes the line-by-line pass necessary: a character str.splitlines breaks a
# line at other than "\n", or a directive ("%") or document end marker ("...") at
# column 0. Substring tests: each is one C-level scan, where a regex would try
# every position.
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_SLOW_LINE_STARTS = ("%", "...")


def simple_line_breaks(text: str) -> bool:
    """Tell whether ``text`` breaks lines at newlines only and has no directive or ``...`` line.

    Such a text's lines, separators and line numbers can be found by looking
    for newlines alone.
    """
    return not _needs_line_pass(text)


def _needs_line_pass(text: str) -> bool:
    if any(_starts_a_line(text, mark) for mark in _SLOW_LINE_STARTS):
        return True
    return any(mark in text for mark in _OTHER_BREAKS)


def _starts_a_line(text: str, mark: str) -> bool:
    """Tell whether ``mark`` begins a line of ``text``.

    Searching for a newline and ``mark`` together is slow where newlines are
    frequent (5 ms on a 5 MB stream); ``mark`` alone is rare, so its
    occurrences are checked one by one, up to a bound past which the
    two-character search is cheaper.
    """
    at = text.find(mark)
    for _ in range(4096):
        if at == -1:
            return False
        if at == 0 or text[at - 1] == "\n":
            return True
        at = text.find(mark, at + 1)
    return "\n" + mark in text


_SEPARATOR_LINE = re.compile(r"^---(?=[ \t\n]|\Z)[ \t]*([^\n]*)(?:\n|\Z)", re.MULTILINE)
# A line holding something other than blanks and a comment (for texts the fast path takes).
_CONTENT_LINE = re.compile(r"^[ \t]*[^ \t#\n]", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a stream.

    Attributes
    ----------
    text
        The document's text without its ``---`` separator line, ending in a
        newline (blank lines before the next separator are kept, as the engine
        printed them).
    source
        Where it came from, for error messages: a template path
        (``web/templates/deployment.yaml``) or a file relative to the app.
    separator
        The line before it in the stream, as the engine printed it: ``---``
        and a newline (the default), a ``--- # comment`` line, or ``""`` for a first document
        printed without one (``kustomize build``). Kept so that an untouched
        stream goes out byte for byte.
    """

    text: str
    source: str
    separator: str = "---\n"

    def with_text(self, text: str) -> Document:
        """Return a copy holding ``text`` (normalised to end in a newline)."""
        return Document(_terminate(text), self.source, self.separator)


def _terminate(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def is_blank(text: str) -> bool:
    """Tell whether a document holds nothing but blanks and comments (an empty document)."""
    if text[:1].isalnum():  # most documents: content on their first line
        return False
    if not _needs_line_pass(text):
        return _CONTENT_LINE.search(text) is None
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
    if not _needs_line_pass(text):
        return _split_fast(text, source, keep_blank=keep_blank)
    docs: list[Document] = []
    current: list[str] = []
    directives_done = False
    separator = ""  # what precedes the document being collected

    def flush() -> None:
        body = "".join(current)
        if body and (keep_blank or not is_blank(body)):
            docs.append(Document(_terminate(body), source, separator))
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
            separator = _terminate(line)
            if rest and not rest.startswith("#"):
                separator = "---\n"  # "--- {a: 1}": the content belongs to the document
                current.append(rest + "\n")
            continue
        if _END_MARKER.match(stripped):
            flush()
            directives_done = False
            separator = ""
            continue
        current.append(line)
    flush()
    return docs


def _split_fast(text: str, source: str, *, keep_blank: bool) -> list[Document]:
    """:func:`split_stream` for a text broken only at newlines, with no directive and no "...".

    The same documents, found without a Python step per line: ``str.find``
    jumps from one ``---`` at a line start to the next (a multi-megabyte Helm or
    plain stream holds a few hundred), and the separator pattern is tried there
    only. A MULTILINE ``^---`` search would try every position.
    """
    docs: list[Document] = []
    start = 0
    prefix = ""
    separator = ""  # what precedes the document being collected
    for match in _separator_lines(text):
        body = prefix + text[start : match.start()]
        if body and (keep_blank or _CONTENT_LINE.search(body) is not None):
            docs.append(Document(_terminate(body), source, separator))
        rest = match.group(1)
        if rest and not rest.startswith("#"):
            separator = "---\n"  # "--- {a: 1}": the content belongs to the document
            prefix = rest + "\n"
        else:
            separator = _terminate(match.group(0))
            prefix = ""
        start = match.end()
    body = prefix + text[start:]
    if body and (keep_blank or _CONTENT_LINE.search(body) is not None):
        docs.append(Document(_terminate(body), source, separator))
    return docs


def _separator_lines(text: str) -> Iterator[re.Match[str]]:
    """Yield the matches ``_SEPARATOR_LINE.finditer`` gives, trying only lines starting ``---``."""
    if text.startswith("---"):
        line = 0
    else:
        found = text.find("\n---")
        if found == -1:
            return
        line = found + 1
    while True:
        match = _SEPARATOR_LINE.match(text, line)
        after = line + 1
        if match is not None:
            yield match
            after = match.end()
        # from the character before: a match ends after its newline, where the next may start
        found = text.find("\n---", after - 1)
        if found == -1:
            return
        line = found + 1


def join_stream(docs: Iterable[Document] | Sequence[Document]) -> str:
    """Join documents into one stream, each preceded by its separator line.

    A document's own separator is kept (so a stream split by :func:`split_stream`
    joins back to the same bytes); only the first document may go without one.
    """
    return "".join(_stream_parts(docs))


def encode_stream(docs: Iterable[Document] | Sequence[Document]) -> bytes:
    """Return :func:`join_stream`'s text as UTF-8, without joining it as one str first.

    One character beyond Latin-1 makes a joined str two or four bytes a
    character, and encoding it back takes the slow path over all of it
    (kube-prometheus-stack: two quotation marks in 5 MB, 10 ms to join and
    encode); each document encoded apart costs that only for its own text.
    An all-ASCII stream is still joined and encoded at once (20,000 small
    documents: 1 ms against 5).
    """
    parts = _stream_parts(docs)
    if all(part.isascii() for part in parts):
        return "".join(parts).encode("ascii")
    return b"".join([part.encode("utf-8") for part in parts])


def _stream_parts(docs: Iterable[Document] | Sequence[Document]) -> list[str]:
    parts: list[str] = []
    for doc in docs:
        parts.append(doc.separator if doc.separator or not parts else "---\n")
        parts.append(doc.text)
    return parts
