"""The raw-text check that picks the documents which may hold placeholders.

Kept apart from :mod:`.document` (the YAML composer, the modifiers and their
JSONPath engine) so that a stream without placeholders is checked without
importing any of them.
"""

from __future__ import annotations

import re

__all__ = ["ANNOTATION_PREFIX", "is_candidate", "remember"]

ANNOTATION_PREFIX = "avp.kubernetes.io/"
# base64 of "<path:" at each of the three byte alignments: "<pa", "ath", "pat".
_BASE64_MARKERS = ("PHBh", "YXRo", "cGF0")
# A marker with any whitespace (what str.split() drops) between its characters: one
# pattern each, so that the regex engine skips ahead to each one's first letter (one
# alternation of the three tried every position: twice as slow over 4.5 MB of CRDs
# whose descriptions say "Secret").
_WRAPPED_MARKERS = tuple(re.compile(r"\s*".join(marker)) for marker in _BASE64_MARKERS)


# Answers worked out ahead (remember), by the identity of the very str they were computed
# for; each is used once. Kept small: what nobody asked for is dropped in a while.
_REMEMBERED: dict[int, tuple[str, bool]] = {}
_REMEMBERED_MAX = 1024


def remember(text: str) -> None:
    """Work out :func:`is_candidate` for ``text`` now (a thread with time to spare).

    The next :func:`is_candidate` call given this very object answers at once.
    """
    if len(_REMEMBERED) >= _REMEMBERED_MAX:
        _REMEMBERED.clear()
    _REMEMBERED[id(text)] = (text, _check(text))


def is_candidate(text: str) -> bool:
    """Tell from the raw text whether a document may hold placeholders (no false negatives).

    Parameters
    ----------
    text
        The document's text.

    Returns
    -------
    bool
        ``True`` when it names a placeholder, an AVP annotation, or is a Secret
        with base64 that may encode ``<path:``.
    """
    known = _REMEMBERED.pop(id(text), None)  # held there, no other str has that id
    if known is not None:
        return known[1]
    return _check(text)


def _check(text: str) -> bool:
    if "<path:" in text or ("u003" in text and ("u003cpath:" in text or "u003Cpath:" in text)):
        return True
    if ANNOTATION_PREFIX in text:
        return True
    if "Secret" not in text:
        return False
    # base64 wrapped over lines (a ``|`` block) may break a marker at a line end: the
    # markers with blanks allowed between their characters, C-level scans
    return any(marker.search(text) is not None for marker in _WRAPPED_MARKERS)
