"""The raw-text check that picks the documents which may hold placeholders.

Kept apart from :mod:`.document` (the YAML composer, the modifiers and their
JSONPath engine) so that a stream without placeholders is checked without
importing any of them.
"""

from __future__ import annotations

__all__ = ["ANNOTATION_PREFIX", "is_candidate"]

ANNOTATION_PREFIX = "avp.kubernetes.io/"
# base64 of "<path:" at each of the three byte alignments: "<pa", "ath", "pat".
_BASE64_MARKERS = ("PHBh", "YXRo", "cGF0")


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
    if "<path:" in text or "u003cpath:" in text or "u003Cpath:" in text:
        return True
    if ANNOTATION_PREFIX in text:
        return True
    if "Secret" not in text:
        return False
    if any(marker in text for marker in _BASE64_MARKERS):
        return True
    # base64 wrapped over lines (a ``|`` block) may break a marker at a line end
    if "\n" not in text:
        return False
    compact = "".join(text.split())
    return any(marker in compact for marker in _BASE64_MARKERS)
