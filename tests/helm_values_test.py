"""Helm values: value files, -f layering, inline values, --set, null deletion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lsp_render.core.errors import InputError
from lsp_render.sources.helm import render_chart
from lsp_render.sources.helm.values import load_values_file, merge_values
from tests.helm_fixtures import embedded_only, inputs, objects

__all__ = ["embedded_only"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _rendered_values(docs: list[Any]) -> dict[str, Any]:
    for obj in objects(docs):
        if isinstance(obj, dict) and obj["metadata"]["name"] == "capabilities":
            values: dict[str, Any] = json.loads(obj["data"]["values.json"])
            return values
    raise AssertionError("no capabilities ConfigMap")


def test_load_values_file_reads_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path / "v.yaml", "a:\n  b: 1\nwhen: 2024-01-02\neq: =\nempty:\n")
    assert load_values_file(path, label="v.yaml") == {
        "a": {"b": 1},
        "when": "2024-01-02",  # go-yaml keeps timestamps as strings
        "eq": "=",
        "empty": None,
    }
    assert load_values_file(_write(tmp_path / "e.yaml", "# nothing\n"), label="e") == {}


def test_load_values_file_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.yaml", "a: 1\nb: [\n  c: d\n")
    with pytest.raises(InputError) as caught:
        load_values_file(path, label="apps/x/values-dev.yaml")
    message = str(caught.value)
    assert message.startswith("apps/x/values-dev.yaml: invalid YAML at line ")
    assert "\n" not in message


def test_load_values_file_refuses_non_mappings_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^list\.yaml: a value file must hold a mapping"):
        load_values_file(_write(tmp_path / "l.yaml", "- a\n- b\n"), label="list.yaml")
    with pytest.raises(InputError, match=r"^gone\.yaml: cannot read value file"):
        load_values_file(tmp_path / "missing.yaml", label="gone.yaml")


def test_merge_values_is_helms_merge_maps() -> None:
    base = {"m": {"a": 1, "b": {"c": 2}}, "l": [1, 2], "s": "x", "n": {"k": 1}}
    override = {"m": {"b": {"d": 3}, "e": None}, "l": [3], "s": {"now": "map"}, "n": "scalar"}
    merged = merge_values(base, override)
    assert merged == {
        "m": {"a": 1, "b": {"c": 2, "d": 3}, "e": None},
        "l": [3],
        "s": {"now": "map"},
        "n": "scalar",
    }
    assert base == {"m": {"a": 1, "b": {"c": 2}}, "l": [1, 2], "s": "x", "n": {"k": 1}}


@pytest.mark.usefixtures("embedded_only")
def test_files_then_inline_then_set_in_order(tmp_path: Path) -> None:
    first = _write(
        tmp_path / "1.yaml",
        "layered:\n  fromChart: file1\n  file: file1\n  inline: file1\n  set: file1\n"
        "list: [file1]\n",
    )
    second = _write(tmp_path / "2.yaml", "layered:\n  file: file2\n  deleted: null\n")
    docs = render_chart(
        inputs(
            "lsp-order",
            value_files=(first, second),
            values={"layered": {"inline": "inline", "set": "inline"}},
            set_values=(
                "layered.set=set,typed.int=1,typed.bool=true,typed.str=x",
                "layered.nested.keep=null,typed.list={a,b}",
                "typed.int=2",
            ),
        )
    )
    values = _rendered_values(docs)
    assert values["layered"] == {
        "fromChart": "file1",
        "file": "file2",
        "inline": "inline",
        "set": "set",
        "nested": {},
    }
    assert values["list"] == ["file1"]
    assert values["typed"] == {"int": 2, "bool": True, "str": "x", "list": ["a", "b"]}


@pytest.mark.usefixtures("embedded_only")
def test_inline_null_deletes_a_chart_default() -> None:
    docs = render_chart(inputs("lsp-order", values={"list": None, "hookSecret": None}))
    values = _rendered_values(docs)
    assert "list" not in values
    # the hook Secret is guarded by hookSecret, deleted along with it
    assert "hook-secret" not in {o["metadata"]["name"] for o in objects(docs) if o}


@pytest.mark.usefixtures("embedded_only")
def test_malformed_set_is_an_input_error() -> None:
    with pytest.raises(InputError) as caught:
        render_chart(inputs("lsp-order", set_values=("ok=1", "a.b")))
    assert str(caught.value) == (
        "chart lsp-order: failed parsing --set 'a.b=...': key \"b\" has no value"
    )


@pytest.mark.usefixtures("embedded_only")
def test_bad_value_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    bad = _write(tmp_path / "values-bad.yaml", "a: 1\n  b: 2\n")
    with pytest.raises(InputError) as caught:
        render_chart(inputs("lsp-order", value_files=(bad,)))
    assert str(caught.value).startswith(f"{bad}: invalid YAML at line 2: ")


@pytest.mark.usefixtures("embedded_only")
def test_inline_values_may_be_any_mapping() -> None:
    from types import MappingProxyType

    inline = MappingProxyType({"layered": MappingProxyType({"inline": ("a", {"b": 1})})})
    values = _rendered_values(render_chart(inputs("lsp-order", values=inline)))
    assert values["layered"]["inline"] == ["a", {"b": 1}]


def test_value_files_are_read_by_helms_own_reader(tmp_path: Path) -> None:
    text = (
        "window: 2:30\nexp: 5e3\noct: 0o10\nkeys: {y: 1, n: 2, on: 3}\n"
        "bin: !!binary aGk=\n---\nlater: doc\n"
    )
    assert load_values_file(_write(tmp_path / "v.yaml", text), label="v") == {
        "window": "2:30",
        "exp": 5000,
        "oct": 8,
        "keys": {"true": 3, "false": 2},
        "bin": "hi",
        "later": "doc",
    }


def test_value_file_faults_are_input_errors_naming_the_file(tmp_path: Path) -> None:
    from lsp_render.sources.helm.values import MAX_VALUE_FILE_BYTES

    cases = {
        b"a: \xff\n": r"^bad: invalid YAML: yaml: invalid leading UTF-8 octet$",
        b"a: 1\n--- x\n": r"^bad: invalid YAML: error reading yaml document: invalid Yaml",
        b"a: 1\n---\n- x\n": r"^bad: a value file must hold a mapping at the top level, not a arr",
        b"k: " + b"x" * MAX_VALUE_FILE_BYTES: r"^bad: value file larger than 5 MiB$",
    }
    for data, pattern in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_bytes(data)
        with pytest.raises(InputError, match=pattern):
            load_values_file(path, label="bad")


def test_a_value_file_is_parsed_once_and_never_changed_by_set() -> None:
    """render-all reads an app's values.yaml once per environment: Helm's answer is reused."""
    from lsp_render.sources.helm.values import apply_set_values, parse_values_here

    data = b"a:\n  b: 1\nl: [x, w]\n"
    first = parse_values_here(data, "v")
    assert parse_values_here(bytes(bytearray(data)), "v") is first
    out = apply_set_values(first, ("a.b=2,l[1]=z", "c=3"), chart="c")
    assert out == {"a": {"b": 2}, "l": ["x", "z"], "c": 3}
    assert parse_values_here(data, "v") == {"a": {"b": 1}, "l": ["x", "w"]}
    assert parse_values_here(b"a: 2\n", "v") == {"a": 2}
