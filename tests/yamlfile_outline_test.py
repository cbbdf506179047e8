"""outline_stream: the composed fast path and the event pass outline every stream alike."""

from __future__ import annotations

import random

import pytest
import yaml

from lsp_render.core.yamlfile import AliasBombError, outline_stream

_PIECES = (
    "---", "--- ''", "--- a", "---\n~", "apiVersion: v1", "kind: A", "  nested: 1", "- x",
    "{apiVersion: v1, kind: B}", "? k\n: v", "!tag {kind: C}", "# comment", "", "a: b: c",
    "key: 'open", "[1, 2", "'quoted': 1", "kind: |\n  text",
)  # fmt: skip

# An anchor-looking comment sends a stream through the event pass and changes nothing.
_FORCE_EVENTS = "\n# &events\n"


def _streams(count: int) -> list[str]:
    rng = random.Random(7)
    return ["\n".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 7))) for _ in range(count)]


def _outline(text: str) -> object:
    try:
        # An empty document's line is where its (absent) content would start: after
        # the forcing comment when that comes next. No message ever names it.
        return [
            (o.root, o.keys, None if o.root == "null" else o.line) for o in outline_stream(text)
        ]
    except yaml.YAMLError as exc:
        return (type(exc).__name__, str(exc).split("\n", 1)[0])


def test_the_composed_outline_agrees_with_the_event_outline() -> None:
    for text in _streams(5_000):
        assert _outline(text) == _outline(text + _FORCE_EVENTS), repr(text)


def test_a_stream_with_anchors_still_stops_alias_bombs() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(AliasBombError):
        outline_stream("apiVersion: v1\nkind: A\n" + bomb)
