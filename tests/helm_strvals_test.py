"""The --set parser: same results as Helm's own parser, and ParseInto's layering."""

from __future__ import annotations

import json
from typing import Any

import helm_python
import pytest

from lsp_render.core.errors import InputError
from lsp_render.sources.helm import render_chart
from lsp_render.sources.helm.strvals import SetValueError, parse_into
from tests.helm_fixtures import embedded_only, inputs, objects

__all__ = ["embedded_only"]

EXPRESSIONS = [
    "a=1",
    "a=1,b=two,c=true,d=FALSE,e=null,f=0,g=007,h=-12,i=+5,j=1.5,k=",
    "name=value,nested.deep.key=x,nested.other=y",
    "list={a,b,3},empty={},single={x}",
    "list={a,b},after=1",
    "list={a}x=2",
    "a[0]=x,a[2]=z",
    "a[1].name=n,a[1].port=80",
    "a[0][1]=x",
    "a[0].b[1].c=d",
    r"escaped\.dot=1,comma=a\,b,back=c\\d",
    "url=https://example.org/a?b=c",
    "big=99999999999999999999,neg=-0,space= x",
    "dup=1,dup=2",
    "a.b=1,a.c.d=2,a.b=3",
    "trailing=x,",
    "a[0]",
    "key",
    "a.b",
    "a=1,,b=2",
    "a.=1",
    "a[x]=1",
    "a[-1]=1",
    "a[0]x=1",
    "list={a,b",
]


def _native(expression: str) -> tuple[str, Any]:
    try:
        return "ok", helm_python.parse_set_string(expression)
    except helm_python.HelmError as exc:
        return "error", str(exc)


def _ours(expression: str) -> tuple[str, Any]:
    try:
        return "ok", parse_into(expression, {})
    except SetValueError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_matches_helms_own_parser(expression: str) -> None:
    status, native = _native(expression)
    ours_status, ours = _ours(expression)
    assert ours_status == status
    if status == "ok":
        assert json.loads(json.dumps(ours)) == native
    else:
        assert ours == native


def test_parse_into_patches_existing_values() -> None:
    base = {"list": ["a", {"name": "b", "port": 1}], "m": {"keep": 1}, "s": "scalar"}
    result = parse_into("list[1].port=2,list[3]=d,m.add=2", base)
    assert result == {
        "list": ["a", {"name": "b", "port": 2}, None, "d"],
        "m": {"keep": 1, "add": 2},
        "s": "scalar",
    }
    assert base["list"][1] == {"name": "b", "port": 1}  # not modified
    assert parse_into("list={x}", base)["list"] == ["x"]


def test_key_path_through_a_scalar_fails_as_in_helm() -> None:
    with pytest.raises(SetValueError) as caught:
        parse_into("s.x=1", {"s": "scalar"})
    assert str(caught.value) == (
        "unable to parse key: interface conversion: interface {} is string, "
        "not map[string]interface {}"
    )
    with pytest.raises(SetValueError, match=r"is map\[string\]interface \{\}, not \[\]interface"):
        parse_into("m[0]=1", {"m": {"a": 1}})


def _values(docs: list[Any]) -> dict[str, Any]:
    for obj in objects(docs):
        if isinstance(obj, dict) and obj["metadata"]["name"] == "capabilities":
            values: dict[str, Any] = json.loads(obj["data"]["values.json"])
            return values
    raise AssertionError("no capabilities ConfigMap")


@pytest.mark.usefixtures("embedded_only")
def test_set_index_patches_a_list_from_the_user_values() -> None:
    docs = render_chart(
        inputs("lsp-order", values={"list": ["user-1", "user-2"]}, set_values=("list[1]=set-2",))
    )
    assert _values(docs)["list"] == ["user-1", "set-2"]
    # Chart defaults are not user values: Helm's --set list then replaces the default list.
    assert _values(render_chart(inputs("lsp-order", set_values=("list[1]=set-2",))))["list"] == [
        None,
        "set-2",
    ]


@pytest.mark.usefixtures("embedded_only")
def test_set_through_a_scalar_value_is_an_input_error() -> None:
    with pytest.raises(
        InputError, match=r"^chart lsp-order: failed parsing --set 'layered.x.y=\.\.\.'"
    ):
        render_chart(
            inputs("lsp-order", values={"layered": {"x": "s"}}, set_values=("layered.x.y=1",))
        )
