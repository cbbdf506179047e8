"""Substitution never ships wrong output with exit 0 (issue 11, cases 1, 3 and 4).

Every output here is read back by PyYAML and by go-yaml (``kubectl kustomize``,
the parser Argo CD uses): "Argo CD can parse it" is decided by Go's parser, not by
ours. The secrets come from the real file backend.
"""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsp_render.core.context import AppInfo, RenderRequest, SecretOptions
from lsp_render.core.errors import ExitCode, InputError, LspRenderError
from lsp_render.core.manifests import join_stream, split_stream
from lsp_render.secrets import substitute_documents
from tests.goyaml import go_yaml_objects


def _render(text: str, secrets: dict[str, dict[str, Any]], tmp_path: Path) -> str:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(secrets), encoding="utf-8")  # JSON: exact values
    request = RenderRequest(
        app_dir=tmp_path,
        repo_root=tmp_path,
        app=AppInfo("app"),
        secrets=SecretOptions(secrets_file=secrets_file),
        environ={},
    )
    docs = substitute_documents(split_stream(text, "manifests.yaml"), request)
    return join_stream(docs)


def _both(out: str, tmp_path: Path) -> tuple[list[Any], list[Any]]:
    """Return the objects as PyYAML and as go-yaml read them."""
    return (
        [d for d in yaml.safe_load_all(out) if d is not None],
        go_yaml_objects(out, tmp_path / "kustomize"),
    )


# ------------------------------------------------ case 1: remove-missing, flow maps


REMOVE_MISSING = """\
apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    avp.kubernetes.io/path: secret/app
    avp.kubernetes.io/remove-missing: "true"
{body}
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('data: {A: "<secret>", B: "<nope>", C: "<nope2>"}', {"A": "czNjcjN0"}),
        ('data: {B: "<nope>", C: "<nope2>", A: "<secret>"}', {"A": "czNjcjN0"}),
        ('data: {B: "<nope>", A: "<secret>", C: "<nope2>"}', {"A": "czNjcjN0"}),
        ("data: {B: <nope>, C: <nope2>, D: <nope3>}", {}),
        ("data: {B: <nope>, C: <nope2>,}", {}),
        ("data: {A: <secret>, B: <nope>, C: <nope2>,}", {"A": "czNjcjN0"}),
        (
            "data: {A: <secret>, B: <nope>, K: x, C: <nope2>, D: <nope3>}",
            {"A": "czNjcjN0", "K": "x"},
        ),
        (
            "data: {\n  B: <nope>,   # gone\n  A: <secret>,\n"
            "  C: <nope2>, # gone too\n  D: <nope3>\n}",
            {"A": "czNjcjN0"},
        ),
        ("data:\n  B: <nope>\n  C: <nope2>\n  A: <secret>\n  D: <nope3>", {"A": "czNjcjN0"}),
    ],
    ids=[
        "first-kept",
        "last-kept",
        "middle-kept",
        "all",
        "trailing-comma",
        "tail-run",
        "two-runs",
        "multi-line",
        "block",
    ],
)
def test_case1_remove_missing_adjacent_keys_in_flow_maps(
    body: str, expected: dict[str, str], tmp_path: Path
) -> None:
    out = _render(
        REMOVE_MISSING.format(body=body), {"secret/app": {"secret": "czNjcjN0"}}, tmp_path
    )
    py, go = _both(out, tmp_path)
    assert py[0].get("data") == expected
    assert (go[0].get("data") or {}) == expected


def test_case1_remove_missing_refuses_an_aliased_entry(tmp_path: Path) -> None:
    body = "data: {A: &a <nope>, B: x}\nstringData: {C: *a}"
    with pytest.raises(InputError, match=r"cannot remove data\.A .*alias"):
        _render(REMOVE_MISSING.format(body=body), {"secret/app": {"k": "v"}}, tmp_path)


# ------------------------------------------------ case 3: wrapped base64 in Secret data


def test_case3_wrapped_base64_in_secret_data_is_substituted(tmp_path: Path) -> None:
    inner = "user: admin\npassword: <path:secret/app#password>\n" + "# padding line\n" * 8
    encoded = base64.encodebytes(inner.encode()).decode()  # wrapped at 76, as base64(1) does
    assert encoded.count("\n") > 2
    block = textwrap.indent(encoded, "    ")
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  config: |\n{block}"
    out = _render(text, {"secret/app": {"password": "hunter2"}}, tmp_path)
    py, go = _both(out, tmp_path)
    want = inner.replace("<path:secret/app#password>", "hunter2")
    assert base64.b64decode(py[0]["data"]["config"]) == want.encode()
    assert base64.b64decode(go[0]["data"]["config"]) == want.encode()


def test_case3_base64_that_go_refuses_stays_as_it_is(tmp_path: Path) -> None:
    # a blank inside is not skipped by Go's StdEncoding: not base64, so nothing to decode
    encoded = base64.b64encode(b"<path:secret/app#password>").decode()
    broken = encoded[:8] + " " + encoded[8:]
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: {broken}\n"
    out = _render(text, {"secret/app": {"password": "hunter2"}}, tmp_path)
    assert yaml.safe_load(out)["data"]["k"] == broken


# ------------------------------------------------ case 4: output Argo CD can parse


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  block: <path:secret/app#value>
  quoted: "<path:secret/app#value>"
  single: '<path:secret/app#value>'
  literal: |
    <path:secret/app#value>
  flow: {a: <path:secret/app#value>}
"""


@pytest.mark.parametrize(
    "value",
    ["\tstarts with a tab", "\tline one\n\tline two\n", "a\n\tb", "a\u2028b", "x\u2029", "\t"],
    ids=["tab", "tab-lines", "inner-tab", "u2028", "u2029", "only-tab"],
)
def test_case4_strings_use_a_style_go_yaml_accepts(value: str, tmp_path: Path) -> None:
    out = _render(CONFIGMAP, {"secret/app": {"value": value}}, tmp_path)
    py, go = _both(out, tmp_path)
    data = py[0]["data"]
    assert data["block"] == data["quoted"] == data["single"] == value
    assert data["literal"] == value + "\n"  # the block's own line break stays
    assert data["flow"] == {"a": value}
    assert go[0]["data"] == py[0]["data"]


@pytest.mark.parametrize("value", ["a\x85b", "\x85", "a\x7fb", "\x00\x1b[0m"], ids=range(4))
def test_case4_nel_and_controls_are_escaped_in_double_quotes(value: str, tmp_path: Path) -> None:
    """The oracles' limits: check the escape and PyYAML's reading instead of Kustomize's."""
    out = _render(CONFIGMAP, {"secret/app": {"value": value}}, tmp_path)
    assert "\x85" not in out
    assert "\x7f" not in out
    assert "\x00" not in out
    py = yaml.safe_load(out)["data"]
    assert py["block"] == py["quoted"] == py["single"] == value
    assert py["literal"] == value + "\n"
    assert py["flow"] == {"a": value}
    escaped = json.dumps(value)[1:-1].replace("\x7f", "\\u007f").replace("\x85", "\\u0085")
    assert f'quoted: "{escaped}"' in out


THING = "apiVersion: v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n"


def test_case4_json_parse_never_writes_raw_controls(tmp_path: Path) -> None:
    secret = json.dumps({"del": "a\x7fb", "nel": "x\x85y", "ls": "\u2028", "c1": "\x9b"})
    text = THING + "  obj: <path:secret/app#j | jsonParse>\n"
    out = _render(text, {"secret/app": {"j": secret}}, tmp_path)
    for raw in ("\x7f", "\x85", "\u2028", "\x9b"):
        assert raw not in out
    assert yaml.safe_load(out)["spec"]["obj"] == json.loads(secret)


def test_case4_yaml_parse_keeps_infinity_and_timestamps(tmp_path: Path) -> None:
    secret = (
        "inf: .inf\nneg: -.Inf\nnan: .nan\nwhen: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\n"
    )
    text = THING + "  v: <path:secret/app#y | yamlParse>\n  i: <path:secret/app#i | yamlParse>\n"
    out = _render(text, {"secret/app": {"y": secret, "i": ".inf"}}, tmp_path)
    spec = yaml.load(out, Loader=yaml.BaseLoader)["spec"]  # noqa: S506 - untyped text
    assert spec["v"] == {
        "inf": ".inf",
        "neg": "-.inf",
        "nan": ".nan",
        "when": "2001-12-14t21:59:43.10-05:00",
        "day": "2002-12-14",
    }
    assert spec["i"] == ".inf"
    typed = yaml.safe_load(out)["spec"]
    assert typed["i"] == float("inf")
    assert typed["v"]["when"] == "2001-12-14t21:59:43.10-05:00"  # a string, not a datetime


@pytest.mark.parametrize(
    "secret",
    ["&a [*a]", "&a {x: *a}", "a: &a [1, {b: *a}]"],
    ids=["list", "map", "nested"],
)
def test_case4_yaml_parse_of_a_self_referencing_alias_is_exit_2(
    secret: str, tmp_path: Path
) -> None:
    text = THING + "  v: <path:secret/app#y | yamlParse>\n"
    with pytest.raises(LspRenderError) as caught:
        _render(text, {"secret/app": {"y": secret}}, tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    message = str(caught.value)
    assert "<path:secret/app#y>" in message
    assert "alias" in message
    assert secret not in message


def test_case4_yaml_parse_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = THING + "  v: <path:secret/app#y | yamlParse>\n"
    with pytest.raises(LspRenderError) as caught:
        _render(text, {"secret/app": {"y": "\n".join(lines)}}, tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "nodes" in str(caught.value)


def test_case3_a_marker_broken_by_the_wrapping_is_still_found(tmp_path: Path) -> None:
    """Wrapped at a width that is no multiple of 4 (``fold -w 70``), a marker can break."""
    placeholder = "<path:secret/app#password>"
    markers = ("PHBh", "YXRo", "cGF0")
    for pad in range(80):
        flat = base64.b64encode(("x" * pad + placeholder).encode()).decode()
        encoded = "".join(flat[i : i + 70] + "\n" for i in range(0, len(flat), 70))
        if not any(m in encoded for m in markers) and any(m in flat for m in markers):
            break
    else:  # pragma: no cover - some padding always splits the marker
        pytest.fail("no padding splits the marker at a line end")
    block = textwrap.indent(encoded, "    ")
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: |\n{block}"
    out = _render(text, {"secret/app": {"password": "hunter2"}}, tmp_path)
    decoded = base64.b64decode(yaml.safe_load(out)["data"]["k"]).decode()
    assert decoded == "x" * pad + "hunter2"


@pytest.mark.parametrize(
    ("modifier", "secret"),
    [
        ("jsonParse", "[" * 100_000 + "]" * 100_000),  # past Python's recursion limit
        ("jsonParse", "[" * 201 + "]" * 201),
        ("yamlParse", "[" * 201 + "]" * 201),
    ],
    ids=["json-huge", "json-201", "yaml-201"],
)
def test_case4_deeply_nested_values_are_exit_2_not_a_crash(
    modifier: str, secret: str, tmp_path: Path
) -> None:
    text = THING + f"  v: <path:secret/app#y | {modifier}>\n"
    with pytest.raises(LspRenderError) as caught:
        _render(text, {"secret/app": {"y": secret}}, tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "deeper than 200 levels" in str(caught.value)
    assert "<path:secret/app#y>" in str(caught.value)


def test_case4_nesting_at_the_limit_renders(tmp_path: Path) -> None:
    text = THING + "  v: <path:secret/app#y | jsonParse>\n"
    out = _render(text, {"secret/app": {"y": "[" * 200 + "]" * 200}}, tmp_path)
    value = yaml.safe_load(out)["spec"]["v"]
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == 200


@pytest.mark.parametrize(
    "body",
    [
        "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: <path:secret/app#y | yamlParse>\n",
        "kind: Thing\nmetadata:\n  name: t\nspec:\n  v: 'x <path:secret/app#y | yamlParse>'\n",
        "kind: Thing\nmetadata:\n  name: t\nspec:\n  v: 'x <path:secret/app#l | yamlParse>'\n",
    ],
    ids=["configmap", "inside-a-string", "list-inside-a-string"],
)
def test_case4_an_infinity_without_a_text_form_is_exit_2(body: str, tmp_path: Path) -> None:
    """Go's JSON has no infinity; where one must become text, refuse (never 'Infinity')."""
    with pytest.raises(LspRenderError) as caught:
        _render(
            "apiVersion: v1\n" + body, {"secret/app": {"y": ".inf", "l": "[1, .nan]"}}, tmp_path
        )
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "<path:secret/app#" in str(caught.value)


def test_case1_remove_missing_in_a_json_document(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "annotations": {
                "avp.kubernetes.io/path": "secret/app",
                "avp.kubernetes.io/remove-missing": "true",
            },
        },
        "data": {"B": "<nope>", "A": "<secret>", "C": "<nope2>", "D": "<nope3>"},
        "stringData": {"E": "<nope>", "F": "<nope2>"},
    }
    out = _render(json.dumps(doc, indent=2), {"secret/app": {"secret": "czNjcjN0"}}, tmp_path)
    py, go = _both(out, tmp_path)
    for obj in (py[0], go[0]):
        assert obj["data"] == {"A": "czNjcjN0"}
        assert not obj.get("stringData")
