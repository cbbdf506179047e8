"""Substitution through the public facade: passthrough, formatting, safety, dedup, masking, errors.

The backend is either the real file backend or ``CountingBackend``, a test double
of the *backend protocol* (``SecretBackend``) that records what it is asked; the
code under test (scan, plan, policy, resolve, edit) is always the real one.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from lsp_render.core.context import AppInfo, RenderRequest, SecretOptions
from lsp_render.core.errors import (
    BackendUnavailableError,
    ExitCode,
    InputError,
    LspRenderError,
    PolicyError,
    SecretError,
)
from lsp_render.core.manifests import Document, join_stream, split_stream
from lsp_render.secrets import resolve_values, substitute_documents
from lsp_render.secrets.backend import SecretRef, SecretResult

SECRET = "s3cr3t-Value"


class CountingBackend:
    """A backend-protocol double: serves ``data`` and records every ``read``."""

    def __init__(self, data: Mapping[str, Mapping[str, Any] | str]) -> None:
        self.data = data
        self.reads: list[set[SecretRef]] = []
        self.closed = 0

    def read(self, refs: Collection[SecretRef]) -> dict[SecretRef, SecretResult]:
        self.reads.append(set(refs))
        out = {}
        for ref in refs:
            entry = self.data.get(ref.path)
            if isinstance(entry, str):
                out[ref] = SecretResult(None, entry)
            elif entry is None:
                out[ref] = SecretResult(None, f"Could not find secrets at path {ref.path}")
            else:
                out[ref] = SecretResult(entry, None)
        return out

    def close(self) -> None:
        self.closed += 1


class Factory:
    """Counts backend creations."""

    def __init__(self, backend: CountingBackend) -> None:
        self.backend = backend
        self.calls = 0

    def __call__(self) -> CountingBackend:
        self.calls += 1
        return self.backend


def _request(
    tmp_path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
    no_secrets: bool = False,
    mask: bool = False,
) -> RenderRequest:
    return RenderRequest(
        app_dir=tmp_path,
        repo_root=tmp_path,
        app=AppInfo("app"),
        secrets=SecretOptions(secrets_file=secrets_file, no_secrets=no_secrets, mask_secrets=mask),
        environ=dict(environ or {}),
    )


def _run(
    text: str,
    data: Mapping[str, Any],
    tmp_path: Path,
    **options: Any,
) -> tuple[str, CountingBackend]:
    backend = CountingBackend(data)
    docs = split_stream(text, "templates/app.yaml")
    out = substitute_documents(
        docs, _request(tmp_path, **options), backend_factory=Factory(backend)
    )
    return join_stream(out), backend


PLAIN_STREAM = """\
# Source: chart/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: plain   # a comment
data:
  html: "<b>bold</b> and <key>"
  path: 'a <path without colon'
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData:
  password: hunter2
"""


# ------------------------------------------------------------------ passthrough


def test_stream_without_placeholders_passes_through_without_a_backend(tmp_path: Path) -> None:
    docs = split_stream(PLAIN_STREAM, "x.yaml")
    factory = Factory(CountingBackend({}))
    environ = {"VAULT_ADDR": "http://127.0.0.1:9"}
    out = substitute_documents(docs, _request(tmp_path, environ=environ), backend_factory=factory)
    assert all(a is b for a, b in zip(out, docs, strict=True))
    assert factory.calls == 0
    # and without a factory, VAULT_ADDR alone does not make anything happen either
    again = substitute_documents(docs, _request(tmp_path, environ=environ))
    assert join_stream(again) == join_stream(docs)


def test_only_documents_with_placeholders_change(tmp_path: Path) -> None:
    text = PLAIN_STREAM + "---\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: <path:kv/a#k>\n"
    docs = split_stream(text, "x.yaml")
    backend = CountingBackend({"kv/a": {"k": "v"}})
    out = substitute_documents(docs, _request(tmp_path), backend_factory=Factory(backend))
    assert out[0] is docs[0]
    assert out[1] is docs[1]
    assert out[2] is not docs[2]
    assert out[2].text == "kind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: v\n"


def test_no_secrets_leaves_placeholders(tmp_path: Path) -> None:
    docs = [Document("kind: ConfigMap\ndata:\n  k: <path:kv/a#k | nonsense>\n", "x")]
    factory = Factory(CountingBackend({}))
    out = substitute_documents(docs, _request(tmp_path, no_secrets=True), backend_factory=factory)
    assert out == docs
    assert out[0] is docs[0]
    assert factory.calls == 0


def test_placeholders_without_a_backend_fail_with_exit_3(tmp_path: Path) -> None:
    docs = [Document("kind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: <path:kv/a#k>\n", "t.yaml")]
    with pytest.raises(BackendUnavailableError) as caught:
        substitute_documents(docs, _request(tmp_path))
    assert caught.value.exit_code == ExitCode.BACKEND_UNAVAILABLE
    assert "ConfigMap/c (t.yaml)" in str(caught.value)
    assert "--secrets-file" in str(caught.value)
    assert "VAULT_ADDR" in str(caught.value)


# ------------------------------------------------------------------ formatting


def test_formatting_comments_and_quoting_are_kept(tmp_path: Path) -> None:
    text = """\
# Source: chart/templates/deploy.yaml
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata:
  name: web
  annotations:
    z-last: "first in file"
    a-first: 'second'
spec:
  template:
    spec:
      containers:
        - name: app
          image: "registry/<path:kv/app#image>:1.0"   # image
          args: [--user, '<path:kv/app#user>', "--x"]
          env:
            - {name: A, value: <path:kv/app#user>}
            - name: B
              value: <path:kv/app#user>


            # keep this comment and the blank lines
            - name: C
              value: &anchor <path:kv/app#user>
            - name: D
              value: *anchor
"""
    out, _ = _run(text, {"kv/app": {"image": "web", "user": "alice"}}, tmp_path)
    expected = (
        text.replace('"registry/<path:kv/app#image>:1.0"', '"registry/web:1.0"')
        .replace("'<path:kv/app#user>'", "'alice'")
        .replace("value: <path:kv/app#user>}", "value: alice}")
        .replace("value: <path:kv/app#user>", "value: alice")
        .replace("&anchor <path:kv/app#user>", "&anchor alice")
    )
    assert out == expected
    env = yaml.safe_load(out)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [item["value"] for item in env] == ["alice"] * 4


def test_multi_line_value_becomes_a_block_scalar_in_block_context(tmp_path: Path) -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n\n  x\n-----END CERTIFICATE-----\n"
    text = (
        "kind: Secret\nmetadata:\n  name: tls\nstringData:\n"
        "  tls.crt: <path:kv/tls#crt>\n  tls.key: |-\n    <path:kv/tls#crt>\n"
        "  inline: [<path:kv/tls#crt>]\nafter: 1\n"
    )
    out, _ = _run(text, {"kv/tls": {"crt": cert}}, tmp_path)
    assert (
        "  tls.crt: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n\n      x\n"
        "    -----END CERTIFICATE-----\n  tls.key: |\n    -----BEGIN" in out
    )
    assert '  inline: ["-----BEGIN CERTIFICATE-----\\nMIIB' in out
    data = yaml.safe_load(out)
    assert data["stringData"] == {"tls.crt": cert, "tls.key": cert, "inline": [cert]}
    assert data["after"] == 1


INJECTIONS = [
    "a: b",
    "x\n---\nkind: Secret\nmetadata: {name: evil}",
    "'single' \"double\"",
    "# not a comment",
    "{flow: [1, 2]}",
    "  leading and trailing  ",
    "trailing newlines\n\n\n",
    "\nleading newline",
    "carriage\r\nreturn",
    "line\u2028separator and nel\x85",
    "tab\there",
    "- item",
    "*alias &anchor !tag %directive @at `tick` |pipe >gt",
    "true",
    "123",
    "null",
    "~",
    "",
    "\x00\x1f\x7f\ufeff control",
    "ünïcödé ✓",
    "ends with colon:",
    "key: |\n  block",
    ".inf",
    ".5",
    "NO",
    "y",
    "0o17",
    "1_000",
    "2001-12-14",
    "=",
    "<<",
    "...",
    "a,b",
    "x: y, z",
]

STYLES = {
    "plain": "v: <path:kv/a#k>",
    "single": "v: '<path:kv/a#k>'",
    "double": 'v: "<path:kv/a#k>"',
    "literal": "v: |\n  <path:kv/a#k>",
    "folded": "v: >-\n  <path:kv/a#k>",
    "flow-map": "v: {inner: <path:kv/a#k>}",
    "flow-seq": 'v: ["<path:kv/a#k>", x]',
    "seq-item": "v:\n- <path:kv/a#k>",
    "json": '{"v": "<path:kv/a#k>"}',
}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
def test_values_cannot_change_the_structure(style: str, value: str, tmp_path: Path) -> None:
    body = textwrap.indent(STYLES[style], "  ")
    text = f"kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  before: 1\n{body}\n  after: 2\n"
    if style == "json":
        text = STYLES[style] + "\n"
    out, _ = _run(text, {"kv/a": {"k": value}}, tmp_path)
    docs = list(yaml.safe_load_all(out))
    assert len(docs) == 1
    # a YAML 1.2 parser (as Kubernetes' Go YAML is) reads the same document
    assert list(YAML(typ="safe", pure=True).load_all(out)) == docs
    got = docs[0]
    if style != "json":
        got = got["data"]
        assert got["before"] == 1
        assert got["after"] == 2
    expected: Any = {
        "flow-map": {"inner": value},
        "flow-seq": [value, "x"],
        "seq-item": [value],
        "literal": value + "\n",  # "|" keeps the line break after the placeholder
    }.get(style, value)
    assert got["v"] == expected


def test_non_string_whole_values_replace_the_field(tmp_path: Path) -> None:
    text = (
        "kind: Deployment\nmetadata:\n  name: d\nspec:\n"
        "  replicas: <path:kv/a#n>\n"
        "  ports: <path:kv/a#ports | jsonParse>\n"
        "  flag: <path:kv/a#flag>\n"
        "  label: n=<path:kv/a#n>\n"
        "  obj: |\n    <path:kv/a#ports | yamlParse>\n"
        "  inflow: [<path:kv/a#n>, <path:kv/a#ports | jsonParse>]\n"
    )
    out, _ = _run(text, {"kv/a": {"n": 3, "ports": '[{"port": 80}]', "flag": True}}, tmp_path)
    assert yaml.safe_load(out)["spec"] == {
        "replicas": 3,
        "ports": [{"port": 80}],
        "flag": True,
        "label": "n=3",
        "obj": [{"port": 80}],
        "inflow": [3, [{"port": 80}]],
    }


# ------------------------------------------------------------------ JSON-escaped


def test_json_escaped_placeholder_in_a_scalar_gets_a_json_escaped_value(tmp_path: Path) -> None:
    # what `{{ toJson .Values | squote }}` leaves in a manifest
    value = 'he said "hi" <&> \\ \n done'
    text = (
        "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
        '  config.json: \'{"password":"\\u003cpath:kv/a#k\\u003e","n":1}\'\n'
    )
    out, _ = _run(text, {"kv/a": {"k": value}}, tmp_path)
    config = yaml.safe_load(out)["data"]["config.json"]
    assert json.loads(config) == {"password": value, "n": 1}
    assert "\\u003c\\u0026\\u003e" in config  # escaped the way Go (Helm's toJson) escapes


def test_json_escaped_placeholder_with_uppercase_hex_is_found(tmp_path: Path) -> None:
    # JSON allows either case of hex digit: \u003C...\u003E is the same placeholder
    text = (
        "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
        '  config.json: \'{"password":"\\u003Cpath:kv/a#k\\u003E"}\'\n'
    )
    assert "<path:" not in text and "u003cpath:" not in text
    out, backend = _run(text, {"kv/a": {"k": "s3cret"}}, tmp_path)
    assert json.loads(yaml.safe_load(out)["data"]["config.json"]) == {"password": "s3cret"}
    assert len(backend.reads) == 1


def test_json_escaped_placeholder_in_raw_json_text(tmp_path: Path) -> None:
    # a whole document written by toJson: YAML unescapes the string, the value is re-quoted
    text = (
        '{"kind": "Secret", "metadata": {"name": "s"}, '
        '"stringData": {"pw": "\\u003cpath:kv/a#k\\u003e"}}\n'
    )
    out, _ = _run(text, {"kv/a": {"k": 'q"uote'}}, tmp_path)
    assert yaml.safe_load(out)["stringData"]["pw"] == 'q"uote'


def test_json_escaped_with_modifier_and_non_string(tmp_path: Path) -> None:
    text = (
        "kind: ConfigMap\nmetadata: {name: c}\ndata:\n"
        '  a.json: \'{"x": "\\u003cpath:kv/a#obj | jsonParse\\u003e", '
        '"y": "\\u003cpath:kv/a#obj | jsonPath {.a}\\u003e"}\'\n'
    )
    out, _ = _run(text, {"kv/a": {"obj": '{"a": "<b>"}'}}, tmp_path)
    doc = json.loads(yaml.safe_load(out)["data"]["a.json"])
    assert doc == {"x": '{"a":"<b>"}', "y": "<b>"}


# ------------------------------------------------------------------ dedup and refs


def test_one_read_for_the_whole_stream_with_distinct_refs(tmp_path: Path) -> None:
    docs = []
    for index in range(30):
        docs.append(
            f"kind: Secret\nmetadata:\n  name: s{index}\n  annotations:\n"
            "    avp.kubernetes.io/path: secret/data/app\n"
            "stringData:\n  a: <user>\n  b: <path:secret/data/app#user>\n"
            "  c: <path:secret/data/app#user#2> <path:kv/other#x>\n"
        )
    docs.append(
        "kind: Secret\nmetadata:\n  name: v1\n  annotations:\n"
        '    avp.kubernetes.io/kv-version: "1"\n'
        "stringData:\n  a: <path:kv/other#x>\n"
    )
    data = {"secret/data/app": {"user": "u"}, "kv/other": {"x": "y"}}
    out, backend = _run("---\n".join(docs), data, tmp_path)
    assert len(backend.reads) == 1
    assert backend.closed == 1
    assert backend.reads[0] == {
        SecretRef("secret/data/app", None, None),
        SecretRef("secret/data/app", "2", None),
        SecretRef("kv/other", None, None),
        SecretRef("kv/other", None, 1),
    }
    assert out.count("c: u y\n") == 30


def test_secret_version_and_kv_version_reach_the_refs(tmp_path: Path) -> None:
    text = (
        "kind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        "    avp.kubernetes.io/path: kv/app\n"
        '    avp.kubernetes.io/secret-version: "4"\n'
        "stringData:\n  a: <k>\n  b: <path:kv/app#k>\n"
    )
    _, backend = _run(text, {"kv/app": {"k": "v"}}, tmp_path, environ={"AVP_KV_VERSION": "2"})
    assert backend.reads == [{SecretRef("kv/app", "4", 2), SecretRef("kv/app", None, 2)}]


def test_ignored_documents_read_nothing(tmp_path: Path) -> None:
    text = (
        "kind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        '    avp.kubernetes.io/ignore: "true"\n    avp.kubernetes.io/path: kv/app\n'
        "stringData:\n  a: <k>\n  b: <path:kv/app#k>\n"
    )
    docs = split_stream(text, "x")
    factory = Factory(CountingBackend({}))
    out = substitute_documents(docs, _request(tmp_path), backend_factory=factory)
    assert out[0] is docs[0]
    assert factory.calls == 0


def test_resolved_values_are_never_scanned_again(tmp_path: Path) -> None:
    text = "kind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: <path:kv/a#k>\n"
    out, backend = _run(text, {"kv/a": {"k": "<path:kv/b#k> \\u003cpath:kv/b#k\\u003e"}}, tmp_path)
    assert yaml.safe_load(out)["data"]["a"] == "<path:kv/b#k> \\u003cpath:kv/b#k\\u003e"
    assert len(backend.reads) == 1


# ------------------------------------------------------------------ masking


def test_mask_secrets_masks_every_context(tmp_path: Path) -> None:
    embedded = base64.b64encode(b"pw=<path:kv/a#k>").decode()
    text = (
        "kind: Secret\nmetadata:\n  name: s\ndata:\n"
        f"  embedded: {embedded}\n"
        "  encoded: <path:kv/a#k | base64encode>\n"
        "stringData:\n"
        "  plain: <path:kv/a#k>\n"
        "  inline: user:<path:kv/a#k>@host\n"
        "  number: <path:kv/a#n>\n"
        '  json: \'{"k": "\\u003cpath:kv/a#k\\u003e"}\'\n'
    )
    out, _ = _run(text, {"kv/a": {"k": SECRET, "n": 7}}, tmp_path, mask=True)
    assert SECRET not in out
    assert base64.b64encode(SECRET.encode()).decode() not in out
    doc = yaml.safe_load(out)
    assert base64.b64decode(doc["data"]["embedded"]) == b"pw=********"
    assert base64.b64decode(doc["data"]["encoded"]) == b"********"
    assert doc["stringData"]["plain"] == "********"
    assert doc["stringData"]["inline"] == "user:********@host"
    assert doc["stringData"]["number"] == "********"
    assert json.loads(doc["stringData"]["json"]) == {"k": "********"}


def test_mask_secrets_still_fails_on_missing_values(tmp_path: Path) -> None:
    text = "kind: Secret\nmetadata: {name: s}\nstringData:\n  a: <path:kv/a#missing>\n"
    with pytest.raises(SecretError, match="missing Vault value for placeholder missing"):
        _run(text, {"kv/a": {"k": SECRET}}, tmp_path, mask=True)


# ------------------------------------------------------------------ errors and leaks


@pytest.mark.parametrize(
    ("placeholder", "pattern"),
    [
        ("<path:kv/a#missing>", r"missing Vault value for placeholder missing in string data\.a"),
        ("<path:kv/none#k>", r"Could not find secrets at path kv/none"),
        ("<path:kv/denied#k>", r"permission denied for kv/denied"),
        ("<path:kv/a#k | jsonParse>", r"jsonParse: value is not valid JSON"),
        ("<path:kv/a#k | base64decode>", r"base64decode: value is not valid base64"),
        ("<path:kv/a#json | jsonPath {.nope}>", r"jsonPath: nope is not found"),
        ("<path:kv/a#json | jsonParse | base64encode>", r"base64encode: invalid datatype map"),
        ("<path:kv/a#k | yamlParse | jsonPath {.a}>", r"jsonPath"),
        ("<path:kv/a#k | indent 2 | jsonParse>", r"jsonParse"),
    ],
)
def test_secret_errors_name_document_and_placeholder_without_values(
    placeholder: str, pattern: str, tmp_path: Path
) -> None:
    text = f"kind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: x-{placeholder}\n"
    data = {
        "kv/a": {"k": SECRET + "!{[:", "json": '{"a": "' + SECRET + '"}'},
        "kv/denied": "permission denied for kv/denied",
    }
    with pytest.raises(SecretError, match=pattern) as caught:
        _run(text, data, tmp_path)
    message = str(caught.value)
    assert "ConfigMap/cm (templates/app.yaml)" in message
    assert SECRET not in message
    assert caught.value.exit_code == ExitCode.RENDER_FAILED
    assert "\n" not in message


@pytest.mark.parametrize(
    ("placeholder", "pattern"),
    [
        ("<path:kv/a>", "malformed placeholder <path:kv/a>"),
        ("<path:#k>", "empty path or key"),
        ("<path:kv/a#k#v2>", "version must be a number"),
        ("<path:kv/a#k#1#2>", "malformed placeholder"),
        ("<path:kv/a#k | upper>", "invalid modifier 'upper'"),
        ("<path:kv/a#k | indent>", "indent: invalid parameters"),
        ("<path:kv/a#k | indent x>", "indent: invalid indentation level"),
        ("<path:kv/a#k | base64encode 3>", "base64encode: invalid parameters"),
        ("<path:kv/a#k | jsonPath>", "jsonPath: invalid parameters"),
        ("<path:kv/a#k | jsonPath {!x}>", "unrecognized character in action"),
        ("<path:kv/a#k | | base64encode>", "empty modifier"),
    ],
)
def test_malformed_placeholders_are_input_errors(
    placeholder: str, pattern: str, tmp_path: Path
) -> None:
    text = f"kind: Secret\nmetadata:\n  name: s\nstringData:\n  a: '{placeholder}'\n"
    factory = Factory(CountingBackend({}))
    with pytest.raises(InputError, match=pattern) as caught:
        substitute_documents(
            split_stream(text, "t.yaml"), _request(tmp_path), backend_factory=factory
        )
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "Secret/s (t.yaml)" in str(caught.value)
    assert "stringData.a" in str(caught.value)
    assert factory.calls == 0


def test_generic_placeholders_need_the_path_annotation(tmp_path: Path) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: <html> <b>x</b>\n  b: <path:kv/a#k>\n"
    )
    out, _ = _run(text, {"kv/a": {"k": "v"}}, tmp_path)
    assert yaml.safe_load(out)["data"] == {"a": "<html> <b>x</b>", "b": "v"}


def test_bad_annotations_are_input_errors(tmp_path: Path) -> None:
    for annotation, pattern in (
        ('avp.kubernetes.io/kv-version: "3"', "KV version must be 1 or 2"),
        ('avp.kubernetes.io/secret-version: "latest"', "secret-version must be a number"),
    ):
        text = (
            f"kind: Secret\nmetadata:\n  name: s\n  annotations:\n    {annotation}\n"
            "stringData:\n  a: <path:kv/a#k>\n"
        )
        with pytest.raises(InputError, match=pattern):
            _run(text, {"kv/a": {"k": "v"}}, tmp_path)


def test_invalid_yaml_in_a_candidate_document_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"t.yaml: invalid YAML document at line 3"):
        substitute_documents(
            [Document("a: <path:kv/a#k>\nb: [unclosed\n", "t.yaml")], _request(tmp_path)
        )


def test_path_validation_refuses_before_any_backend(tmp_path: Path) -> None:
    text = "kind: Secret\nmetadata: {name: s}\nstringData:\n  a: <path:other/a#k>\n"
    factory = Factory(CountingBackend({}))
    environ = {"AVP_PATH_VALIDATION": r"^secret/data/[a-z-]+$"}
    with pytest.raises(PolicyError, match="other/a is disallowed by the AVP_PATH_VALIDATION"):
        substitute_documents(
            split_stream(text, "x"), _request(tmp_path, environ=environ), backend_factory=factory
        )
    assert factory.calls == 0
    with pytest.raises(InputError, match="AVP_PATH_VALIDATION"):
        substitute_documents(
            split_stream(text, "x"), _request(tmp_path, environ={"AVP_PATH_VALIDATION": "("})
        )


def test_remove_missing_still_fails_on_a_missing_path(tmp_path: Path) -> None:
    text = (
        "kind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        '    avp.kubernetes.io/remove-missing: "true"\n'
        "stringData:\n  a: <path:kv/none#k>\n"
    )
    with pytest.raises(SecretError, match="Could not find secrets at path kv/none"):
        _run(text, {}, tmp_path)


def test_remove_missing_keeps_list_items_strict(tmp_path: Path) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n"
        '    avp.kubernetes.io/remove-missing: "true"\n'
        "data:\n  a: <path:kv/a#missing>\n  b: ok\n"
    )
    out, _ = _run(text, {"kv/a": {"k": "v"}}, tmp_path)
    assert yaml.safe_load(out)["data"] == {"b": "ok"}


# ------------------------------------------------------------------ file backend end to end


def test_file_backend_end_to_end(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(
        "secret/data/app:\n  user: admin\n  port: 5432\n"
        "secret/app#1:\n  user: old\n"
        "/kv/legacy/:\n  token: abc\n"
    )
    text = (
        "kind: Secret\nmetadata:\n  name: s\nstringData:\n"
        "  user: <path:secret/app#user>\n"
        "  old: <path:secret/data/app#user#1>\n"
        "  port: <path:secret/data/app#port>\n"
        "  token: <path:kv/legacy#token>\n"
    )
    out = substitute_documents(split_stream(text, "x"), _request(tmp_path, secrets_file=secrets))
    assert yaml.safe_load(out[0].text)["stringData"] == {
        "user": "admin",
        "old": "old",
        "port": 5432,
        "token": "abc",
    }
    with pytest.raises(SecretError, match=r"The secret version 7 for Vault path secret/app is nil"):
        substitute_documents(
            [
                Document(
                    "kind: Secret\nmetadata: {name: s}\ndata:\n  a: <path:secret/app#user#7>\n", "x"
                )
            ],
            _request(tmp_path, secrets_file=secrets),
        )


# ------------------------------------------------------------------ Helm values


def test_resolve_values_substitutes_strings_and_keeps_the_input(tmp_path: Path) -> None:
    values = {
        "db": {"password": "<path:kv/db#pw>", "port": "<path:kv/db#port>", "plain": 3},
        "hosts": ["a", "user=<path:kv/db#user>"],
        "<path:kv/db#pw>": "keys stay",
        "escaped": '{"p":"\\u003cpath:kv/db#pw\\u003e"}',
    }
    original = json.loads(json.dumps(values))
    backend = CountingBackend({"kv/db": {"pw": 'p"w', "port": 5432, "user": "u"}})
    factory = Factory(backend)
    out = resolve_values(
        values, _request(tmp_path), source="app (Helm values)", backend_factory=factory
    )
    assert values == original
    assert out == {
        "db": {"password": 'p"w', "port": 5432, "plain": 3},
        "hosts": ["a", "user=u"],
        "<path:kv/db#pw>": "keys stay",
        "escaped": '{"p":"p\\"w"}',
    }
    assert len(backend.reads) == 1


def test_resolve_values_without_placeholders_is_free(tmp_path: Path) -> None:
    values = {"a": {"b": ["<html>", 1]}}
    factory = Factory(CountingBackend({}))
    assert resolve_values(values, _request(tmp_path), source="v", backend_factory=factory) is values
    assert factory.calls == 0


def test_resolve_values_errors_name_the_source(tmp_path: Path) -> None:
    backend = CountingBackend({"kv/db": {"pw": SECRET}})
    with pytest.raises(
        LspRenderError, match=r"app \(Helm values\): missing Vault value .* db\.x"
    ) as err:
        resolve_values(
            {"db": {"x": "<path:kv/db#nope>"}},
            _request(tmp_path),
            source="app (Helm values)",
            backend_factory=Factory(backend),
        )
    assert SECRET not in str(err.value)


# ------------------------------------------------------------------ policy and imports


def test_operator_policy_refuses_before_any_backend(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('projects:\n  team-a:\n    paths: ["secret/data/team-a/*"]\n')
    request = RenderRequest(
        app_dir=tmp_path,
        repo_root=tmp_path,
        app=AppInfo("web", project="team-a"),
        environ={"LSP_RENDER_POLICY": str(policy)},
    )
    allowed = "kind: Secret\nmetadata: {name: s}\nstringData:\n  a: <path:secret/team-a/db#pw>\n"
    backend = CountingBackend({"secret/team-a/db": {"pw": "x"}})
    out = substitute_documents(
        split_stream(allowed, "x"), request, backend_factory=Factory(backend)
    )
    assert yaml.safe_load(out[0].text)["stringData"] == {"a": "x"}
    refused = allowed.replace("team-a/db", "team-b/db")
    factory = Factory(CountingBackend({}))
    with pytest.raises(PolicyError, match="team-b/db"):
        substitute_documents(split_stream(refused, "x"), request, backend_factory=factory)
    assert factory.calls == 0


def test_importing_the_facade_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lsp_render.secrets as s; "
        "names = ('hvac', 'ruamel.yaml', 'jinja2', 'yaml', 'requests'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy)"
    )
    plugin = Path(__file__).resolve().parent.parent / "plugin"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(plugin), "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("{a: <path:kv/a#missing>, b: ok}", {"b": "ok"}),
        ("{b: ok, a: <path:kv/a#missing>}", {"b": "ok"}),
        ("{b: ok, a: <path:kv/a#missing>, c: <path:kv/a#k>}", {"b": "ok", "c": "v"}),
        ("{a: <path:kv/a#missing>}", {}),
    ],
)
def test_remove_missing_in_flow_mappings(
    data: str, expected: dict[str, str], tmp_path: Path
) -> None:
    text = (
        "kind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        f'    avp.kubernetes.io/remove-missing: "true"\nstringData: {data}\n'
    )
    out, _ = _run(text, {"kv/a": {"k": "v"}}, tmp_path)
    assert yaml.safe_load(out)["stringData"] == expected


def test_remove_missing_refuses_an_entry_sharing_its_line(tmp_path: Path) -> None:
    text = (
        "kind: Secret\nmetadata:\n  name: s\n  annotations:\n"
        '    avp.kubernetes.io/remove-missing: "true"\n'
        "stringData:\n  a: x\nlist:\n- a: <path:kv/a#k>\n  b: <path:kv/a#missing>\n"
        "other:\n- b: <path:kv/a#missing>\n"
    )
    with pytest.raises(InputError, match=r"cannot remove other\[0\]\.b"):
        _run(text, {"kv/a": {"k": "v"}}, tmp_path)


def test_json_manifest_stays_json(tmp_path: Path) -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"avp.kubernetes.io/path": "kv/a"}},
            "stringData": {
                "multi": "<path:kv/a#multi>",
                "port": "<port>",
                "obj": "<path:kv/a#json | jsonParse>",
                "dsn": "u:<path:kv/a#multi>@h",
            },
        },
        indent=2,
    )
    data = {"kv/a": {"multi": 'a\n"b"\t\u2028', "port": 80, "json": '{"x": [1]}'}}
    out, _ = _run(text + "\n", data, tmp_path)
    body = out.removeprefix("---\n")
    assert json.loads(body)["stringData"] == {
        "multi": 'a\n"b"\t\u2028',
        "port": 80,
        "obj": {"x": [1]},
        "dsn": 'u:a\n"b"\t\u2028@h',
    }
    assert body.splitlines()[:3] == ["{", '  "apiVersion": "v1",', '  "kind": "Secret",']
