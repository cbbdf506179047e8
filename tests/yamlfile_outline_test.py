"""outline_stream: the composed fast path and the event pass outline every stream alike."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lsp_render.core.yamlfile import AliasBombError, outline_stream
from tests.cli_helpers import base_env

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


def _big_stream(seed: int) -> str:
    """About 1.5 MB of valid documents of every shape, many of them separated by ``---``."""
    rng = random.Random(seed)
    shapes = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{n}\ndata:\n  k: |\n    ---x\n",
        "- {n}\n- b\n",
        "kind: B\n---x: {n}\n",  # a line that starts with --- but is a key
        "kind: B\n---x: {n}\n",
        "# only a comment {n}\n",
        "plain {n}\n",
        "{{apiVersion: v1, kind: A, n: {n}}}\n",
        "",
    )
    return "---\n" + "---\n".join(rng.choice(shapes).format(n=n) for n in range(40_000))


_HALVES_PROBE = """
import json, os, sys
from lsp_render.core import yamlfile
text = open(sys.argv[1], encoding="utf-8").read()
forks = []
real_fork = os.fork
def counting_fork():
    forks.append(1)
    return real_fork()
os.fork = counting_fork
same = yamlfile.outline_stream(text) == yamlfile._outline_composed(text)
print(json.dumps({"same": same, "forks": len(forks)}))
"""


def test_a_big_stream_is_outlined_in_two_processes_exactly_as_in_one(tmp_path: Path) -> None:
    """In a fresh interpreter: with other threads running (pytest's may) nothing is forked."""
    # the middle falls inside a document whose keys start lines with "---": no cut there
    keys = "kind: B\n" + "".join(f"---k{i}: 1\n" for i in range(50_000))
    text = _big_stream(3) + "---\n" + keys + _big_stream(5)
    assert len(text) > 1 << 20
    assert text.find("\n---k", len(text) // 2 - 100_000) < len(text) // 2
    stream = tmp_path / "stream.yaml"
    stream.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _HALVES_PROBE, str(stream)],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(proc.stdout) == {"same": True, "forks": 1}


@pytest.mark.parametrize("where", [0.25, 0.75], ids=["first-half", "second-half"])
def test_an_error_in_either_half_is_reported_at_its_line(where: float) -> None:
    text = _big_stream(4)
    at = text.index("\n---\n", int(len(text) * where)) + 1
    broken = text[:at] + "---\nkey: [unclosed\n" + text[at:]
    line = broken.count("\n", 0, at) + 3  # where libyaml finds the flow sequence unclosed
    with pytest.raises(yaml.YAMLError) as caught:
        outline_stream(broken)
    mark = getattr(caught.value, "problem_mark", None)
    assert mark is not None
    assert mark.line + 1 == line
