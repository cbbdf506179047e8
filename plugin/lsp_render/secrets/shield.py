r"""Texts that came from secrets before the render, which the final scan must not expand.

With ``secrets.resolveInValues`` a secret's value enters the chart through its
values; a value that itself holds ``<path:...>`` (or, in a resource annotated with
``avp.kubernetes.io/path``, ``<key>``) would otherwise be found again in the
rendered manifests and expanded a second time. SPEC 5: a resolved value is never
scanned again. A :class:`Shield` blanks every occurrence of such a text (as
written, and JSON-escaped the way Helm's ``toJson`` writes it) before the scan,
keeping every other character where it was, so the placeholders found are the
template's own and their positions are those of the real text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from lsp_render.secrets.jsonpath import go_json
from lsp_render.secrets.placeholders import PlaceholderSyntaxError, find_placeholders

__all__ = ["Shield"]

_BLANK = "\x00"  # never part of a placeholder's opener or closer


def _holds_placeholder(text: str) -> bool:
    if "<" not in text and "\\u003" not in text:
        return False
    try:
        return bool(find_placeholders(text, generic=True))
    except PlaceholderSyntaxError:
        return True  # a broken one is still not the template's own


@dataclass(frozen=True, slots=True)
class Shield:
    """The secret texts to blank before a scan.

    Attributes
    ----------
    pattern
        Matches any of them (longest first), or ``None`` when there is none.
    """

    pattern: re.Pattern[str] | None = None

    @classmethod
    def of(cls, texts: Collection[str]) -> Shield:
        """Build the shield of the texts that hold a placeholder.

        Parameters
        ----------
        texts
            Strings that came from secrets (others are ignored).

        Returns
        -------
        Shield
            The shield (empty when no text holds a placeholder).
        """
        forms: set[str] = set()
        for text in texts:
            if _holds_placeholder(text):
                forms.add(text)
                forms.add(go_json(text)[1:-1])
        if not forms:
            return cls()
        ordered = sorted(forms, key=len, reverse=True)
        return cls(re.compile("|".join(re.escape(form) for form in ordered)))

    def blank(self, text: str) -> str:
        """Return ``text`` with every shielded occurrence blanked, its length unchanged.

        Parameters
        ----------
        text
            A scalar's value.

        Returns
        -------
        str
            The text to scan for placeholders.
        """
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda match: _BLANK * len(match.group()), text)
