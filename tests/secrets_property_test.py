"""Generated secret values through every placeholder position read back exactly (issue 11, 8).

Hypothesis draws batches of values built from the characters and fragments that
break YAML writers: C0 controls, DEL, NEL, U+2028/U+2029, BOM, quotes, ``: ``,
``#``, ``---``, indicators, leading and trailing blanks and tabs, YAML 1.1
keywords, long lines. Each batch goes through every position a placeholder can
stand in (block scalars of every style, flow mappings, block and flow sequences,
a JSON document, base64 in a Secret's ``data``, ``stringData``, the middle of a
string), with the real file backend, and two parsers must read back the exact
value: PyYAML, and go-yaml through ``kubectl kustomize`` (what Argo CD uses), run
once per batch.

The oracles' limits: Kustomize refuses to re-emit DEL, C1 controls and U+FFFE/FFFF
even when they are correctly escaped ("control characters are not allowed"), and
it writes a NEL raw, which PyYAML then reads as a line break. A value holding one
of those is checked instead for being written as escapes in a double-quoted
scalar, and for PyYAML reading it back exactly.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lsp_render.core.context import AppInfo, RenderRequest, SecretOptions
from lsp_render.core.manifests import join_stream, split_stream
from lsp_render.secrets import substitute_documents
from tests.goyaml import go_yaml_objects

FRAGMENTS = [
    "\t", "\n", "\r", "\r\n", "\x00", "\x07", "\x0b", "\x1b[0m", "\x7f", "\x85", "\x9b",
    "\u2028", "\u2029", "\ufeff", "\ufffe", "'", '"', "\\", "\\n", ": ", " #", "#", "---",
    "...", "- ", "? ", "{", "}", "[", "]", ",", "&a", "*a", "!tag", "|", ">", "%", "@", "`",
    "true", "null", "~", "1e3", "0x1F", "0o7", ".inf", "-.Inf", "2001-12-14", "12:30:00",
    "<", "<b>", "é", "中文", "\U0001f600", " ", "  ", "\t ", "x" * 300, "\n\n", " \n",
]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
VALUE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), TEXT), max_size=8).map("".join)
BATCH = st.lists(VALUE, min_size=40, max_size=60)


_UNSAFE_IN_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _limited(value: str) -> bool:
    """Tell whether a value holds what one of the two oracles cannot check."""
    return any(char in "\x7f\x85\ufffe\uffff" or "\x80" <= char <= "\x9f" for char in value)


def _placeholder(index: int) -> str:
    return f"<path:secret/app#v{index}>"


def _block(name: str, kind: str, field: str, line: Callable[[int], str], count: int) -> str:
    body = "".join(line(i) for i in range(count))
    return f"apiVersion: {kind}\nmetadata:\n  name: {name}\n{field}:\n{body}"


THING = "example.com/v1\nkind: Thing"
SECRET = "v1\nkind: Secret"


def _stream(count: int) -> str:
    """One document per position, each holding every value of the batch."""
    ph = _placeholder
    docs = [
        _block("plain", THING, "spec", lambda i: f"  v{i}: {ph(i)}\n", count),
        _block("double", THING, "spec", lambda i: f'  v{i}: "{ph(i)}"\n', count),
        _block("single", THING, "spec", lambda i: f"  v{i}: '{ph(i)}'\n", count),
        _block("literal", THING, "spec", lambda i: f"  v{i}: |-\n    {ph(i)}\n", count),
        _block("folded", THING, "spec", lambda i: f"  v{i}: >-\n    {ph(i)}\n", count),
        _block("middle", THING, "spec", lambda i: f'  v{i}: "pre {ph(i)} post"\n', count),
        _block("sequence", THING, "spec", lambda i: f"  - {ph(i)}\n", count),
        f"apiVersion: {THING}\nmetadata: {{name: flowmap}}\nspec: {{"
        + ", ".join(f"v{i}: {ph(i)}" for i in range(count))
        + "}\n",
        f"apiVersion: {THING}\nmetadata: {{name: flowseq}}\nspec: ["
        + ", ".join(ph(i) for i in range(count))
        + "]\n",
        json.dumps(
            {
                "apiVersion": "example.com/v1",
                "kind": "Thing",
                "metadata": {"name": "json"},
                "spec": {f"v{i}": ph(i) for i in range(count)},
            },
            indent=2,
        )
        + "\n",
        _block(
            "data",
            SECRET,
            "data",
            lambda i: f"  v{i}: {base64.b64encode(ph(i).encode()).decode()}\n",
            count,
        ),
        _block("stringdata", SECRET, "stringData", lambda i: f"  v{i}: {ph(i)}\n", count),
    ]
    return "---\n".join(docs)


def _values_of(obj: dict[str, Any], count: int) -> list[str]:
    """Return the batch as one object holds it."""
    name = obj["metadata"]["name"]
    if name == "data":
        return [base64.b64decode(obj["data"][f"v{i}"]).decode("utf-8") for i in range(count)]
    if name == "stringdata":
        return [obj["stringData"][f"v{i}"] for i in range(count)]
    spec = obj["spec"]
    if isinstance(spec, list):
        return list(spec)
    found = [spec[f"v{i}"] for i in range(count)]
    if name == "middle":
        return [text.removeprefix("pre ").removesuffix(" post") for text in found]
    return found


def _render(values: list[str], tmp_path: Path) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    secrets = tmp_path / "secrets.json"
    data = {f"v{i}": value for i, value in enumerate(values)}
    # JSON is read as YAML: raw line breaks and non-printables other than C0 must be
    # escapes (PyYAML refuses them raw), and astral characters raw (it does not join
    # surrogate-pair escapes)
    text = json.dumps({"secret/app": data}, ensure_ascii=False)
    secrets.write_text(_UNSAFE_IN_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", text))
    request = RenderRequest(
        app_dir=tmp_path,
        repo_root=tmp_path,
        app=AppInfo("app"),
        secrets=SecretOptions(secrets_file=secrets),
        environ={},
    )
    docs = split_stream(_stream(len(values)), "positions.yaml")
    return join_stream(substitute_documents(docs, request))


def _check_pyyaml(out: str, values: list[str]) -> None:
    objects = [obj for obj in yaml.safe_load_all(out) if obj is not None]
    assert len(objects) == 12
    for obj in objects:
        assert _values_of(obj, len(values)) == values, obj["metadata"]["name"]


def _check_escaped(out: str, values: list[str]) -> None:
    """Every limited character is written as an escape, inside double quotes."""
    for char in {char for value in values for char in value if _limited(char)}:
        assert char not in out, repr(char)
    for root in yaml.compose_all(out, Loader=yaml.SafeLoader):
        for node in _scalars(root):
            if _limited(node.value):
                assert node.style == '"', (node.start_mark.line, node.style)


def _scalars(node: yaml.Node) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    out: list[yaml.ScalarNode] = []
    for item in node.value:
        for part in item if isinstance(item, tuple) else (item,):
            out.extend(_scalars(part))
    return out


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,  # nothing written into the checkout
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each run starts Kustomize
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(BATCH)
def test_case8_every_position_reads_back_every_value(values: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lsp-render-prop-") as scratch:
        tmp_path = Path(scratch)
        full = [value for value in values if not _limited(value)]
        limited = [value for value in values if _limited(value)]
        if full:
            out = _render(full, tmp_path / "full")
            _check_pyyaml(out, full)
            go = go_yaml_objects(out, tmp_path / "kustomize")
            assert len(go) == 12
            for obj in go:
                assert _values_of(obj, len(full)) == full, obj["metadata"]["name"]
        if limited:
            out = _render(limited, tmp_path / "limited")
            _check_pyyaml(out, limited)
            _check_escaped(out, limited)
