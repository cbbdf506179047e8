"""Where ``avp.kubernetes.io/remove-missing`` cuts a mapping entry out of a document's text.

A block-mapping entry goes as whole lines; entries of a flow mapping go in runs of
neighbours, commas included, so that any set of removed entries gives disjoint
spans and a mapping that still parses.
"""

from __future__ import annotations

import yaml

__all__ = ["block_entry_span", "flow_removal_spans"]


def _line_rest(text: str, index: int) -> str:
    end = text.find("\n", index)
    return text[index : end if end >= 0 else len(text)]


def block_entry_span(
    text: str, key_node: yaml.Node, value_node: yaml.Node
) -> tuple[int, int] | None:
    """Return the span of a block-mapping entry as whole lines, or None when it shares a line.

    Parameters
    ----------
    text
        The document's text.
    key_node, value_node
        The entry.

    Returns
    -------
    tuple of int or None
        ``(start, end)`` from the start of the key's line to after the value's line.
    """
    start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    if text[start : key_node.start_mark.index].strip():
        return None
    end = value_node.end_mark.index
    if end > 0 and text[end - 1] != "\n":
        rest = _line_rest(text, end)
        if rest.strip() and not rest.lstrip().startswith("#"):
            return None
        end = min(len(text), end + len(rest) + 1)
    return start, end


def flow_removal_spans(
    text: str, entries: list[tuple[yaml.Node, yaml.Node]], removed: list[int]
) -> list[tuple[int, int]]:
    """Return the spans that cut entries out of a flow mapping, one per run of adjacent entries.

    A run followed by a kept entry goes from its first key to that entry's key (its
    commas and comments with it); a run that ends the mapping goes from the end of
    the entry before it; a run of every entry leaves ``{}``. The spans are disjoint
    by construction, however many neighbours go.

    Parameters
    ----------
    text
        The document's text.
    entries
        The mapping's (key, value) nodes, in order.
    removed
        The positions of the entries to cut, ascending.

    Returns
    -------
    list of tuple of int
        ``(start, end)`` spans, ascending and disjoint.
    """
    spans: list[tuple[int, int]] = []
    last = len(entries) - 1
    index = 0
    while index < len(removed):
        first = removed[index]
        while index + 1 < len(removed) and removed[index + 1] == removed[index] + 1:
            index += 1
        end_entry = removed[index]
        index += 1
        if end_entry < last:
            spans.append(
                (entries[first][0].start_mark.index, entries[end_entry + 1][0].start_mark.index)
            )
        elif first > 0:
            spans.append(
                (entries[first - 1][1].end_mark.index, entries[end_entry][1].end_mark.index)
            )
        else:
            end = entries[end_entry][1].end_mark.index
            after = end
            while after < len(text) and text[after] in " \t\r\n":
                after += 1
            if after < len(text) and text[after] == ",":
                end = after + 1
            spans.append((entries[0][0].start_mark.index, end))
    return spans
