"""Kubernetes JSONPath templates: cases and expected outputs from client-go's own jsonpath tests.

The expectations are the ones ``k8s.io/client-go/util/jsonpath/jsonpath_test.go`` checks.
Go structs there become mappings here, so where Go prints struct fields in declaration
order these tests expect the sorted order Go uses for maps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lsp_render.secrets.jsonpath import (
    JSONPath,
    JSONPathError,
    JSONPathSyntaxError,
    format_value,
    go_json,
    render,
)

TYPES: dict[str, Any] = {
    "bools": [True, False, True, False],
    "integers": [1, 2, 3, 4],
    "floats": [1.0, 2.2, 3.3, 4.0],
    "strings": ["one", "two", "three", "four"],
    "interfaces": [True, "one", 1, 1.1],
    "maps": [
        {"name": "one", "value": 1},
        {"name": "two", "value": 2.02},
        {"name": "three", "value": 3.03},
        {"name": "four", "value": 4.04},
    ],
}

STORE: dict[str, Any] = {
    "Name": "jsonpath",
    "Book": [
        {
            "Category": "reference",
            "Author": "Nigel Rees",
            "Title": "Sayings of the Centurey",
            "Price": 8.95,
        },
        {
            "Category": "fiction",
            "Author": "Evelyn Waugh",
            "Title": "Sword of Honour",
            "Price": 12.99,
        },
        {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99},
    ],
    "Bicycle": [
        {"Color": "red", "Price": 19.95, "IsNew": True},
        {"Color": "green", "Price": 20.01, "IsNew": False},
    ],
    "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
    "Employees": {"jason": "manager", "dan": "clerk"},
}

NODES = json.loads(
    """{
  "kind": "List",
  "items": [
    {"kind": "None",
     "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
     "status": {"capacity": {"cpu": "4"}, "ready": true,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]}},
    {"kind": "None",
     "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
     "status": {"capacity": {"cpu": "8"}, "ready": false,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.2"},
                              {"type": "another", "address": "127.0.0.3"}]}}
  ],
  "users": [
    {"name": "myself", "user": {}},
    {"name": "e2e", "user": {"username": "admin", "password": "secret"}}
  ]
}"""
)

POINTS = json.loads(
    """[
  {"id": "i1", "x": 4, "y": -5},
  {"id": "i2", "x": -2, "y": -5, "z": 1},
  {"id": "i3", "x": 8, "y": 3},
  {"id": "i4", "x": -6, "y": -1},
  {"id": "i5", "x": 0, "y": 2, "z": 1},
  {"id": "i6", "x": 1, "y": 4}
]"""
)

CONTAINERS = {
    "spec": {
        "containers": [{"image": "radial/busyboxplus:curl", "name": f"fake{i}"} for i in range(6)]
    }
}
FOUR = {"spec": {"containers": CONTAINERS["spec"]["containers"][:4]}}

NESTED = {
    "items": [
        {
            "metadata": {"name": "pod1"},
            "spec": {
                "containers": [
                    {"name": "foo", "another": [{"name": "value1"}, {"name": "value2"}]},
                    {"name": "bar", "another": [{"name": "value1"}, {"name": "value2"}]},
                ]
            },
        },
        {
            "metadata": {"name": "pod2"},
            "spec": {
                "containers": [{"name": "baz", "another": [{"name": "value1"}, {"name": "value2"}]}]
            },
        },
    ]
}

CASES: list[tuple[str, Any, str]] = [
    # TestTypesInput
    ("{ .bools }", TYPES, "[true,false,true,false]"),
    ("{ .bools[0] }", TYPES, "true"),
    ("{ .bools[-1] }", TYPES, "false"),
    ("{ .bools[0:2] }", TYPES, "true false"),
    ("{ .bools[:2] }", TYPES, "true false"),
    ("{ .bools[:4:2] }", TYPES, "true true"),
    ("{ .integers }", TYPES, "[1,2,3,4]"),
    ("{ .integers[0] }", TYPES, "1"),
    ("{ .integers[-2] }", TYPES, "3"),
    ("{ .integers[0:2] }", TYPES, "1 2"),
    ("{ .integers[:4:2] }", TYPES, "1 3"),
    ("{ .floats }", TYPES, "[1,2.2,3.3,4]"),
    ("{ .floats[0] }", TYPES, "1"),
    ("{ .floats[-2] }", TYPES, "3.3"),
    ("{ .floats[:4:2] }", TYPES, "1 3.3"),
    ("{ .strings }", TYPES, '["one","two","three","four"]'),
    ("{ .strings[-2] }", TYPES, "three"),
    ("{ .strings[:4:2] }", TYPES, "one three"),
    ("{ .interfaces }", TYPES, '[true,"one",1,1.1]'),
    ("{ .interfaces[-2] }", TYPES, "1"),
    ("{ .interfaces[0:2] }", TYPES, "true one"),
    ("{ .interfaces[:4:2] }", TYPES, "true 1"),
    (
        "{ .maps }",
        TYPES,
        '[{"name":"one","value":1},{"name":"two","value":2.02},'
        '{"name":"three","value":3.03},{"name":"four","value":4.04}]',
    ),
    ("{ .maps[0] }", TYPES, '{"name":"one","value":1}'),
    ("{ .maps[-2] }", TYPES, '{"name":"three","value":3.03}'),
    ("{ .maps[::2] }", TYPES, '{"name":"one","value":1} {"name":"three","value":3.03}'),
    ("{ .maps[1::2] }", TYPES, '{"name":"two","value":2.02} {"name":"four","value":4.04}'),
    # TestStructInput
    ("hello jsonpath", None, "hello jsonpath"),
    ("{..}", [1, 2, 3], "[1,2,3]"),
    ("{[?(@<5)]}", [2, 6, 3, 7], "2 3"),
    ('{"{"}', None, "{"),
    ("{[1,3,4]}", [0, 1, 2, 3, 4], "1 3 4"),
    ("{[0:2]}", ["Monday", "Tudesday"], "Monday Tudesday"),
    ("hello {.Name}", STORE, "hello jsonpath"),
    ("{$.Labels.web/html}", STORE, "15"),
    ("{$.Employees.jason}", STORE, "manager"),
    ("{$.Employees.dan}", STORE, "clerk"),
    ("{.Labels.k8s-app}", STORE, "20"),
    ("{.Bicycle[*].Color}", STORE, "red green"),
    ("{.Book[*].Author}", STORE, "Nigel Rees Evelyn Waugh Herman Melville"),
    (
        '{range .Bicycle[*]}{ "{" }{ @.* }{ "} " }{end}',
        STORE,
        "{red true 19.95} {green false 20.01} ",
    ),
    (
        '{range .Bicycle[*]}{ @ }{ " " }{end}',
        STORE,
        '{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01} ',
    ),
    (
        "{.Book[-1:]}",
        STORE,
        '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}',
    ),
    (
        "{..Book[2]}",
        STORE,
        '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}',
    ),
    ("{.Bicycle[?(@.IsNew==true)]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("{.Bicycle[?(@.Color=~'.*ed.*')]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("{.Bicycle[?(@.Color=~'^g.*en.*')]}", STORE, '{"Color":"green","IsNew":false,"Price":20.01}'),
    # TestJSONInput
    ("{[?(@.z)].id}", POINTS, "i2 i5"),
    ("{[0]['id']}", POINTS, "i1"),
    # TestKubernetes
    ("{range .items[*]}{.metadata.name}, {end}{.kind}", NODES, "127.0.0.1, 127.0.0.2, List"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{end}', NODES, "127.0.0.1\t127.0.0.2\t"),
    ("{.items[*].status.addresses[*].address}", NODES, "127.0.0.1 127.0.0.2 127.0.0.3"),
    (
        "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
        NODES,
        "127.0.0.1, 127.0.0.2, 127.0.0.3, ",
    ),
    ("{.items[*].metadata.name}", NODES, "127.0.0.1 127.0.0.2"),
    (
        "{.items[*]['metadata.name', 'status.capacity']}",
        NODES,
        '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}',
    ),
    (
        "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
        NODES,
        '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] ',
    ),
    ('{.users[?(@.name=="e2e")].user.password}', NODES, "secret"),
    ("{.items[0].metadata.labels.kubernetes\\.io/hostname}", NODES, "127.0.0.1"),
    ('{.items[?(@.metadata.labels.kubernetes\\.io/hostname=="127.0.0.1")].kind}', NODES, "None"),
    ("{.items[?(@..ready==true)].metadata.name}", NODES, "127.0.0.1"),
    # TestNestedRanges
    (
        '{range .items[*]}{.metadata.name}{":"}'
        '{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}',
        NESTED,
        "pod1:foo,bar,+pod2:baz,+",
    ),
    (
        '{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}'
        '{range @.another[*]}{.name}{","}{end}{"+"}{end}{"#"}{end}',
        NESTED,
        "pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#",
    ),
    (
        '{range .items[*]}{.metadata.name}{"\\t"}{range @.spec.containers[*]}{.name}{" "}{end}'
        '{"\\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\\n"}{end}',
        NESTED,
        "pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n",
    ),
    # TestNegativeIndex
    ("{.spec.containers[0].name}", FOUR, "fake0"),
    ("{.spec.containers[0:0].name}", FOUR, ""),
    ("{.spec.containers[0:-1].name}", FOUR, "fake0 fake1 fake2"),
    ("{.spec.containers[-1].name}", FOUR, "fake3"),
    ("{.spec.containers[-1:].name}", FOUR, "fake3"),
    ("{.spec.containers[-2].name}", FOUR, "fake2"),
    ("{.spec.containers[-2:].name}", FOUR, "fake2 fake3"),
    ("{.spec.containers[-3].name}", FOUR, "fake1"),
    ("{.spec.containers[-4].name}", FOUR, "fake0"),
    ("{.spec.containers[-4:].name}", FOUR, "fake0 fake1 fake2 fake3"),
    ("{.spec.containers[5:5].name}", FOUR, ""),
    ("{.spec.containers[-5:-5].name}", FOUR, ""),
    # TestStep
    ("{.spec.containers[0:].name}", CONTAINERS, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[0:6:].name}", CONTAINERS, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[0:6:1].name}", CONTAINERS, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[1:4:2].name}", CONTAINERS, "fake1 fake3"),
    ("{.spec.containers[1:4:3].name}", CONTAINERS, "fake1"),
    ("{.spec.containers[1:4:4].name}", CONTAINERS, "fake1"),
    ("{.spec.containers[0:6:2].name}", CONTAINERS, "fake0 fake2 fake4"),
    ("{.spec.containers[0:6:3].name}", CONTAINERS, "fake0 fake3"),
    ("{.spec.containers[0:6:5].name}", CONTAINERS, "fake0 fake5"),
    ("{.spec.containers[0:6:6].name}", CONTAINERS, "fake0"),
    # TestEmptyRange (missing keys allowed there; an empty range touches nothing)
    ("{range .items[*]}{.metadata.name}{end}", {"items": []}, ""),
]


@pytest.mark.parametrize(("template", "data", "expected"), CASES)
def test_client_go_expectations(template: str, data: Any, expected: str) -> None:
    assert render(template, data) == expected


@pytest.mark.parametrize(
    ("template", "data"),
    [
        ("{.Bicycle[?(@.IsNew=~'.*ue')]}", STORE),
        ("{.Bicycle[?(@.Price=~'.*95')]}", STORE),
        ("{.spec.containers[-1:0].name}", FOUR),
        ("{.spec.containers[-5].name}", FOUR),
        ("{.spec.containers[3:1].name}", FOUR),
        ("{.spec.containers[-1:-2].name}", FOUR),
        ("{.spec.containers[0:6:0].name}", CONTAINERS),
        ("{.spec.containers[0:6:-1].name}", CONTAINERS),
        (
            '{.items[?(@.metadata.annotations.color=="blue")].metadata.name}',
            {
                "items": [
                    {"metadata": {"name": "p1", "annotations": {"color": "blue"}}},
                    {"metadata": {"name": "p2"}},
                ]
            },
        ),
    ],
)
def test_client_go_execution_errors(template: str, data: Any) -> None:
    with pytest.raises(JSONPathError):
        render(template, data)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{hello}", "unrecognized identifier hello"),
        ("{.hello}", "hello is not found"),
        ("{.Labels[0]}", "is not array or slice"),
        ("{.Book[?(@.Price<>10)]}", "unrecognized filter operator <>"),
        ("{range .Labels.*}{@}{end}{end}", "not in range, nothing to end"),
    ],
)
def test_client_go_error_messages(template: str, message: str) -> None:
    with pytest.raises(JSONPathError, match=message):
        render(template, STORE)


@pytest.mark.parametrize(
    "template",
    [
        "{!invalidPath}",
        "{.a",
        "{.a\n}",
        "{.a[1}",
        "{....Price}",
        "{.a[x]}",
        '{"abc}',
        "{[?(@.a==1]}",
    ],
)
def test_syntax_errors(template: str) -> None:
    with pytest.raises(JSONPathSyntaxError):
        JSONPath.parse(template)


def test_avp_unrecognized_character_message() -> None:
    with pytest.raises(JSONPathSyntaxError, match="unrecognized character in action: U\\+0021"):
        JSONPath.parse("{!invalidPath}")


def test_missing_keys_allowed() -> None:
    assert render("{.hello}", STORE, allow_missing_keys=True) == ""
    assert render("before-{.hello}after", STORE, allow_missing_keys=True) == "before-after"
    data = {
        "items": [
            {"status": {"phase": "Running"}, "metadata": {"name": "pod1"}},
            {"resourceVersion": ""},
        ]
    }
    template = '{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\\n"}{end}'
    assert render(template, data, allow_missing_keys=True) == "pod1 is Running\n"


def test_recursive_descent_collects_every_level() -> None:
    assert sorted(render("{..name}", NODES).split()) == ["127.0.0.1", "127.0.0.2", "e2e", "myself"]
    assert sorted(render("{..Price}", STORE).split()) == ["12.99", "19.95", "20.01", "8.95", "8.99"]
    assert sorted(render("{...Price}", STORE).split()) == [
        "12.99",
        "19.95",
        "20.01",
        "8.95",
        "8.99",
    ]


def test_multi_line_template_with_text_between_actions() -> None:
    data = {"users": [{"name": "a", "pw": "x"}, {"name": "b", "pw": "y"}]}
    template = "users:\n{range .users[*]}- {.name}={.pw}\n{end}done {'['}{\"]\"}"
    assert render(template, data) == "users:\n- a=x\n- b=y\ndone []"


def test_whole_object_and_nulls() -> None:
    assert render("{.}", {"b": 1, "a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e","b":1}'
    assert render("{.a}", {"a": None}) == "null"
    assert render("{$}", [1]) == "[1]"


def test_numbers_print_like_go() -> None:
    assert format_value(1000000.0) == "1e+06"
    assert format_value(123456.0) == "123456"
    assert format_value(0.0001) == "0.0001"
    assert format_value(0.00001) == "1e-05"
    assert format_value(1000000) == "1000000"
    assert go_json([1e21, 1e-7, 0.5, 100.0]) == "[1e+21,1e-7,0.5,100]"


def test_filters_compare_numbers_and_strings() -> None:
    assert render("{[?(@.x>0)].id}", POINTS) == "i1 i3 i6"
    assert render("{[?(@.x>=0)].id}", POINTS) == "i1 i3 i5 i6"
    assert render('{[?(@.id!="i1")].x}', POINTS) == "-2 8 -6 0 1"
    assert render("{[?(@.y<=-5)].id}", POINTS) == "i1 i2"
    assert render("{[?(@.x<0.5)].id}", POINTS) == "i2 i4 i5"
    with pytest.raises(JSONPathError, match="incompatible types"):
        render('{[?(@.x=="4")].id}', POINTS)


def test_quoted_literals_use_go_escapes() -> None:
    assert render('{"\\u00e9\\x41\\101\\n"}', None) == "éAA\n"
    assert render("{'['}{']'}", None) == "[]"


def test_wildcard_over_map_is_sorted() -> None:
    assert render("{.Employees.*}", STORE) == "clerk manager"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # the examples of kubectl's JSONPath reference page, over its sample input
        ("kind is {.kind}", "kind is List"),
        ("{@}", None),
        ("{.kind}", "List"),
        ("{['kind']}", "List"),
        ("{.users[0].name}", "myself"),
        ("{.items[*].metadata.name}", "127.0.0.1 127.0.0.2"),
        ('{.users[?(@.name=="e2e")].user.password}', "secret"),
        ("{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}", None),
        ("{'{'}", "{"),
        ('{"}"}', "}"),
    ],
)
def test_kubectl_reference_examples(template: str, expected: str | None) -> None:
    out = render(template, NODES)
    if template == "{@}":
        assert json.loads(out) == NODES
    elif expected is None:
        assert out == '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] '
    else:
        assert out == expected


def test_unknown_identifiers_fail_at_parse_time() -> None:
    with pytest.raises(JSONPathSyntaxError, match="unrecognized identifier hello"):
        JSONPath.parse("{hello}")
    with pytest.raises(JSONPathSyntaxError, match="not in range, nothing to end"):
        JSONPath.parse("{end}")
    assert JSONPath.parse("{range .a[*]}{@}").execute({"a": [1, 2]}) == "12"
