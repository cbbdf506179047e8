"""The placeholder grammar and the modifiers, with AVP's own modifier expectations.

The modifier cases mirror ``pkg/kube/modifiers_test.go`` of argoproj-labs/argocd-vault-plugin
(same inputs and results); where lsp-render deliberately differs (``indent`` keeps blank
lines, ``base64decode`` reports bad input) the test says so.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lsp_render.secrets.modifiers import ModifierError, apply_modifiers, parse_modifier
from lsp_render.secrets.placeholders import (
    PlaceholderSyntaxError,
    find_placeholders,
    might_hold_placeholder,
)


def _mod(value: Any, *segments: str) -> Any:
    return apply_modifiers(value, [parse_modifier(segment) for segment in segments])


# ------------------------------------------------------------------ grammar


def test_inline_forms() -> None:
    (first, second) = find_placeholders(
        "a <path:secret/data/app#key> b <path:kv/app# spaced key #3>", generic=False
    )
    assert (first.path, first.key, first.version) == ("secret/data/app", "key", None)
    assert (first.start, first.end) == (2, 28)
    assert (second.path, second.key, second.version) == ("kv/app", "spaced key", "3")
    assert second.label == "<path:kv/app#spaced key#3>"


def test_several_per_string_and_non_greedy() -> None:
    found = find_placeholders("postgres://<user>:<pass>@db/<db>", generic=True)
    assert [p.key for p in found] == ["user", "pass", "db"]
    assert all(p.path is None for p in found)


def test_generic_only_when_asked() -> None:
    assert find_placeholders("<html> <b>", generic=False) == []
    assert [p.key for p in find_placeholders("<html> <b>", generic=True)] == ["html", "b"]
    assert not might_hold_placeholder("<html>", generic=False)
    assert might_hold_placeholder("<html>", generic=True)


def test_modifiers_are_parsed_in_order_with_arguments() -> None:
    (found,) = find_placeholders(
        "<path:a/b#c | jsonPath {.x[?(@.n>1)].y} | base64encode|indent  4>", generic=False
    )
    assert [m.name for m in found.modifiers] == ["jsonPath", "base64encode", "indent"]
    assert found.modifiers[0].argument == "{.x[?(@.n>1)].y}"
    assert found.modifiers[2].width == 4


def test_pipe_and_angle_inside_a_jsonpath_template_do_not_split() -> None:
    (found,) = find_placeholders("<path:a#b | jsonPath {'|'}{.a}{\">\"}>!", generic=False)
    assert found.modifiers[0].argument == "{'|'}{.a}{\">\"}"
    assert found.text.endswith('"}>')


def test_generic_placeholders_do_not_span_lines_but_inline_ones_may() -> None:
    assert find_placeholders("<a\nb>", generic=True) == []
    (found,) = find_placeholders("<path:a#b | jsonPath {.x}\n{.y}>", generic=False)
    assert found.modifiers[0].argument == "{.x}\n{.y}"


def test_json_escaped_placeholders() -> None:
    text = '{"a":"\\u003cpath:kv/a#k | jsonPath {.\\"x\\"}\\u003e","b":"\\u003CPATH"}'
    (found,) = find_placeholders(text, generic=False)
    assert found.escaped
    assert (found.path, found.key) == ("kv/a", "k")
    assert found.modifiers[0].argument == '{."x"}'
    assert text[found.start : found.end] == found.text


def test_unterminated_path_is_prose() -> None:
    assert find_placeholders("see <path: in the docs", generic=False) == []
    assert find_placeholders("a <path:with spaces#k", generic=False) == []


@pytest.mark.parametrize("text", ["<path:secret/x#k", "pw=<path:kv/a#b#2 | base64encode"])
def test_placeholder_that_lost_its_closing_bracket_is_an_error(text: str) -> None:
    with pytest.raises(PlaceholderSyntaxError, match="unterminated placeholder"):
        find_placeholders(text, generic=False)


@pytest.mark.parametrize(
    "text",
    [
        "<path:kv/a>",
        "<path:#k>",
        "<path:kv/a#>",
        "<path:kv/a#k#1#2>",
        "<path:kv/a#k | frobnicate>",
        "<path:kv/a#k |>",
        "<path:kv/a#k | jsonPath {.a>",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(PlaceholderSyntaxError):
        find_placeholders(text, generic=False)


# ------------------------------------------------------------------ modifiers (AVP's cases)


def test_jsonpath_modifier() -> None:
    data = {"data": {"subkey": "secret"}}
    assert _mod(data, "jsonPath {.data.subkey}") == "secret"
    assert _mod('{"data": {"subkey": "secret"}}', "jsonPath {.data.subkey}") == "secret"
    with pytest.raises(ModifierError, match="missingPath is not found"):
        _mod(data, "jsonPath {.missingPath}")
    with pytest.raises(ModifierError, match="not valid JSON"):
        _mod("hi, how are you", "jsonPath {.data.subkey}")
    with pytest.raises(ValueError, match="unrecognized character in action: U\\+0021"):
        parse_modifier("jsonPath {!invalidPath}")
    with pytest.raises(ValueError, match="invalid parameters"):
        parse_modifier("jsonPath")


def test_multi_line_jsonpath_template_keeps_its_text() -> None:
    users = '{"users": [{"name": "a", "pw": "1"}, {"name": "b", "pw": "2"}]}'
    template = "jsonPath {range .users[*]}{.name}={.pw}\n{end}"
    assert _mod(users, template) == "a=1\nb=2\n"


def test_base64_modifiers() -> None:
    assert _mod("mysecret", "base64encode") == "bXlzZWNyZXQ="
    assert _mod("bXlzZWNyZXQ=", "base64decode") == "mysecret"
    assert _mod("bXlz\nZWNy\r\nZXQ=", "base64decode") == "mysecret"  # Go skips line breaks
    with pytest.raises(ValueError, match="invalid parameters"):
        parse_modifier("base64encode astring")
    with pytest.raises(ValueError, match="invalid parameters"):
        parse_modifier("base64decode astring")
    with pytest.raises(ModifierError, match="invalid datatype map"):
        _mod({"data": {"subkey": "secret"}}, "base64encode")
    with pytest.raises(ModifierError, match="invalid datatype map"):
        _mod({"data": {"subkey": "secret"}}, "base64decode")
    # AVP ignores decode errors and yields garbage; lsp-render reports them
    with pytest.raises(ModifierError, match="not valid base64"):
        _mod("not base64!", "base64decode")
    with pytest.raises(ModifierError, match="not valid base64"):
        _mod(base64.b64encode(b"\xff\xfe").decode(), "base64decode")


def test_json_and_yaml_parse() -> None:
    assert _mod('{"data": {"subkey": "secret"}}', "jsonParse") == {"data": {"subkey": "secret"}}
    with pytest.raises(ModifierError, match="not valid JSON"):
        _mod("hello", "jsonParse")
    with pytest.raises(ValueError, match="invalid parameters"):
        parse_modifier("jsonParse astring")
    with pytest.raises(ModifierError, match="invalid datatype map"):
        _mod({"a": 1}, "jsonParse")
    assert _mod("data: secret", "yamlParse") == {"data": "secret"}
    assert _mod("---\nkey1: secret1\nkey2: secret2", "yamlParse", "jsonPath {.key2}") == "secret2"
    assert _mod("2: a\nwhen: 2024-01-02\ntrue: x", "yamlParse") == {
        "2": "a",
        "when": "2024-01-02",
        "true": "x",
    }
    with pytest.raises(ModifierError, match="not valid YAML at line 2"):
        _mod("a: [", "yamlParse")


def test_indent() -> None:
    assert _mod("a\nmulti-line\nstring", "indent 3") == "a\n   multi-line\n   string"
    assert _mod("a-string", "indent 10") == "a-string"
    # lsp-render keeps blank lines empty and inner indentation (AVP drops and trims them)
    assert _mod("a\n\n  b\n   \nc\n", "indent 2") == "a\n\n    b\n\n  c\n"
    with pytest.raises(ValueError, match="invalid indentation level"):
        parse_modifier("indent ten")
    with pytest.raises(ValueError, match="invalid parameters"):
        parse_modifier("indent 10 10")


def test_sha256sum() -> None:
    assert (
        _mod("test-password", "sha256sum")
        == "c638833f69bbfb3c267afa0a74434812436b8f08a81fd263c6be6871de4f1265"
    )
    with pytest.raises(ModifierError, match="expected string"):
        _mod(5, "sha256sum")


def test_modifier_errors_hold_no_value() -> None:
    secret = "top-secret-value"
    for segments in (("jsonParse",), ("base64decode",), ("yamlParse", "jsonPath {.a.b}")):
        with pytest.raises(ModifierError) as caught:
            _mod(secret + ": [ {", *segments)
        assert secret not in str(caught.value)
