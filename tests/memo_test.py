"""TextMemo: what a text parses to, bounded by the length of the texts held."""

from __future__ import annotations

from lsp_render.core.memo import TextMemo


def test_the_least_recently_used_texts_go_first_past_the_bound() -> None:
    memo: TextMemo[str, int] = TextMemo(10)
    memo.put("aaaa", 1)
    memo.put("bbbb", 2)
    assert memo.get("aaaa") == 1  # read again: now the most recent
    memo.put("cccc", 3)  # 12 characters: the oldest, "bbbb", goes
    assert memo.get("bbbb") is None
    assert memo.get("aaaa") == 1
    assert memo.get("cccc") == 3


def test_a_text_longer_than_the_bound_is_still_kept_alone() -> None:
    memo: TextMemo[bytes, str] = TextMemo(4)
    memo.put(b"ab", "x")
    memo.put(b"0123456789", "y")
    assert memo.get(b"ab") is None
    assert memo.get(b"0123456789") == "y"
    memo.put(b"0123456789", "z")  # the same text again replaces, counts once
    memo.put(b"cd", "w")
    assert memo.get(b"0123456789") is None
    assert memo.get(b"cd") == "w"
