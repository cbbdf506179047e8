"""The raw-text pre-check finds every document that may hold a placeholder.

Its answers are compared with the plain definition (a substring or a marker
with blanks between its letters, by one alternation over the whole text) on
the forms a placeholder takes and on generated texts.
"""

from __future__ import annotations

import base64
import random
import re

import pytest

from lsp_render.secrets.scan import is_candidate

_MARKERS = ("PHBh", "YXRo", "cGF0")
_DEFINITION = re.compile("|".join(r"\s*".join(m) for m in _MARKERS))


def _by_definition(text: str) -> bool:
    if any(s in text for s in ("<path:", "u003cpath:", "u003Cpath:", "avp.kubernetes.io/")):
        return True
    return "Secret" in text and _DEFINITION.search(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "data:\n  k: <path:secret/a#b>\n",
        'data:\n  k: "\\u003cpath:secret/a#b\\u003e"\n',
        'data:\n  k: "\\u003Cpath:secret/a#b\\u003E"\n',
        "metadata:\n  annotations:\n    avp.kubernetes.io/path: secret/a\n",
    ],
)
def test_placeholders_and_annotations_are_candidates(text: str) -> None:
    assert is_candidate(text)


@pytest.mark.parametrize("pad", ["", "x", "xy"])
def test_a_secrets_base64_placeholder_wrapped_at_every_letter_is_a_candidate(pad: str) -> None:
    """Each of the three alignments of ``<path:`` in base64, broken by a line end anywhere."""
    encoded = base64.b64encode(f"{pad}<path:secret/a#b>".encode()).decode()
    for cut in range(1, len(encoded)):
        wrapped = f"{encoded[:cut]}\n    {encoded[cut:]}"
        text = f"kind: Secret\ndata:\n  k: |\n    {wrapped}\n"
        assert is_candidate(text), (pad, cut)


def test_other_documents_are_not() -> None:
    assert not is_candidate("kind: ConfigMap\ndata:\n  k: path: x\n")
    assert not is_candidate("kind: Secret\ndata:\n  k: aGVsbG8=\n")


def test_answers_equal_the_definition_on_generated_texts() -> None:
    pieces = ["Secret", "kind: ", "P", "H", "B", "h", "Y", "X", "R", "o", "c", "G", "F", "0"]
    pieces += [" ", "\n", "\t", "<path:", "u003c", "u003C", "path:", "avp.kubernetes.io/", "a"]
    rnd = random.Random(11)
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 16)))
        assert is_candidate(text) == _by_definition(text), repr(text)
