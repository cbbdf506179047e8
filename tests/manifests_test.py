from __future__ import annotations

import random

import pytest

from lsp_render.core.manifests import Document, encode_stream, is_blank, join_stream, split_stream


def test_split_keeps_each_document_byte_for_byte() -> None:
    text = "a: 1  # kept\n\n---\nb: |\n  x\n  ---y\n---   # comment\nc: 3\n"
    docs = split_stream(text, "f.yaml")
    assert [d.text for d in docs] == ["a: 1  # kept\n\n", "b: |\n  x\n  ---y\n", "c: 3\n"]
    assert all(d.source == "f.yaml" for d in docs)


def test_empty_and_comment_only_documents_are_dropped_unless_asked() -> None:
    text = "---\n---\n# only a comment\n---\nkind: A\n...\n"
    assert [d.text for d in split_stream(text, "s")] == ["kind: A\n"]
    assert len(split_stream(text, "s", keep_blank=True)) == 2


def test_inline_content_after_separator_and_directives() -> None:
    docs = split_stream("%YAML 1.2\n--- {kind: A}\n--- !!map\nkind: B\n", "s")
    assert [d.text for d in docs] == ["{kind: A}\n", "!!map\nkind: B\n"]


def test_join_adds_separators_and_round_trips() -> None:
    docs = [Document("a: 1\n", "x"), Document("b: 2\n", "y")]
    joined = join_stream(docs)
    assert joined == "---\na: 1\n---\nb: 2\n"
    assert split_stream(joined, "x") == [Document("a: 1\n", "x"), Document("b: 2\n", "x")]


def test_a_split_stream_joins_back_to_its_bytes() -> None:
    for text in (
        "a: 1\n---\nb: 2\n",  # kustomize build: no leading separator
        "---\n# Source: c/crds/x.yaml\n# a comment\n---\nkind: A\n\n---\nkind: B\n",  # helm
        "--- # first\na: 1\n---   \nb: 2\n\n\n",
        "\n---\n# Source: hooks only\nkind: Job\n",
    ):
        docs = split_stream(text, "s", keep_blank=True)
        assert join_stream(docs) == text
        assert join_stream(d.with_text(d.text) for d in docs) == text
    # A document that loses its place as the first one gets a separator back.
    first, second = split_stream("a: 1\n---\nb: 2\n", "s")
    assert first.separator == ""
    assert join_stream([second, first]) == "---\nb: 2\n---\na: 1\n"


def test_missing_final_newline_is_added_once() -> None:
    assert split_stream("a: 1", "s")[0].text == "a: 1\n"
    assert Document("a: 1\n", "s").with_text("b: 2").text == "b: 2\n"


def test_is_blank() -> None:
    assert is_blank("\n  # x\n\n")
    assert not is_blank("# x\na: 1\n")


_PIECES = (
    "---", "--- ", "---\t", "--- # c", "--- {kind: A}", "---x", "----", " ---", "a: 1", "# c",
    "", "  ", "\t", "  # x", "- x", "b:", ":", "kind: List",
)  # fmt: skip


def _generated(count: int) -> list[str]:
    rng = random.Random(20261129)
    return [
        "".join(
            rng.choice(_PIECES) + rng.choice(("\n", "\n", "")) for _ in range(rng.randint(0, 9))
        )
        for _ in range(count)
    ]


def test_the_one_scan_split_agrees_with_the_line_by_line_split() -> None:
    # A "..." end marker sends a text through the line-by-line pass; after the last
    # document it changes nothing, so both passes must find the same documents.
    for text in _generated(20_000):
        slow = text + ("...\n" if text.endswith("\n") or not text else "\n...\n")
        for keep_blank in (False, True):
            fast_docs = split_stream(text, "s", keep_blank=keep_blank)
            assert fast_docs == split_stream(slow, "s", keep_blank=keep_blank), repr(text)
        assert is_blank(text) == is_blank(text + "\r"), repr(text)


@pytest.mark.parametrize(
    "texts",
    [
        ["a: 1\n", "b: 2\n"],
        ["a: caf\u00e9\n", "b: 2\n"],
        ["a: \u201cquoted\u201d\n", "b: 2\n", "c: \U0001f600\n"],
        ["", "a: 1\n"],
    ],
)
def test_encode_stream_is_the_joined_stream_in_utf8(texts: list[str]) -> None:
    docs = [Document(text, "x", "---\n" if index else "") for index, text in enumerate(texts)]
    docs.append(Document("z: 3\n", "x", "--- # kept\n"))
    assert encode_stream(docs) == join_stream(docs).encode("utf-8")
    assert encode_stream([]) == b""
